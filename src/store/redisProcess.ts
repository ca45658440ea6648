import type { Job, Queue } from 'bullmq';
import { NetworkError, PayloadError } from '../errors.js';
import type { DeliveryOutcome, FailedOutcome } from '../events/outcomes.js';
import type { RequestDescriptor } from '../events/request.js';
import type { ServiceEvent } from '../events/serviceEvent.js';
import { logger } from '../util/log.js';
import { decodeEventText, decodeRequest, encodeError, encodeRequest, encodeResponse, restoreRequest } from './codec.js';
import type { AttemptResult, DeliveryHandlers, StoredDelivery } from './deliveryStore.js';
import { firstValue } from './firstOf.js';
import { attemptsOf, jobDataToWrite, verbatim, type BullModule, type JobData } from './redisJob.js';
import { failedOutcome, planStoredDelivery } from './storedDelivery.js';

const log = logger('delivery');

/** What {@link processJob} works with: the instance's handlers once started, and its bookkeeping. @internal */
export type ProcessContext<R> = {
  readonly bull: BullModule;
  readonly handlers: () => DeliveryHandlers<R> | null;
  /** The attempts running in this instance, by delivery id: aborted on close. */
  readonly inFlight: Map<string, AbortController>;
  /** Outcomes reached by this instance, for the worker's completed and failed listeners. */
  readonly settled: Map<string, SettledHere<R>>;
  /** The event of a delivery this instance journaled and has not seen settled: it is not decoded from the job again. */
  readonly journaledEvent: (deliveryId: string) => ServiceEvent<R> | undefined;
};

/**
 * An outcome reached here, and its request as the job stores it (JSON without secrets, perhaps
 * `verbatim`), when it has one: encoded only when asked (the outcome stream writes it only for
 * other instances). @internal
 */
export type SettledHere<R> = { readonly outcome: DeliveryOutcome<R>; readonly request?: () => string | null };

/**
 * Runs one delivery attempt of a job (planning it first when it has no request yet) with the
 * pipeline's handlers; the outcome it reaches goes to `settled`, for the worker's completed
 * and failed listeners. A retry puts the job back at the head of its partition, which waits
 * for the backoff (BullMQ's rate limiter).
 * @internal
 */
export async function processJob<R>(context: ProcessContext<R>, queue: Queue, job: Job<JobData>): Promise<string> {
  const handlers = context.handlers();
  const { UnrecoverableError, Worker: WorkerClass } = context.bull;
  const data = job.data;
  const abort = new AbortController();
  context.inFlight.set(data.deliveryId, abort);
  try {
    let event: ServiceEvent<R>;
    let stored: RequestDescriptor | null;
    try {
      event = context.journaledEvent(data.deliveryId) ?? decodeEventText<R>(data.event);
      stored = data.request === null ? null : decodeRequest(data.request);
    } catch (error) {
      throw new UnrecoverableError(`Expected delivery ${data.deliveryId} to hold a readable event and request, it did not: ${messageOf(error)}`);
    }
    if (handlers === null) throw WorkerClass.RateLimitError();
    const attempt = Math.max(1, attemptsOf(job));
    const started = attempt - 1;
    const delivery: StoredDelivery<R> = { deliveryId: data.deliveryId, event, endpoint: data.endpoint, key: data.key, acceptedAt: data.acceptedAt, request: stored, attempts: started };
    let request = stored;
    let stripped = data.stripped;
    let next: JobData = data;
    // The job keeps its data as plain strings; what BullMQ writes is not scanned again.
    const write = async (update: JobData): Promise<JobData> => {
      const written = jobDataToWrite(update);
      await job.updateData(written);
      job.data = update;
      return written;
    };
    /** The stored request as the outcome stream writes it, once it is escaped for updateData. */
    let storedRequest = data.request;
    // A plan made here is encoded and written only when the delivery goes back for a retry (or
    // fails): a first attempt that delivers, the usual case, spares a job write of its whole
    // event, and the encoding too unless another instance's outcome stream wants the request.
    let unwrittenPlan: RequestDescriptor | null = null;
    const storedRequestOf = (): string | null => {
      if (unwrittenPlan !== null && next.request === null) {
        const encoded = encodeRequest(unwrittenPlan);
        next = { ...next, request: encoded.json, stripped: encoded.stripped };
        storedRequest = verbatim(encoded.json, 'escape');
      }
      return storedRequest;
    };
    const fail = async (outcome: FailedOutcome<R>): Promise<never> => {
      context.settled.set(data.deliveryId, { outcome, request: storedRequestOf });
      storedRequestOf(); // written with the failure: a requeued dead letter sends it again
      const failure = { reason: outcome.reason, error: encodeError(outcome.error), response: outcome.response === null ? null : encodeResponse(outcome.response) };
      await write({ ...next, attempts: outcome.attempts, failure });
      throw new UnrecoverableError(failure.error.message);
    };
    if (request === null) {
      const plan = await planStoredDelivery(handlers, delivery);
      if (plan.kind === 'skipped') {
        context.settled.set(data.deliveryId, { outcome: { ...plan, acceptedAt: data.acceptedAt } });
        return 'skipped';
      }
      if (plan.kind === 'failed') return await fail({ ...plan, acceptedAt: data.acceptedAt });
      if (plan.request.deliveryId !== data.deliveryId) {
        return await fail(
          failedOutcome(delivery, null, 'payload', new PayloadError(`Expected the planned request of ${data.endpoint} to have delivery id ${data.deliveryId}, got ${plan.request.deliveryId}`), null, 0),
        );
      }
      unwrittenPlan = plan.request;
      request = plan.request;
      stripped = [];
    }
    const sent = restoreRequest(request, stripped, handlers.restoreSecrets);
    let result: AttemptResult;
    try {
      result = await firstValue(() => handlers.attempt({ ...delivery, request: sent, attempt, signal: abort.signal }), {
        signal: abort.signal,
        // Back to the head of its partition: another instance, or this one later, sends it.
        onAbort: () => ({ kind: 'retry', delayMs: 1, reason: 'network', error: new NetworkError(`The attempt of delivery ${data.deliveryId} was aborted: the store is closing`), response: null }),
      });
    } catch (error) {
      result = { kind: 'failed', reason: 'network', error: new NetworkError(`The attempt handler of delivery ${data.deliveryId} threw: ${messageOf(error)}`, { cause: error }), response: null };
    }
    if (result.kind === 'delivered') {
      const outcome: DeliveryOutcome<R> = {
        kind: 'delivered',
        event,
        endpoint: data.endpoint,
        request: sent,
        response: result.response,
        attempts: attempt,
        acceptedAt: data.acceptedAt,
        settledAt: Date.now(),
      };
      context.settled.set(data.deliveryId, { outcome, request: storedRequestOf });
      return 'delivered';
    }
    if (result.kind === 'failed') return await fail(failedOutcome(delivery, sent, result.reason, result.error, result.response, attempt));
    // Every retry sends the request planned for the first attempt.
    if (unwrittenPlan !== null) {
      storedRequestOf();
      await write(next);
    }
    // Back to the head of the partition, which waits for the backoff: nothing overtakes the delivery.
    await queue.rateLimit(Math.max(1, Math.ceil(result.delayMs)));
    throw WorkerClass.RateLimitError();
  } catch (error) {
    if (error instanceof UnrecoverableError || (error instanceof Error && error.message === context.bull.RATE_LIMIT_ERROR)) throw error;
    // Redis failed us mid-delivery: keep the delivery at the head of its partition and try again.
    log('store (redis): delivery %s interrupted, trying again in 1 s: %s', data.deliveryId, messageOf(error));
    await queue.rateLimit(1_000).catch(() => undefined);
    throw WorkerClass.RateLimitError();
  } finally {
    context.inFlight.delete(data.deliveryId);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
