/**
 * The pipeline's side of a {@link DeliveryStore}: how a stored delivery is planned (the
 * config's payload, owner and URL for its one endpoint, through `toRequests`), how one attempt
 * is sent (the `HttpEffect`, then the retry policy), and how secret headers come back from
 * the current config when the store loads a request it stored without them.
 * @internal
 * @packageDocumentation
 */
import { firstValueFrom, of } from 'rxjs';
import { endpointsFor } from './config/configIndex.js';
import type { ProvisionerConfig } from './config/types.js';
import { classifyError, classifyResponse, resolveRetryOptions, retryDelay, type AttemptVerdict, type ResolvedRetryOptions } from './delivery/retryPolicy.js';
import { noteAttempts } from './delivery/sendWithRetry.js';
import { describeUrl } from './delivery/urls.js';
import { NetworkError } from './errors.js';
import type { HttpEffect } from './events/httpEffect.js';
import type { RequestPlan } from './events/outcomes.js';
import type { RequestDescriptor, RetryOptions } from './events/request.js';
import type { AppRecord } from './events/serviceEvent.js';
import { toRequests, type ToRequestsOptions } from './operators/toRequests.js';
import type { AttemptInput, AttemptResult, DeliveryHandlers, StoredDelivery } from './store/deliveryStore.js';

/** What {@link storeHandlers} builds the handlers from. @internal */
export type StoreHandlerOptions<R> = {
  readonly config: ProvisionerConfig<R>;
  readonly effect: HttpEffect;
  readonly toRequests?: ToRequestsOptions<R>;
  readonly retry?: RetryOptions;
  readonly concurrency?: number;
  /** @default Math.random */
  readonly random?: () => number;
  /** @default Date.now */
  readonly now?: () => number;
};

/**
 * The plan, attempt and restoreSecrets handlers the provisioner starts a store with.
 *
 * A delivery whose endpoint (or whose method at that endpoint) is no longer in the config
 * when it is planned (work resumed or replayed after a config change) ends as `skipped` with
 * reason `unconfigured`: the app no longer asks for it.
 * @internal
 */
export function storeHandlers<R = AppRecord>(options: StoreHandlerOptions<R>): DeliveryHandlers<R> {
  const { config, effect } = options;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  /** One operator per (service, endpoint): `toRequests` over a config with that endpoint only. */
  const planners = new Map<string, ReturnType<typeof toRequests<R>>>();
  const retryByRequest = new WeakMap<RetryOptions, ResolvedRetryOptions>();
  const globalRetry = resolveRetryOptions(options.retry);

  const plannerFor = (delivery: StoredDelivery<R>): ReturnType<typeof toRequests<R>> | null => {
    const { serviceType, method } = delivery.event;
    const binding = endpointsFor(config, serviceType, method).find((candidate) => candidate.endpoint === delivery.endpoint);
    if (binding === undefined) return null;
    const cacheKey = `${serviceType} ${delivery.endpoint}`;
    let planner = planners.get(cacheKey);
    if (planner === undefined) {
      const serviceConfig = config[serviceType] as Readonly<Record<string, unknown>>;
      const oneEndpoint = { [serviceType]: { [delivery.endpoint]: serviceConfig[delivery.endpoint] } } as ProvisionerConfig<R>;
      planner = toRequests<R>(oneEndpoint, options.toRequests ?? {});
      planners.set(cacheKey, planner);
    }
    return planner;
  };

  const plan = async (delivery: StoredDelivery<R>): Promise<RequestPlan<R>> => {
    const planner = plannerFor(delivery);
    if (planner === null) {
      return { kind: 'skipped', event: delivery.event, endpoint: delivery.endpoint, reason: 'unconfigured', acceptedAt: delivery.acceptedAt, settledAt: now() };
    }
    return firstValueFrom(of(delivery.event).pipe(planner));
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

  const attempt = async (input: AttemptInput<R>): Promise<AttemptResult> => {
    const { request } = input;
    const retry = retryOf(request);
    if (input.attempt > retry.limit + 1) {
      // Attempts interrupted by crashes count: a delivery that takes the process down every
      // time it is sent does not loop.
      return {
        kind: 'failed',
        reason: 'network',
        error: new NetworkError(
          `Expected delivery ${request.deliveryId} to settle within ${retry.limit + 1} attempts, found ${input.attempt - 1} started (interrupted attempts count)`,
        ),
        response: null,
      };
    }
    const verdict = await sendOnce(effect, request, input.signal);
    if (verdict.kind === 'delivered') return { kind: 'delivered', response: verdict.response };
    if (verdict.kind === 'fail' || input.attempt > retry.limit) {
      // The stores count this attempt as the outcome's `attempts`; the message says so too, as in memory.
      noteAttempts(verdict.error, input.attempt);
      return { kind: 'failed', reason: verdict.reason, error: verdict.error, response: verdict.response };
    }
    return {
      kind: 'retry',
      delayMs: retryDelay(input.attempt - 1, verdict.response, retry, random, now),
      reason: verdict.reason,
      error: verdict.error,
      response: verdict.response,
    };
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
  };
}

/** One attempt through the effect: its first response, error or completion, classified; aborted with `signal`. */
function sendOnce(effect: HttpEffect, request: RequestDescriptor, signal: AbortSignal): Promise<AttemptVerdict> {
  return new Promise<AttemptVerdict>((resolve) => {
    let settled = false;
    const finish = (verdict: AttemptVerdict): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      subscription?.unsubscribe();
      resolve(verdict);
    };
    const onAbort = (): void => finish(classifyError(request, new NetworkError(`The attempt of delivery ${request.deliveryId} was aborted: the store is closing`)));
    let subscription: { unsubscribe(): void } | undefined;
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      subscription = effect(request).subscribe({
        next: (response) => finish(classifyResponse(request, response)),
        error: (error: unknown) => finish(classifyError(request, error)),
        complete: () =>
          finish(classifyError(request, new NetworkError(`Expected a response from ${request.method} ${describeUrl(request.url)}, got an effect that completed without one`))),
      });
    } catch (error) {
      finish(classifyError(request, error));
    }
    if (settled) subscription?.unsubscribe();
  });
}
