/**
 * What the PostgreSQL store keeps in a pg-boss job: the delivery and its event (its request,
 * once planned, is in the plan table).
 * @internal
 * @packageDocumentation
 */
import { endpointIdOf } from '../../events/deliveryId.js';
import type { ServiceEvent } from '../../events/serviceEvent.js';
import { decodeEventText } from '../codec.js';
import type { JournaledDelivery, JournaledJobData } from '../journaledDeliveries.js';
import { jobIdOf } from './jobId.js';

/** The data of a job. @internal */
export type JobData = JournaledJobData & {
  /** Set on a requeued dead letter whose request is in the plan table (a retry's is found by its attempt count). */
  readonly planned?: true;
};

/**
 * A job as the store inserts it: its id keeps a lane's journal order, its singleton key is the
 * lane, its group is the endpoint (a fetch leaves out the endpoints whose slots are full).
 * @internal
 */
export type NewJob = { readonly id: string; readonly data: JobData; readonly singletonKey: string; readonly group: { readonly id: string } };

/** A job fetched to run: its claim (id and attempt) fences what settles it. @internal */
export type Claim = { readonly id: string; readonly retryCount: number };

/** A pg-boss job the store's handler fails and pg-boss retries itself (an interrupted attempt) waits this long. @internal */
export const INTERRUPTED_RETRY_SECONDS = 1;
/** Attempts pg-boss may start on a job: the pipeline's retry policy decides, this only has to be out of its reach. @internal */
export const RETRY_LIMIT = 1_000_000;

/** How long pg-boss keeps a completed job (its event is read from there by the other instances' outcome readers). @internal */
export const COMPLETED_JOB_RETENTION_SECONDS = 3_600;

/** The job of a journaled delivery. @internal */
export function newJob(delivery: JournaledDelivery<unknown>): NewJob {
  const { event, encoded, endpoint, key, deliveryId, acceptedAt } = delivery;
  return { id: jobIdOf(event.eventId, endpoint), singletonKey: key, group: { id: endpointIdOf(endpoint) }, data: { v: 1, deliveryId, endpoint, key, acceptedAt, event: encoded } };
}

/**
 * The NOTIFY payload of new jobs: `journal:`, their endpoints' ids (their groups), `|` and the
 * JSON array of their lanes, so that an instance whose slots for all of them are full, or that
 * holds a delivery of each of their lanes (pg-boss hands out none of a lane's others meanwhile),
 * need not fetch; without the lanes, or plain `journal`, when too long for a payload. The outbox's
 * move inside the database builds the same in SQL ({@link JOURNAL_PAYLOAD_MAX} included). @internal
 */
export function journalPayload(jobs: readonly NewJob[]): string {
  const endpoints = `${JOURNAL_PAYLOAD_PREFIX}${[...new Set(jobs.map((job) => job.group.id))].join(',')}`;
  const withLanes = `${endpoints}${LANES_SEPARATOR}${JSON.stringify([...new Set(jobs.map((job) => job.singletonKey))])}`;
  if (Buffer.byteLength(withLanes) <= JOURNAL_PAYLOAD_MAX) return withLanes;
  return endpoints.length <= JOURNAL_PAYLOAD_MAX ? endpoints : 'journal';
}

/** Between a journal payload's endpoint ids (which never hold it) and its lanes. @internal */
export const LANES_SEPARATOR = '|';

/** What a journal payload naming endpoints starts with. @internal */
export const JOURNAL_PAYLOAD_PREFIX = 'journal:';

/** Longest journal payload naming endpoints or lanes, in bytes (PostgreSQL takes up to 8,000). @internal */
export const JOURNAL_PAYLOAD_MAX = 7_000;

/** The endpoint ids a journal payload names; `null` when it names none (any endpoint may have new jobs). @internal */
export function endpointIdsOfPayload(payload: string): readonly string[] | null {
  if (!payload.startsWith(JOURNAL_PAYLOAD_PREFIX)) return null;
  const ids = payload.slice(JOURNAL_PAYLOAD_PREFIX.length).split(LANES_SEPARATOR, 1)[0]?.split(',').filter((id) => id !== '') ?? [];
  return ids.length > 0 ? ids : null;
}

/** The lanes a journal payload names; `null` when it names none (any lane may have new jobs). @internal */
export function lanesOfPayload(payload: string): readonly string[] | null {
  const at = payload.startsWith(JOURNAL_PAYLOAD_PREFIX) ? payload.indexOf(LANES_SEPARATOR) : -1;
  if (at < 0) return null;
  try {
    const lanes: unknown = JSON.parse(payload.slice(at + 1));
    return Array.isArray(lanes) && lanes.length > 0 && lanes.every((lane) => typeof lane === 'string') ? (lanes as string[]) : null;
  } catch {
    return null;
  }
}

/** Jobs and event bytes written in one insert at most (see nextBatch). @internal */
export const INSERT_BATCH = { maxJobs: 1_000, maxBytes: 1024 * 1024 } as const;

/**
 * The same for the first insert after the journal was idle: a burst of a thousand hook calls
 * fills the buffer before its first write, and a full batch (370 of the bench's jobs) took
 * PostgreSQL 40–70 ms before any of them could be fetched. @internal
 */
export const FIRST_INSERT_BATCH = { maxJobs: 64, maxBytes: 256 * 1024 } as const;

/** The event a job holds, or `null` when it cannot be read. @internal */
export function decodeEventOrNull<R>(encoded: string): ServiceEvent<R> | null {
  try {
    return decodeEventText<R>(encoded);
  } catch {
    return null;
  }
}
