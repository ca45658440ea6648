/**
 * What the Redis store keeps in a BullMQ job, and how it reads a job back.
 * @internal
 * @packageDocumentation
 */
import type { Job } from 'bullmq';
import { NetworkError } from '../errors.js';
import type { FailureReason } from '../events/outcomes.js';
import { decodeError, decodeEventText, decodeRequest, decodeResponse, type StoredError } from './codec.js';
import type { DeadLetter } from './deliveryStore.js';
import type { JournaledJobData } from './journaledDeliveries.js';

/** The BullMQ module, loaded when a Redis store is created (an optional dependency). @internal */
export type BullModule = typeof import('bullmq');

/** The workers' rate limiter is only the backoff gate: its own limit is never reached. @internal */
export const LIMITER = { max: 1_000_000, duration: 1_000 };

/**
 * The rate limiter of one partition's workers: the backoff gate, and for a rate-limited
 * endpoint one job start per `partitions / rate` seconds in each partition, so that every
 * instance together starts at most `rate` a second (BullMQ keeps the limit in Redis).
 * @internal
 */
export function limiterFor(ratePerSecond: number | undefined, partitions: number): { readonly max: number; readonly duration: number } {
  if (ratePerSecond === undefined) return LIMITER;
  return { max: 1, duration: Math.ceil((1_000 * partitions) / ratePerSecond) };
}

/**
 * Entries of BullMQ's event stream kept per queue, about (BullMQ's default is 10,000): the
 * store reads none of them, and a short stream keeps reusing its memory.
 * @internal
 */
export const BULL_EVENTS_KEPT = 100;

/** The states of a job not settled yet. @internal */
export const JOB_STATES_UNSETTLED = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * What a job carries: the delivery, its event, its plan once made, and its failure. The
 * attempts are BullMQ's own count of the job's starts (raised atomically when a worker takes
 * it, so a delivery taken over from a dead instance counts the attempt it was in, at no cost
 * of its own); `attempts` here is their number when the delivery failed.
 * @internal
 */
export type JobData = JournaledJobData & {
  /** The planned request without its secret headers (JSON), `null` until planned. */
  readonly request: string | null;
  readonly stripped: readonly string[];
  readonly attempts: number;
  readonly failure?: { readonly reason: FailureReason; readonly error: StoredError; readonly response: string | null };
};

/** A job waiting in the journal buffer for Redis: its queue, endpoint, name and data. @internal */
export type Buffered = { readonly queueName: string; readonly endpoint: string; readonly name: string; readonly data: JobData };

/** Jobs and event and request bytes sent to Redis in one batch at most (see nextBatch). @internal */
export const REDIS_BATCH = { maxJobs: 1_000, maxBytes: 256 * 1024 } as const;

/** The bytes a buffered job adds to a batch. @internal */
export function bufferedBytes(job: Buffered): number {
  return job.data.event.length + (job.data.request?.length ?? 0);
}

/** `JSON.rawJSON` (every supported Node has it; TypeScript's lib does not know it yet). */
const rawJSON = (JSON as unknown as { readonly rawJSON: (text: string) => unknown }).rawJSON;

/**
 * A string as JSON.stringify writes it without scanning it again (`JSON.rawJSON`), typed as
 * the string it stands for: only JSON.stringify may read it. A job's event is base64 (nothing
 * to escape): BullMQ's add and updateData and the outcome stream would each scan its 3 KB
 * again, which costs more than the rest of the job's JSON. `escape` escapes a string once (a
 * stored request, written twice).
 * @internal
 */
export function verbatim(value: string, kind: 'base64' | 'escape'): string {
  // Already verbatim: the data of a job this instance added holds what it wrote, not a string.
  if (typeof value !== 'string') return value;
  return rawJSON(kind === 'base64' ? `"${value}"` : JSON.stringify(value)) as string;
}

/** A job's data as BullMQ writes it: its event and request {@link verbatim}. @internal */
export function jobDataToWrite(data: JobData): JobData {
  return { ...data, event: verbatim(data.event, 'base64'), request: data.request === null ? null : verbatim(data.request, 'escape') };
}

/** The attempts started on a job: BullMQ counts its starts. @internal */
export function attemptsOf(job: Job): number {
  return job.attemptsStarted;
}

/**
 * The dead letter a failed job stands for: the failure the processor recorded in its data, or
 * BullMQ's own (a delivery taken over from dead instances too many times).
 * @internal
 */
export function deadLetterOf<R>(job: Job<JobData>): DeadLetter<R> {
  const data = job.data;
  const failure = data.failure;
  const response = failure?.response === null || failure?.response === undefined ? null : decodeResponse(failure.response);
  return {
    kind: 'failed',
    deliveryId: data.deliveryId,
    event: decodeEventText<R>(data.event),
    endpoint: data.endpoint,
    request: data.request === null ? null : decodeRequest(data.request),
    reason: failure?.reason ?? 'network',
    error:
      failure === undefined
        ? new NetworkError(`Delivery ${data.deliveryId} was stopped by the queue: ${job.failedReason}`)
        : decodeError(failure.error, response),
    attempts: failure === undefined ? attemptsOf(job) : data.attempts,
    response,
    acceptedAt: data.acceptedAt,
    settledAt: job.finishedOn ?? job.processedOn ?? Date.now(),
  };
}
