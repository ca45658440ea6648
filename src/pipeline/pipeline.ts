/**
 * The provisioner's one pipeline, over a {@link DeliveryStore} (the memory store when the app
 * gives none): hook events are journaled when they are emitted (before the hook returns), the
 * store hands out the deliveries that are due and runs them with the pipeline's plan and
 * attempt step (`storeHandlers`), its settled outcomes feed `outcomes$`, and callbacks run
 * for the outcomes this process reached.
 * @internal
 * @packageDocumentation
 */
import { Subject, Subscription, asyncScheduler, type Observable, type SchedulerLike } from 'rxjs';
import { endpointsFor } from '../config/configIndex.js';
import type { ProvisionerConfig } from '../config/types.js';
import { closedCallbackOutcome, drainedWithin } from '../delivery/closeDeadline.js';
import { unacceptedOutcomes } from '../delivery/unacceptedOutcomes.js';
import { ClosedError, OverflowError, type ProvisionerError } from '../errors.js';
import type { HttpEffect } from '../events/httpEffect.js';
import type { DeliveryAttempt } from '../events/deliveryAttempt.js';
import type { CallbackOutcome, DeliveredOutcome, DeliveryOutcome, FailureReason } from '../events/outcomes.js';
import type { RetryOptions } from '../events/request.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { EndpointGate } from '../delivery/endpointGate.js';
import { endpointPolicies, type CircuitBreakerOptions, type EndpointLimits } from '../delivery/endpointPolicy.js';
import { DEFAULT_CONCURRENCY } from '../delivery/keyedQueue.js';
import { resolveRetryOptions } from '../delivery/retryPolicy.js';
import type { EndpointStatus } from '../events/endpointStatus.js';
import { logger } from '../util/log.js';
import { runCallbacks } from '../operators/runCallbacks.js';
import type { ToRequestsOptions } from '../operators/toRequests.js';
import type { DeadLetter, DeadLetterFilter, DeliveryStore } from '../store/deliveryStore.js';
import type { ProvisionerStats } from './options.js';
import { createAttemptWatch } from './attemptWatch.js';
import { createCoalescing } from './coalescing.js';
import { storeHandlers } from './storeHandlers.js';
import { withoutSecretHeaders } from './outcomeHeaders.js';

/** The least and the most time a store gets to close, out of what is left of close()'s deadline. */
const STORE_CLOSE_MIN_MS = 1_000;
const STORE_CLOSE_MAX_MS = 5_000;

const log = logger('provisioner');

/** What {@link startPipeline} needs. @internal */
export type PipelineOptions<R> = {
  readonly config: ProvisionerConfig<R>;
  readonly store: DeliveryStore<R>;
  readonly effect: HttpEffect;
  readonly events$: Observable<ServiceEvent<R>>;
  readonly toRequests: ToRequestsOptions<R>;
  readonly retry?: RetryOptions;
  readonly concurrency?: number;
  readonly callbackTimeoutMs?: number;
  /** `http.maxQueue` over a store the app gave: deliveries the store counts as pending, at most. */
  readonly maxQueue?: number;
  /** The clock and timers of retries and timeouts. @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
  /** Whether the provisioner still accepts events. */
  readonly isOpen: () => boolean;
  /** `http.endpoints`: rate and concurrency per endpoint. */
  readonly endpoints?: Readonly<Record<string, EndpointLimits>>;
  /** `http.circuitBreaker`. */
  readonly circuitBreaker?: CircuitBreakerOptions | false;
  /** `http.maxDeliveryAgeMs`. */
  readonly maxDeliveryAgeMs?: number;
};

/** The running pipeline, as the provisioner uses it. @internal */
export type Pipeline<R> = {
  readonly outcomes$: Observable<DeliveryOutcome<R>>;
  readonly attempts$: Observable<DeliveryAttempt>;
  readonly endpoints$: Observable<EndpointStatus>;
  stats(): Promise<ProvisionerStats>;
  readonly callbacks$: Observable<CallbackOutcome<R>>;
  /** Fails every endpoint of an event that was not accepted. */
  failUnaccepted(event: ServiceEvent<R>, reason: FailureReason, error: ProvisionerError): void;
  pending(): number;
  drain(): Promise<void>;
  close(timeoutMs: number): Promise<void>;
  deadLetters(filter?: DeadLetterFilter): Promise<readonly DeadLetter<R>[]>;
  replay(filter: DeadLetterFilter): Promise<readonly string[]>;
};

/** Starts the store with the pipeline's handlers and journals every accepted event. @internal */
export function startPipeline<R = AppRecord>(options: PipelineOptions<R>): Pipeline<R> {
  const { config, store, maxQueue } = options;
  const scheduler = options.scheduler ?? asyncScheduler;
  const outcomes = new Subject<DeliveryOutcome<R>>();
  const callbacks = new Subject<CallbackOutcome<R>>();
  const delivered = new Subject<DeliveredOutcome<R>>();
  const subscriptions = new Subscription();
  let closed = false;
  const pendingCallbacks = new Set<DeliveredOutcome<R>>();
  let callbackWaiters: (() => void)[] = [];

  const stats = async (): Promise<ProvisionerStats> => {
    const snapshot = (await store.stats?.()) ?? { pending: store.pending(), oldestAcceptedAt: null, deadLetters: (await store.deadLetters()).length };
    return {
      store: store.kind,
      pending: snapshot.pending,
      inFlight: watch.inFlight(),
      oldestPendingAgeMs: snapshot.oldestAcceptedAt === null ? null : Math.max(0, scheduler.now() - snapshot.oldestAcceptedAt),
      deadLetters: snapshot.deadLetters,
      callbacksPending: pendingCallbacks.size,
    };
  };
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const gate = new EndpointGate(
    endpointPolicies({
      concurrency,
      maxRetryAfterMs: resolveRetryOptions(options.retry).maxRetryAfterMs,
      ...(options.endpoints !== undefined ? { endpoints: options.endpoints } : {}),
      ...(options.circuitBreaker !== undefined ? { circuitBreaker: options.circuitBreaker } : {}),
    }),
    scheduler,
  );
  const coalescing = createCoalescing<R>(config);
  const watch = createAttemptWatch<R>(
    store.kind,
    async () => {
      const { pending, oldestPendingAgeMs } = await stats();
      return { pending, oldestAgeMs: oldestPendingAgeMs };
    },
    () => gate.circuits(),
  );

  const failUnaccepted = (event: ServiceEvent<R>, reason: FailureReason, error: ProvisionerError): void => {
    for (const outcome of unacceptedOutcomes(config, event, reason, error)) {
      watch.settled(null, outcome);
      outcomes.next(outcome);
    }
  };

  const journal = (event: ServiceEvent<R>): void => {
    const targets = endpointsFor(config, event.serviceType, event.method);
    if (targets.length === 0) return;
    if (!options.isOpen()) {
      failUnaccepted(event, 'closed', new ClosedError(`Expected an open provisioner to accept ${event.serviceType}.${event.method} event ${event.eventId}, got a closed one`));
      return;
    }
    if (maxQueue !== undefined && store.pending() + targets.length > maxQueue) {
      failUnaccepted(
        event,
        'overflow',
        new OverflowError(
          `Expected fewer than ${maxQueue} deliveries pending in the ${store.kind} store (http.maxQueue), found ${store.pending()}; ${targets.length} deliveries of 1 event(s) were not accepted`,
        ),
      );
      return;
    }
    const result = store.journal([{ event, endpoints: targets.map((target) => target.endpoint) }]);
    if (result.kind === 'journaled') {
      coalescing.journaled(event, targets);
      return;
    }
    log('store (%s) did not take event %s: %s', store.kind, event.eventId, result.error.message);
    // Refused at the door, like the in-memory queue past maxQueue: nothing of it is kept.
    failUnaccepted(event, result.error instanceof ClosedError ? 'closed' : 'overflow', result.error);
  };

  const hasCallback = (outcome: DeliveredOutcome<R>): boolean => {
    for (const binding of endpointsFor(config, outcome.request.serviceType, outcome.request.serviceMethod)) {
      if (binding.endpoint === outcome.endpoint) return typeof binding.eventConfig.callback === 'function';
    }
    return false;
  };

  const wakeCallbackWaiters = (): void => {
    if (pendingCallbacks.size > 0 || callbackWaiters.length === 0) return;
    const waiters = callbackWaiters;
    callbackWaiters = [];
    for (const resolve of waiters) resolve();
  };

  subscriptions.add(
    store.outcomes$.subscribe({
      next: ({ deliveryId, outcome: settled, local }) => {
        // Outcomes never show secret header values (durable stores never even keep them).
        const outcome = withoutSecretHeaders(settled);
        coalescing.settled(deliveryId, outcome);
        if (local) watch.settled(deliveryId, outcome);
        const callbackDue = local && outcome.kind === 'delivered' && hasCallback(outcome);
        if (callbackDue) pendingCallbacks.add(outcome);
        outcomes.next(outcome);
        if (callbackDue) delivered.next(outcome);
      },
      error: (error: unknown) => log('store outcomes failed: %s', error instanceof Error ? error.message : String(error)),
    }),
  );
  subscriptions.add(
    delivered.pipe(runCallbacks(config, { scheduler, ...(options.callbackTimeoutMs !== undefined ? { timeoutMs: options.callbackTimeoutMs } : {}) })).subscribe({
      next: (outcome) => {
        if (!pendingCallbacks.delete(outcome.delivery)) return;
        callbacks.next(outcome);
        wakeCallbackWaiters();
      },
      error: (error: unknown) => log('callback pipeline failed: %s', error instanceof Error ? error.message : String(error)),
    }),
  );
  // Synchronous: the event is journaled before the hook (or the unit of work's commit) returns.
  subscriptions.add(options.events$.subscribe(journal));

  const handlers = storeHandlers<R>({
    config,
    effect: options.effect,
    toRequests: { scheduler, ...options.toRequests },
    scheduler,
    watch,
    gate,
    coalescing,
    rates: Object.fromEntries(Object.entries(options.endpoints ?? {}).flatMap(([endpoint, limits]) => (limits.ratePerSecond === undefined ? [] : [[endpoint, limits.ratePerSecond]]))),
    ...(options.maxDeliveryAgeMs !== undefined ? { maxDeliveryAgeMs: options.maxDeliveryAgeMs } : {}),
    ...(options.retry !== undefined ? { retry: options.retry } : {}),
    // The stores run up to this many lanes per endpoint; the gate holds each endpoint to its own limit.
    concurrency: Math.max(concurrency, ...Object.values(options.endpoints ?? {}).map((limits) => limits.concurrency ?? 0)),
  });
  // Started on the scheduler, not at once: outcomes of resumed work (a delivery whose endpoint
  // left the config settles while it is planned) reach the subscribers of outcomes$ the app
  // adds after createProvisioner returns. Events journaled meanwhile wait in their lanes.
  subscriptions.add(
    scheduler.schedule(() => {
      if (closed) return;
      try {
        store.start(handlers);
      } catch (error) {
        // A store closed already, or started by another provisioner: thrown here it would be an
        // uncaught exception that ends the app; the app hears of it through a process warning.
        const message = error instanceof Error ? error.message : String(error);
        log('the %s store could not be started: %s', store.kind, message);
        process.emitWarning(`remote-api-provisioner: the ${store.kind} store could not be started (${message}); give each provisioner a store of its own, open`, { code: 'RAP_STORE_START' });
      }
    }),
  );

  const callbacksSettled = (): Promise<void> =>
    pendingCallbacks.size === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          callbackWaiters.push(resolve);
        });

  const drain = async (): Promise<void> => {
    // A callback may write back into the app and so journal more work: go round until both are idle.
    for (;;) {
      await store.drain();
      await callbacksSettled();
      if (closed || (store.pending() === 0 && pendingCallbacks.size === 0)) return;
    }
  };

  const close = async (timeoutMs: number): Promise<void> => {
    const deadline = scheduler.now() + timeoutMs;
    const result = await drainedWithin(drain(), timeoutMs);
    closed = true;
    if (result === 'deadline') {
      log('close: %d deliveries (%s store) and %d callbacks still pending after %d ms', store.pending(), store.kind, pendingCallbacks.size, timeoutMs);
    }
    try {
      // A durable store keeps what is unsettled for the next process; the memory store fails it as closed.
      // It gets what is left of the deadline (a second at least, to let go of its connections), not a deadline of its own.
      await store.close({ timeoutMs: Math.max(STORE_CLOSE_MIN_MS, Math.min(STORE_CLOSE_MAX_MS, deadline - scheduler.now())) });
    } catch (error) {
      log('closing the %s store failed: %s', store.kind, error instanceof Error ? error.message : String(error));
    }
    subscriptions.unsubscribe();
    const settledAt = scheduler.now();
    for (const outcome of pendingCallbacks) callbacks.next(closedCallbackOutcome(outcome, timeoutMs, settledAt));
    pendingCallbacks.clear();
    wakeCallbackWaiters();
    delivered.complete();
    outcomes.complete();
    callbacks.complete();
    watch.close();
    gate.close();
  };

  return {
    outcomes$: outcomes.asObservable(),
    attempts$: watch.attempts$,
    endpoints$: gate.statuses$,
    stats,
    callbacks$: callbacks.asObservable(),
    failUnaccepted,
    pending: () => store.pending() + pendingCallbacks.size,
    drain,
    close,
    deadLetters: (filter) => store.deadLetters(filter),
    replay: async (filter) => {
      const letters = await store.deadLetters(filter);
      if (letters.length === 0) return [];
      return store.requeue(letters.map((letter) => letter.deliveryId));
    },
  };
}
