/**
 * What the PostgreSQL store keeps in a pg-boss job: the delivery and its event (its request,
 * once planned, is in the plan table).
 * @internal
 * @packageDocumentation
 */
import { endpointIdOf } from '../../events/deliveryId.js';
import type { ServiceEvent } from '../../events/serviceEvent.js';
import { decodeEvent } from '../codec.js';
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

/** The job of a journaled delivery. @internal */
export function newJob(delivery: JournaledDelivery<unknown>): NewJob {
  const { event, encoded, endpoint, key, deliveryId, acceptedAt } = delivery;
  return { id: jobIdOf(event.eventId, endpoint), singletonKey: key, group: { id: endpointIdOf(endpoint) }, data: { v: 1, deliveryId, endpoint, key, acceptedAt, event: encoded } };
}

/** Jobs and event bytes written in one insert at most (see nextBatch). @internal */
export const INSERT_BATCH = { maxJobs: 1_000, maxBytes: 1024 * 1024 } as const;

/** The event a job holds, or `null` when it cannot be read. @internal */
export function decodeEventOrNull<R>(encoded: string): ServiceEvent<R> | null {
  try {
    return decodeEvent<R>(Buffer.from(encoded, 'base64'));
  } catch {
    return null;
  }
}
