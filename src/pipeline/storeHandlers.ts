/**
 * The pipeline's side of a {@link DeliveryStore}: how a stored delivery is planned (the
 * config's payload, owner and URL for its one endpoint, through `toRequests`), how one attempt
 * is sent (the `HttpEffect`, then the retry policy), and how secret headers come back from
 * the current config when the store loads a request it stored without them.
 * @internal
 * @packageDocumentation
 */
import { Observable, asyncScheduler, isObservable, type SchedulerLike } from 'rxjs';
import { endpointsFor } from '../config/configIndex.js';
import type { ProvisionerConfig } from '../config/types.js';
import { EndpointGate, type EndpointPermit } from '../delivery/endpointGate.js';
import { DEFAULT_MAX_DELIVERY_AGE_MS, endpointPolicies } from '../delivery/endpointPolicy.js';
import { endpointSignalOf } from '../delivery/endpointState.js';
import { DEFAULT_CONCURRENCY } from '../delivery/keyedQueue.js';
import { resolveRetryOptions, retryDelay, type AttemptVerdict, type ResolvedRetryOptions } from '../delivery/retryPolicy.js';
import { attemptOnce, noteAttempts } from '../delivery/sendWithRetry.js';
import { ExpiredError, NetworkError } from '../errors.js';
import type { HttpEffect } from '../events/httpEffect.js';
import type { RequestPlan } from '../events/outcomes.js';
import type { RequestDescriptor, RetryOptions } from '../events/request.js';
import type { AppRecord } from '../events/serviceEvent.js';
import type { ToRequestsOptions } from '../operators/toRequests.js';
import type { Eventually } from '../planning/eventually.js';
import { DEFAULT_OWNER_TIMEOUT_MS, ownerLookup } from '../planning/owner.js';
import { DEFAULT_PAYLOAD_TIMEOUT_MS } from '../planning/payload.js';
import { planEvent } from '../planning/planEvent.js';
import { failedPlan, planningFailure } from '../planning/planFailure.js';
import { configPath, describeSubject } from '../planning/subject.js';
import { prepareTarget, type Target } from '../planning/target.js';
import type { AttemptInput, AttemptResult, DeliveryHandlers, StoredDelivery } from '../store/deliveryStore.js';
import { Immediate } from '../store/firstOf.js';
import { redactUrl } from '../util/redact.js';
import type { AttemptWatch } from './attemptWatch.js';
import { behindGate } from './behindGate.js';
import type { Coalescing } from './coalescing.js';

/** What {@link storeHandlers} builds the handlers from. @internal */
export type StoreHandlerOptions<R> = {
  readonly config: ProvisionerConfig<R>;
  readonly effect: HttpEffect;
  readonly toRequests?: ToRequestsOptions<R>;
  readonly retry?: RetryOptions;
  readonly concurrency?: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** The clock of outcomes and `Retry-After` dates, and the timers of retries. @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
  /** Reports each attempt (attempts$, spans, metrics) and adds the trace context to its request. */
  readonly watch?: AttemptWatch<R>;
  /** Where attempts wait for their endpoint (pause, circuit, rate, concurrency). @default a gate with the default circuit breaker */
  readonly gate?: EndpointGate;
  /** How long a delivery may wait for its endpoint before it fails as `expired`. @default DEFAULT_MAX_DELIVERY_AGE_MS */
  readonly maxDeliveryAgeMs?: number;
  /** `ratePerSecond` of rate-limited endpoints, for stores that share limits across instances. */
  readonly rates?: Readonly<Record<string, number>>;
  /** The lanes of coalescing event configs: a superseded delivery is skipped when it is planned. */
  readonly coalescing?: Coalescing<R>;
};

/**
 * The plan, attempt and restoreSecrets handlers the provisioner starts a store with.
 *
 * A delivery superseded in its lane (coalescing) ends as `skipped` with reason `superseded`.
 * A delivery whose endpoint (or whose method at that endpoint) is no longer in the config
 * when it is planned (work resumed or replayed after a config change) ends as `skipped` with
 * reason `unconfigured`: the app no longer asks for it.
 * @internal
 */
export function storeHandlers<R = AppRecord>(options: StoreHandlerOptions<R>): DeliveryHandlers<R> {
  const { config, effect } = options;
  const random = options.random ?? Math.random;
  const scheduler = options.scheduler ?? asyncScheduler;
  const now = (): number => scheduler.now();
  const retryByRequest = new WeakMap<RetryOptions, ResolvedRetryOptions>();
  const globalRetry = resolveRetryOptions(options.retry);
  const planOptions = { payloadTimeoutMs: options.toRequests?.payloadTimeoutMs ?? DEFAULT_PAYLOAD_TIMEOUT_MS, scheduler, isPublic: options.toRequests?.isPublic };
  const gate = options.gate ?? new EndpointGate(endpointPolicies({ concurrency: options.concurrency ?? DEFAULT_CONCURRENCY, maxRetryAfterMs: globalRetry.maxRetryAfterMs }), scheduler);
  const maxDeliveryAgeMs = options.maxDeliveryAgeMs ?? DEFAULT_MAX_DELIVERY_AGE_MS;
  const lookUpOwner = ownerLookup(options.toRequests?.resolveOwner, options.toRequests?.ownerTimeoutMs ?? DEFAULT_OWNER_TIMEOUT_MS, scheduler);

  /**
   * The plan of one delivery: `toRequests`' planning for its one endpoint, called directly (a
   * stored delivery is one event and one endpoint, already in its lane's order, so the
   * operator's ordered re-emission has nothing to do).
   */
  const plan = (delivery: StoredDelivery<R>): Observable<RequestPlan<R>> => {
    const { event, endpoint } = delivery;
    if (options.coalescing?.superseded(delivery.deliveryId, delivery.key, event, endpoint) === true) {
      return new Immediate({ kind: 'skipped', event, endpoint, reason: 'superseded', acceptedAt: delivery.acceptedAt, settledAt: now() });
    }
    const binding = endpointsFor(config, event.serviceType, event.method).find((candidate) => candidate.endpoint === endpoint);
    if (binding === undefined) {
      return new Immediate({ kind: 'skipped', event, endpoint, reason: 'unconfigured', acceptedAt: delivery.acceptedAt, settledAt: now() });
    }
    let value: Eventually<RequestPlan<R>>;
    try {
      value = planEvent(event, prepareTarget(binding as unknown as Target, event.serviceType, event.method), () => lookUpOwner(event), planOptions);
    } catch (error) {
      value = failedPlan(event, endpoint, planningFailure(configPath(event.serviceType, endpoint, event.method), describeSubject(event), error), now());
    }
    return isObservable(value) ? value : new Immediate(value);
  };

  const retryOf = (request: RequestDescriptor): ResolvedRetryOptions => {
    if (request.retry === undefined) return globalRetry;
    let resolved = retryByRequest.get(request.retry);
    if (resolved === undefined) {
      resolved = resolveRetryOptions(options.retry, request.retry);
      retryByRequest.set(request.retry, resolved);
    }
    return resolved;
  };

  /**
   * Turns of each delivery that do not count towards its retry limit: failed probes of an open
   * circuit (the failure is the endpoint's), and waits at the gate a store cut short. An outage
   * spends no delivery's retries. Kept in this process only.
   */
  const held = new Map<string, number>();

  /** One send through the effect, judged by the retry policy and reported to the endpoint's gate. */
  const sendOnce = (input: AttemptInput<R>, retry: ResolvedRetryOptions, permit: EndpointPermit): Observable<AttemptResult> =>
    // One Observable around a callback rather than an operator chain: this runs once per attempt.
    new Observable<AttemptResult>((subscriber) => {
      const watch = options.watch;
      const trace = watch?.started(input);
      const startedAt = now();
      let ended = false;
      const running = attemptOnce(effect, trace?.request ?? input.request, ({ verdict }) => {
        ended = true;
        let result: AttemptResult;
        try {
          const hold = permit.end(endpointSignalOf(verdict, now(), retry.maxRetryAfterMs));
          result = resultOf(input, retry, verdict, hold);
          if (result.kind !== 'retry') held.delete(input.deliveryId);
          else if (hold) held.set(input.deliveryId, (held.get(input.deliveryId) ?? 0) + 1);
          if (trace !== undefined) watch?.ended(input, trace, result, now() - startedAt);
        } catch (error) {
          subscriber.error(error);
          return;
        }
        subscriber.next(result);
        subscriber.complete();
      });
      return () => {
        running?.unsubscribe();
        if (ended) return;
        permit.abandon();
        if (trace !== undefined) watch?.abandoned(trace);
      };
    });

  const resultOf = (input: AttemptInput<R>, retry: ResolvedRetryOptions, verdict: AttemptVerdict, hold: boolean): AttemptResult => {
    if (verdict.kind === 'delivered') return { kind: 'delivered', response: verdict.response };
    if (hold) {
      // A failed probe: the delivery waits for the endpoint at the gate, no retry is spent.
      return { kind: 'retry', delayMs: 0, reason: verdict.reason, error: verdict.error, response: verdict.response };
    }
    const spent = input.attempt - (held.get(input.deliveryId) ?? 0);
    if (verdict.kind === 'fail' || spent > retry.limit) {
      // The stores count this attempt as the outcome's `attempts`; the message says so too, as sendWithRetry's does.
      noteAttempts(verdict.error, input.attempt);
      return { kind: 'failed', reason: verdict.reason, error: verdict.error, response: verdict.response };
    }
    return {
      kind: 'retry',
      delayMs: retryDelay(spent - 1, verdict.response, retry, random, now),
      reason: verdict.reason,
      error: verdict.error,
      response: verdict.response,
    };
  };

  /**
   * One attempt: behind the endpoint's gate (pause, circuit, rate, concurrency), then through
   * the effect; the store persists the result and schedules the retry.
   */
  const attempt = (input: AttemptInput<R>): Observable<AttemptResult> => {
    const { request } = input;
    const retry = retryOf(request);
    if (input.attempt - (held.get(input.deliveryId) ?? 0) > retry.limit + 1) {
      // Attempts interrupted by crashes count: a delivery that takes the process down every
      // time it is sent does not loop.
      return new Immediate<AttemptResult>({
        kind: 'failed',
        reason: 'network',
        error: new NetworkError(
          `Expected delivery ${request.deliveryId} to settle within ${retry.limit + 1} attempts, found ${input.attempt - 1} started (interrupted attempts count)`,
        ),
        response: null,
      });
    }
    return behindGate(
      gate,
      input.endpoint,
      input.deliveryId,
      input.acceptedAt + maxDeliveryAgeMs,
      input.attempt === 1,
      (permit) => sendOnce(input, retry, permit),
      () => {
        held.delete(input.deliveryId);
        const waitedMs = now() - input.acceptedAt;
        const message = `Expected delivery ${request.deliveryId} to ${redactUrl(input.endpoint)} to start within http.maxDeliveryAgeMs (${maxDeliveryAgeMs} ms) of being accepted, it was still waiting for its endpoint (circuit open or paused) after ${waitedMs} ms`;
        return { kind: 'failed', reason: 'expired', error: new ExpiredError(message), response: null };
      },
      // The store cut the wait short (the PostgreSQL store's lock, past lockDurationMs): that
      // turn sent nothing, and does not count towards the limit either.
      () => held.set(input.deliveryId, (held.get(input.deliveryId) ?? 0) + 1),
    );
  };

  const restoreSecrets = (request: RequestDescriptor, names: readonly string[]): Readonly<Record<string, string>> => {
    const binding = endpointsFor(config, request.serviceType, request.serviceMethod).find((candidate) => candidate.endpoint === request.endpoint);
    if (binding === undefined) return {};
    const wanted = new Set(names.map((name) => name.toLowerCase()));
    const restored: Record<string, string> = {};
    const { headers, auth_token: authToken } = binding.eventConfig;
    for (const [name, value] of Object.entries(headers ?? {})) {
      const lowerName = name.toLowerCase();
      if (lowerName === 'authorization' && authToken !== undefined) continue;
      if (wanted.has(lowerName)) restored[name] = value;
    }
    if (authToken !== undefined && wanted.has('authorization')) restored['Authorization'] = `Bearer ${authToken}`;
    return restored;
  };

  const endpoints = new Set<string>();
  for (const service of ['rdm_record', 'community'] as const) {
    for (const endpoint of Object.keys(config[service] ?? {})) endpoints.add(endpoint);
  }

  return {
    plan,
    attempt,
    restoreSecrets,
    endpoints: [...endpoints],
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.rates !== undefined ? { rates: options.rates } : {}),
    ...(options.scheduler !== undefined ? { scheduler: options.scheduler } : {}),
  };
}
