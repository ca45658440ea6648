import { Observable, Subscription, asyncScheduler, type OperatorFunction } from 'rxjs';
import { deliveryKey } from '../events/deliveryKey.js';
import { KeyedQueue } from '../delivery/keyedQueue.js';
import { sendWithRetry, type SendOptions, type SendResult } from '../delivery/sendWithRetry.js';
import { NetworkError, OverflowError, ProvisionerError } from '../errors.js';
import type { HttpEffect } from '../events/httpEffect.js';
import type { DeliveryOutcome, RequestPlan } from '../events/outcomes.js';
import type { RequestDescriptor, RetryOptions } from '../events/request.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { logger } from '../util/log.js';
import { redactUrl } from '../util/redact.js';

const log = logger('delivery');

/**
 * Options of {@link deliver}.
 *
 * @example
 * ```ts
 * plans$.pipe(deliver(effect, { concurrency: 8, maxQueue: 5_000, retry: { limit: 3 } }));
 * ```
 */
export type DeliverOptions = {
  /** How many deliveries (of different endpoint/record keys) may be in flight at once. @default 16 */
  readonly concurrency?: number;
  /**
   * How many requests may be accepted and not yet settled, running ones included; past it a
   * new request ends at once as `failed` with reason `overflow`. @default 10000
   */
  readonly maxQueue?: number;
  /** The global retry policy; a request's own `retry` (from its event config) overrides it key by key. */
  readonly retry?: RetryOptions;
  /** Random source of the backoff jitter, in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** Clock of the outcome timestamps (ms since epoch). @default the RxJS async scheduler's clock */
  readonly now?: () => number;
};

type Job<R> = { readonly event: ServiceEvent<R>; readonly request: RequestDescriptor; readonly acceptedAt: number };

/**
 * Sends each planned request through `effect`, with retries, and emits its final outcome;
 * plans that already are outcomes (failed or skipped while planning) pass through.
 * Requests with the same endpoint and record go out strictly one at a time, in the order
 * they arrive, so a delete never overtakes the publish before it; requests of different
 * records run concurrently up to `concurrency`. At most `maxQueue` requests wait or run:
 * past that, a new one ends at once as `failed` with reason `overflow` rather than growing
 * an unbounded buffer. The state of a record is released as soon as it has nothing queued.
 * Completes when the source has completed and every accepted request has settled;
 * unsubscribing aborts the requests in flight.
 *
 * ```
 * plans:     -a1--a2-b1------|          a1, a2: record A; b1: record B
 * effect:     a1 takes 6 frames, the others 1
 * outcomes:  --------B1-A1-A2|          A2 waits for A1, B1 does not
 * ```
 *
 * @example
 * ```ts
 * const outcomes$ = events$.pipe(
 *   toRequests(config, { resolveOwner }),
 *   deliver(createKyEffect({ timeoutMs: 10_000 }), { concurrency: 8 }),
 * );
 * outcomes$.subscribe((outcome) => console.info(outcome.kind, outcome.endpoint));
 * ```
 */
export function deliver<R = AppRecord>(
  effect: HttpEffect,
  options: DeliverOptions = {},
): OperatorFunction<RequestPlan<R>, DeliveryOutcome<R>> {
  const now = options.now ?? (() => asyncScheduler.now());
  return (source) =>
    new Observable<DeliveryOutcome<R>>((subscriber) => {
      const queue = new KeyedQueue<Job<R>>({
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
      });
      const inFlight = new Subscription();
      const sendOptions: SendOptions = {
        ...(options.retry !== undefined ? { retry: options.retry } : {}),
        ...(options.random !== undefined ? { random: options.random } : {}),
        now,
      };
      let sourceDone = false;
      let pumping = false;
      let stopped = false;

      const completeWhenDone = (): void => {
        if (sourceDone && queue.size === 0) subscriber.complete();
      };

      const settle = (job: Job<R>, result: SendResult): DeliveryOutcome<R> => {
        const { event, request, acceptedAt } = job;
        return result.kind === 'delivered'
          ? { kind: 'delivered', event, endpoint: request.endpoint, request, attempts: result.attempts, acceptedAt, settledAt: now(), response: result.response }
          : {
              kind: 'failed',
              event,
              endpoint: request.endpoint,
              request,
              attempts: result.attempts,
              acceptedAt,
              settledAt: now(),
              reason: result.reason,
              error: result.error,
              response: result.response,
            };
      };

      const start = (key: string, job: Job<R>): void => {
        let result: SendResult | undefined;
        const finish = (): void => {
          if (stopped) return;
          const outcome = settle(
            job,
            result ?? {
              kind: 'failed',
              reason: 'network',
              error: new NetworkError(`Expected the delivery of ${job.request.deliveryId} to end with a result, found none`),
              response: null,
              attempts: 0,
            },
          );
          if (log.enabled) {
            log('%s %s %s %s after %d attempt(s)', job.request.deliveryId, job.request.method, redactUrl(job.request.endpoint), outcome.kind === 'failed' ? `failed (${outcome.reason})` : outcome.kind, result?.attempts ?? 0);
          }
          queue.finish(key);
          subscriber.next(outcome);
          pump();
          completeWhenDone();
        };
        const delivery = sendWithRetry(effect, job.request, sendOptions).subscribe({
          next: (value) => {
            result = value;
          },
          error: (error: unknown) => {
            result = {
              kind: 'failed',
              reason: 'network',
              error: error instanceof ProvisionerError ? error : new NetworkError(`Delivery of ${job.request.deliveryId} failed`, { cause: error }),
              response: null,
              attempts: 1,
            };
          },
        });
        // Added after the delivery's own teardown, so it runs after it (at once if the delivery
        // already ended): a slot is handed on only once the previous request has let go of its
        // connection.
        delivery.add(finish);
        if (!delivery.closed) {
          inFlight.add(delivery);
        }
      };

      // Runs what may run; a delivery that settles synchronously frees its slot inside `start`,
      // and the loop picks the next one up instead of recursing.
      const pump = (): void => {
        if (pumping) return;
        pumping = true;
        try {
          for (let next = queue.take(); next !== undefined; next = queue.take()) start(next.key, next.item);
        } finally {
          pumping = false;
        }
      };

      const sourceSubscription = source.subscribe({
        next: (plan) => {
          if (plan.kind !== 'request') {
            subscriber.next(plan);
            return;
          }
          const job: Job<R> = { event: plan.event, request: plan.request, acceptedAt: plan.acceptedAt };
          if (!queue.offer(deliveryKey(plan.request), job)) {
            if (log.enabled) log('overflow: %d deliveries pending, %s to %s failed', queue.size, plan.request.deliveryId, redactUrl(plan.request.endpoint));
            subscriber.next({
              kind: 'failed',
              event: plan.event,
              endpoint: plan.request.endpoint,
              request: plan.request,
              reason: 'overflow',
              error: new OverflowError(
                `Expected fewer than ${queue.maxQueue} deliveries pending (maxQueue), found ${queue.size}; delivery ${plan.request.deliveryId} to ${redactUrl(plan.request.endpoint)} was not sent`,
              ),
              attempts: 0,
              response: null,
              acceptedAt: plan.acceptedAt,
              settledAt: now(),
            });
            return;
          }
          pump();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          completeWhenDone();
        },
      });

      return () => {
        stopped = true;
        sourceSubscription.unsubscribe();
        inFlight.unsubscribe();
      };
    });
}

