import type { Emitter } from 'mitt';
import { Subject, Subscription, filter, tap, throwError, type Observable } from 'rxjs';
import { createEventBus, type BusEvents } from './bus/eventBus.js';
import { configNeedsOwner, configuredMethods, endpointsFor } from './config/configIndex.js';
import { parseConfig } from './config/decodeConfig.js';
import type { ProvisionerConfig } from './config/types.js';
import { DEFAULT_CONCURRENCY } from './delivery/keyedQueue.js';
import { createKyEffect, type KyClientOptions } from './delivery/kyEffect.js';
import { withSigning } from './delivery/signing.js';
import { closedCallbackOutcome, drainedWithin } from './delivery/closeDeadline.js';
import { unacceptedOutcomes } from './delivery/unacceptedOutcomes.js';
import { ClosedError, ConfigError, type ProvisionerError } from './errors.js';
import type { HttpEffect } from './events/httpEffect.js';
import type { ServiceType } from './events/methodTables.js';
import type { CallbackOutcome, DeliveredOutcome, DeliveryOutcome, FailureReason, RequestPlan } from './events/outcomes.js';
import type { RequestDescriptor, RetryOptions } from './events/request.js';
import type { AppRecord, ServiceEvent } from './events/serviceEvent.js';
import { createHooks, type HookRejection, type ServiceHooks } from './hooks/createHooks.js';
import { nextEventId } from './hooks/eventId.js';
import { SYSTEM_IDENTITY } from './events/identity.js';
import { isMethodOf } from './events/methodTables.js';
import { runBackfill, DEFAULT_BACKFILL_CONCURRENCY, type BackfillOptions, type BackfillProgress } from './backfill.js';
import type { DeadLetter, DeadLetterFilter, DeliveryStore } from './store/deliveryStore.js';
import { startStorePipeline } from './storePipeline.js';
import { logger, redactUrl } from './log.js';
import { deliver } from './operators/deliver.js';
import { runCallbacks } from './operators/runCallbacks.js';
import { toRequests, type ResolveOwner } from './operators/toRequests.js';

const log = logger('provisioner');

/**
 * The `http` options of {@link createProvisioner}.
 *
 * @example
 * ```ts
 * createProvisioner({ events, http: { timeoutMs: 5_000, retry: { limit: 3 }, concurrency: 32, maxQueue: 50_000 } });
 * ```
 */
export type ProvisionerHttpOptions = {
  /** Timeout of one attempt; an event config's `timeout_ms` overrides it. @default 10000 */
  readonly timeoutMs?: number;
  /** The retry policy; an event config's `retry` overrides it key by key. @default { limit: 5, baseDelayMs: 1000, maxDelayMs: 30000, maxRetryAfterMs: 60000 } */
  readonly retry?: RetryOptions;
  /** Deliveries in flight at once (of different endpoint/record keys). @default 16 */
  readonly concurrency?: number;
  /** Requests accepted and not yet settled; past it new ones fail with reason `overflow`. @default 10000 */
  readonly maxQueue?: number;
  /** Longest response body read per attempt. @default 1048576 (1 MiB) */
  readonly maxResponseBytes?: number;
  /** Replaces the default ky effect (tests, custom transports); `timeoutMs` and `maxResponseBytes` are then its own business. */
  readonly effect?: HttpEffect;
  /** ky `hooks` (`beforeRequest`, `afterResponse`, `beforeError`) and `headers` for every delivery of the default effect. */
  readonly ky?: KyClientOptions;
};

/**
 * Options of {@link createProvisioner}.
 *
 * @example
 * ```ts
 * const options: ProvisionerOptions = {
 *   events,
 *   resolveOwner: ({ record }) => users.ownerOf(String(record?.id)),
 *   signing: { secret: process.env.WEBHOOK_SECRET ?? '' },
 *   http: { timeoutMs: 10_000 },
 *   callbackTimeoutMs: 10_000,
 * };
 * const provisioner = createProvisioner(options);
 * ```
 */
export type ProvisionerOptions<R = AppRecord> = {
  /** The config (the seed's `REMOTE_API_PROVISIONER_EVENTS`); validated, an invalid one throws `ConfigError`. */
  readonly events: ProvisionerConfig<R>;
  /** The record owner for `with_record_owner`; required when any event config sets it. */
  readonly resolveOwner?: ResolveOwner<R>;
  /** Standard Webhooks signing of every request with one or several `whsec_` secrets. */
  readonly signing?: { readonly secret: string | readonly string[] };
  readonly http?: ProvisionerHttpOptions;
  /** How long `resolveOwner` may take. @default 10000 */
  readonly ownerTimeoutMs?: number;
  /** How long an async payload function may take. @default 30000 */
  readonly payloadTimeoutMs?: number;
  /** How long a callback may take to settle. @default 30000 */
  readonly callbackTimeoutMs?: number;
  /**
   * Where accepted work lives until its outcome: `createSqliteStore(...)` (survives a crash
   * of the process), `await createRedisStore(...)` (several instances share the work) or
   * `createMemoryStore(...)`. Each hook call journals its event in the store before it
   * returns; the provisioner starts the store, and closes it in `close()`. Without it, work
   * lives in this process's memory, as a plain RxJS pipeline (see docs/durability.md).
   */
  readonly store?: DeliveryStore<R>;
};

/**
 * Options of {@link Provisioner.close}.
 *
 * @example
 * ```ts
 * await provisioner.close({ timeoutMs: 20_000 });
 * ```
 */
export type CloseOptions = {
  /** How long to wait for accepted work to settle before failing the rest with reason `closed`. @default 25000 */
  readonly timeoutMs?: number;
};

/**
 * Default of {@link CloseOptions.timeoutMs}: below the usual 30 s grace period of orchestrators.
 *
 * @example
 * ```ts
 * await provisioner.close({ timeoutMs: DEFAULT_CLOSE_TIMEOUT_MS - 5_000 });
 * ```
 */
export const DEFAULT_CLOSE_TIMEOUT_MS = 25_000;

/**
 * What {@link createProvisioner} returns: the hooks to call, the streams to watch, drain and close.
 *
 * @example
 * ```ts
 * const provisioner: Provisioner = createProvisioner({ events });
 * provisioner.hooks('rdm_record').publish({ identity, record, draft });
 * await provisioner.drain();
 * ```
 */
export type Provisioner<R = AppRecord> = {
  /** The hooks of one service: one method per service method; call them where the service method runs. The same object on every call. */
  hooks<S extends ServiceType>(service: S): ServiceHooks<S, R>;
  /** The mitt emitter the hooks emit on (event type `event`). */
  readonly emitter: Emitter<BusEvents<R>>;
  /** Every event accepted from now on: hot, shared, not replayed. */
  readonly events$: Observable<ServiceEvent<R>>;
  /** One final outcome per (event, matching endpoint): hot, shared, not replayed. */
  readonly outcomes$: Observable<DeliveryOutcome<R>>;
  /** One outcome per callback run: hot, shared, not replayed. */
  readonly callbacks$: Observable<CallbackOutcome<R>>;
  /** Resolves when every event accepted so far has all its outcomes and callback outcomes. */
  drain(): Promise<void>;
  /**
   * Stops accepting events (later hook calls give `failed` outcomes with reason `closed`),
   * waits for the accepted work up to `timeoutMs`, fails what is left with reason `closed`,
   * completes the streams and closes the default effect's connections. Calling it again
   * returns the same promise.
   */
  close(options?: CloseOptions): Promise<void>;
  /**
   * The dead letters of the store (failed deliveries, oldest first) matching `filter`.
   * Without a `store` option nothing is kept: it resolves with `[]` (pass
   * `createMemoryStore()` to keep dead letters in memory).
   */
  deadLetters(filter?: DeadLetterFilter): Promise<readonly DeadLetter<R>[]>;
  /**
   * Sends the dead letters matching `filter` again, with their delivery ids and a fresh
   * attempt count, behind the work already queued for their record; resolves with the ids
   * requeued. Without a `store` option it resolves with `[]`.
   */
  replay(filter: DeadLetterFilter): Promise<readonly string[]>;
  /**
   * Feeds existing records through the pipeline as events of `options.method` (by the system
   * identity unless `options.identity` is given), at most `concurrency` records awaiting their
   * outcomes at once, the source read as they settle. The Observable (cold: each subscription
   * runs a backfill) emits the progress after every settled record and completes when all
   * are settled; it errors with a `ConfigError` when the method has no endpoint.
   */
  backfill<S extends ServiceType>(source: AsyncIterable<R> | Iterable<R>, options: BackfillOptions<S>): Observable<BackfillProgress>;
  /** Whether `close()` was called. */
  readonly closed: boolean;
};

type PendingPair = { readonly endpoint: string; request: RequestDescriptor | null; count: number };
/** An accepted event's pairs, in config order; `open` is the sum of their counts. */
type PendingEvent<R> = { readonly event: ServiceEvent<R>; readonly pairs: PendingPair[]; open: number };

/**
 * Creates a provisioner: validates the config, builds the default pipeline from the exported
 * operators (`events$ → toRequests → deliver → outcomes$ → runCallbacks → callbacks$`) over
 * the ky effect (signed when `signing` is given), and subscribes it at once, so that the
 * hooks it hands out never emit into the void. Every (event, matching endpoint) pair ends in
 * exactly one outcome on `outcomes$`; `drain()` waits for all of them and their callbacks.
 *
 * @throws {@link ConfigError} when the config is invalid, when it asks for owners
 *   (`with_record_owner`) without a `resolveOwner`, or when an option is out of range.
 *
 * @example
 * ```ts
 * const provisioner = createProvisioner({ events, resolveOwner, http: { timeoutMs: 10_000 } });
 * provisioner.outcomes$.subscribe((outcome) => console.info(outcome.kind, outcome.endpoint));
 * const hooks = provisioner.hooks('rdm_record');
 * hooks.publish({ identity, record, draft, uow });
 * await provisioner.drain();
 * await provisioner.close();
 * ```
 */
export function createProvisioner<R = AppRecord>(options: ProvisionerOptions<R>): Provisioner<R> {
  const config = parseConfig<R>(options.events);
  checkOptions(config, options);
  const http = options.http ?? {};

  const ownEffect =
    http.effect === undefined
      ? createKyEffect({
          ...(http.timeoutMs !== undefined ? { timeoutMs: http.timeoutMs } : {}),
          ...(http.maxResponseBytes !== undefined ? { maxResponseBytes: http.maxResponseBytes } : {}),
          // No more sockets per origin than deliveries in flight: a slot handed on while the
          // previous response's socket is being released waits a tick for it instead of
          // opening another connection.
          connections: http.concurrency ?? DEFAULT_CONCURRENCY,
          ...(http.ky !== undefined ? { ky: http.ky } : {}),
        })
      : undefined;
  const baseEffect: HttpEffect = http.effect ?? (ownEffect as HttpEffect);
  const effect = options.signing === undefined ? baseEffect : withSigning(baseEffect, { secret: options.signing.secret });

  const bus = createEventBus<R>();
  const outcomes = new Subject<DeliveryOutcome<R>>();
  const callbacks = new Subject<CallbackOutcome<R>>();
  const delivered = new Subject<DeliveryOutcome<R>>();
  const pipeline = new Subscription();

  let state: 'open' | 'closing' | 'closed' = 'open';
  let closing: Promise<void> | undefined;
  // Work accepted and not settled: (event, endpoint) pairs waiting for their outcome, and
  // delivered outcomes waiting for their callback.
  // Keyed by the event object itself: the pipeline hands the same object along to the outcome.
  const pendingEvents = new Map<ServiceEvent<R>, PendingEvent<R>>();
  const pendingCallbacks = new Set<DeliveredOutcome<R>>();
  let drainWaiters: (() => void)[] = [];

  const isIdle = (): boolean => pendingEvents.size === 0 && pendingCallbacks.size === 0;
  const pendingDeliveries = (): number => {
    let count = 0;
    for (const pending of pendingEvents.values()) count += pending.open;
    return count;
  };
  const pairOf = (pending: PendingEvent<R> | undefined, endpoint: string): PendingPair | undefined => {
    if (pending === undefined) return undefined;
    for (const pair of pending.pairs) {
      if (pair.endpoint === endpoint) return pair;
    }
    return undefined;
  };
  const wakeDrainWaiters = (): void => {
    if (!isIdle() || drainWaiters.length === 0) return;
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const resolve of waiters) resolve();
  };
  const hasCallback = (outcome: DeliveryOutcome<R>): boolean => {
    if (outcome.kind !== 'delivered') return false;
    for (const binding of endpointsFor(config, outcome.request.serviceType, outcome.request.serviceMethod)) {
      if (binding.endpoint === outcome.endpoint) return typeof binding.eventConfig.callback === 'function';
    }
    return false;
  };

  /** Fails every endpoint of an event that was not accepted, at once. */
  const failMemoryUnaccepted = (event: ServiceEvent<R>, reason: FailureReason, error: ProvisionerError): void => {
    for (const outcome of unacceptedOutcomes(config, event, reason, error)) outcomes.next(outcome);
  };

  /** Registers an event's pairs as pending; `false` when it has none or the provisioner is closing. */
  const accept = (event: ServiceEvent<R>): boolean => {
    const targets = endpointsFor(config, event.serviceType, event.method);
    if (targets.length === 0) return false;
    if (state !== 'open') {
      failMemoryUnaccepted(event, 'closed', closedError(event));
      return false;
    }
    const pending = pendingEvents.get(event);
    if (pending === undefined) {
      const pairs: PendingPair[] = [];
      for (const { endpoint } of targets) pairs.push({ endpoint, request: null, count: 1 });
      pendingEvents.set(event, { event, pairs, open: pairs.length });
    } else {
      // The same event emitted twice (by the app, on the emitter) is two pieces of work.
      for (const pair of pending.pairs) pair.count += 1;
      pending.open += pending.pairs.length;
    }
    return true;
  };

  const notePlan = (plan: RequestPlan<R>): void => {
    if (plan.kind !== 'request') return;
    const pair = pairOf(pendingEvents.get(plan.event), plan.request.endpoint);
    if (pair !== undefined) pair.request = plan.request;
  };

  const settleOutcome = (outcome: DeliveryOutcome<R>): void => {
    const pending = pendingEvents.get(outcome.event);
    const pair = pairOf(pending, outcome.endpoint);
    if (pending === undefined || pair === undefined || pair.count === 0) return; // already failed with reason closed
    pair.count -= 1;
    pending.open -= 1;
    if (pending.open === 0) pendingEvents.delete(outcome.event);
    const callbackDue = hasCallback(outcome);
    if (callbackDue && outcome.kind === 'delivered') pendingCallbacks.add(outcome);
    outcomes.next(outcome);
    if (callbackDue) delivered.next(outcome);
    wakeDrainWaiters();
  };

  const settleCallback = (outcome: CallbackOutcome<R>): void => {
    if (!pendingCallbacks.delete(outcome.delivery)) return;
    callbacks.next(outcome);
    wakeDrainWaiters();
  };

  const stored =
    options.store === undefined
      ? null
      : startStorePipeline<R>({
          config,
          store: options.store,
          effect,
          events$: bus.events$,
          toRequests: {
            ...(options.resolveOwner !== undefined ? { resolveOwner: options.resolveOwner } : {}),
            ...(options.ownerTimeoutMs !== undefined ? { ownerTimeoutMs: options.ownerTimeoutMs } : {}),
            ...(options.payloadTimeoutMs !== undefined ? { payloadTimeoutMs: options.payloadTimeoutMs } : {}),
          },
          ...(http.retry !== undefined ? { retry: http.retry } : {}),
          ...(http.concurrency !== undefined ? { concurrency: http.concurrency } : {}),
          ...(options.callbackTimeoutMs !== undefined ? { callbackTimeoutMs: options.callbackTimeoutMs } : {}),
          isOpen: () => state === 'open',
        });

  if (stored === null) {
  pipeline.add(
    bus.events$
      .pipe(
        filter(accept),
        toRequests(config, {
          ...(options.resolveOwner !== undefined ? { resolveOwner: options.resolveOwner } : {}),
          ...(options.ownerTimeoutMs !== undefined ? { ownerTimeoutMs: options.ownerTimeoutMs } : {}),
          ...(options.payloadTimeoutMs !== undefined ? { payloadTimeoutMs: options.payloadTimeoutMs } : {}),
        }),
        tap(notePlan),
        deliver<R>(effect, {
          ...(http.concurrency !== undefined ? { concurrency: http.concurrency } : {}),
          ...(http.maxQueue !== undefined ? { maxQueue: http.maxQueue } : {}),
          ...(http.retry !== undefined ? { retry: http.retry } : {}),
          now: Date.now,
        }),
      )
      .subscribe({ next: settleOutcome, error: (error: unknown) => log('delivery pipeline failed: %s', messageOf(error)) }),
  );
  pipeline.add(
    delivered
      .pipe(runCallbacks(config, options.callbackTimeoutMs !== undefined ? { timeoutMs: options.callbackTimeoutMs } : {}))
      .subscribe({ next: settleCallback, error: (error: unknown) => log('callback pipeline failed: %s', messageOf(error)) }),
  );

  }

  const onRejected = (rejection: HookRejection<R>): void => {
    const failUnaccepted = stored?.failUnaccepted ?? failMemoryUnaccepted;
    if (rejection.kind === 'closed') {
      failUnaccepted(rejection.event, 'closed', rejection.error);
    } else {
      // The `uow` argument is unusable, so the event's arguments are: as with an argument
      // that cannot be copied, its deliveries fail with reason payload.
      failUnaccepted(rejection.event, 'payload', rejection.error);
    }
  };

  const hooksByService = new Map<ServiceType, unknown>();
  const hooks = <S extends ServiceType>(service: S): ServiceHooks<S, R> => {
    let serviceHooks = hooksByService.get(service) as ServiceHooks<S, R> | undefined;
    if (serviceHooks === undefined) {
      const configured = configuredMethods(config, service);
      serviceHooks = createHooks<S, R>(service, bus.emit, {
        isConfigured: (method) => configured.has(method),
        isClosed: () => state !== 'open',
        onRejected,
      });
      hooksByService.set(service, serviceHooks);
    }
    return serviceHooks;
  };

  const drain = (): Promise<void> =>
    isIdle()
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          drainWaiters.push(resolve);
        });

  const finishClose = async (timeoutMs: number): Promise<void> => {
    const result = await drainedWithin(drain(), timeoutMs);

    pipeline.unsubscribe(); // aborts the requests and callbacks still running
    if (result === 'deadline') {
      log('close: %d deliveries and %d callbacks still pending after %d ms, failed as closed', pendingDeliveries(), pendingCallbacks.size, timeoutMs);
    }
    const settledAt = Date.now();
    for (const { event, pairs } of pendingEvents.values()) {
      for (const pair of pairs) {
        for (let copy = 0; copy < pair.count; copy += 1) {
          outcomes.next({
            kind: 'failed',
            event,
            endpoint: pair.endpoint,
            request: pair.request,
            reason: 'closed',
            error: new ClosedError(`Expected the delivery of ${event.serviceType}.${event.method} event ${event.eventId} to ${redactUrl(pair.endpoint)} to settle within close()'s ${timeoutMs} ms, it did not`),
            attempts: 0,
            response: null,
            acceptedAt: event.emittedAt,
            settledAt,
          });
        }
      }
    }
    pendingEvents.clear();
    for (const outcome of pendingCallbacks) callbacks.next(closedCallbackOutcome(outcome, timeoutMs, settledAt));
    pendingCallbacks.clear();
    wakeDrainWaiters();

    state = 'closed';
    bus.complete();
    delivered.complete();
    outcomes.complete();
    callbacks.complete();
    if (ownEffect !== undefined) await ownEffect.close();
    log('closed');
  };

  const closeStored = async (timeoutMs: number): Promise<void> => {
    await stored?.close(timeoutMs);
    state = 'closed';
    bus.complete();
    if (ownEffect !== undefined) await ownEffect.close();
    log('closed');
  };

  const close = (closeOptions: CloseOptions = {}): Promise<void> => {
    if (closing !== undefined) return closing;
    const timeoutMs = closeOptions.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    state = 'closing';
    if (stored !== null) {
      log('closing: %d deliveries and callbacks pending in the store pipeline', stored.pending());
      closing = closeStored(timeoutMs);
      return closing;
    }
    log('closing: %d deliveries and %d callbacks pending', pendingDeliveries(), pendingCallbacks.size);
    closing = finishClose(timeoutMs);
    return closing;
  };

  const outcomes$ = stored?.outcomes$ ?? outcomes.asObservable();

  const backfill = <S extends ServiceType>(source: AsyncIterable<R> | Iterable<R>, backfillOptions: BackfillOptions<S>): Observable<BackfillProgress> => {
    const { service, method } = backfillOptions;
    const concurrency = backfillOptions.concurrency ?? DEFAULT_BACKFILL_CONCURRENCY;
    const expected = (service === 'rdm_record' || service === 'community') && isMethodOf(service, method) ? endpointsFor(config, service, method).length : 0;
    if (expected === 0 || !Number.isInteger(concurrency) || concurrency < 1) {
      return throwError(
        () =>
          new ConfigError([
            expected === 0
              ? `backfill: expected ${String(service)}.${String(method)} to have at least one endpoint in the config, found none`
              : `backfill: expected concurrency to be a positive integer, got ${String(concurrency)}`,
          ]),
      );
    }
    let eventId = '';
    const backfillHooks = createHooks<S, R>(service, bus.emit, { isClosed: () => state !== 'open', onRejected, newEventId: () => eventId });
    const hook = backfillHooks[method] as unknown as (args: unknown) => void;
    const identity = backfillOptions.identity ?? SYSTEM_IDENTITY;
    return runBackfill<R>(source, concurrency, backfillOptions.total, {
      outcomes$,
      prepare: (record) => {
        const id = nextEventId();
        return {
          eventId: id,
          expected,
          emit: () => {
            eventId = id;
            hook({ identity, record });
          },
        };
      },
    });
  };

  return {
    hooks,
    emitter: bus.emitter,
    events$: bus.events$,
    outcomes$,
    callbacks$: stored?.callbacks$ ?? callbacks.asObservable(),
    drain: stored?.drain ?? drain,
    close,
    deadLetters: (filter) => stored?.deadLetters(filter) ?? Promise.resolve([]),
    replay: (filter) => stored?.replay(filter) ?? Promise.resolve([]),
    backfill,
    get closed() {
      return state !== 'open';
    },
  };
}

function closedError<R>(event: ServiceEvent<R>): ClosedError {
  return new ClosedError(`Expected an open provisioner to accept ${event.serviceType}.${event.method} event ${event.eventId}, got a closed one`);
}

/** Rejects what would otherwise fail later: owners without a resolver, out-of-range numbers. */
function checkOptions<R>(config: ProvisionerConfig<R>, options: ProvisionerOptions<R>): void {
  const issues: string[] = [];
  if (configNeedsOwner(config) && typeof options.resolveOwner !== 'function') {
    const paths: string[] = [];
    for (const service of ['rdm_record', 'community'] as const) {
      for (const [endpoint, methods] of Object.entries(config[service] ?? {})) {
        for (const [method, eventConfig] of Object.entries(methods as Readonly<Record<string, { readonly with_record_owner?: boolean } | undefined>>)) {
          if (eventConfig?.with_record_owner === true) paths.push(`${service}[${JSON.stringify(redactUrl(endpoint))}].${method}`);
        }
      }
    }
    issues.push(
      `resolveOwner: expected a function, because ${paths.join(', ')} ${paths.length === 1 ? 'sets' : 'set'} with_record_owner, got ${options.resolveOwner === undefined ? 'none' : typeof options.resolveOwner}`,
    );
  }
  const positive = (path: string, value: number | undefined, integer: boolean): void => {
    if (value === undefined) return;
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      issues.push(`${path}: expected a positive ${integer ? 'integer' : 'number'}, got ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))}`);
    }
  };
  positive('http.timeoutMs', options.http?.timeoutMs, false);
  positive('http.concurrency', options.http?.concurrency, true);
  positive('http.maxQueue', options.http?.maxQueue, true);
  positive('http.maxResponseBytes', options.http?.maxResponseBytes, true);
  positive('ownerTimeoutMs', options.ownerTimeoutMs, false);
  positive('payloadTimeoutMs', options.payloadTimeoutMs, false);
  positive('callbackTimeoutMs', options.callbackTimeoutMs, false);
  for (const [key, value] of Object.entries(options.http?.retry ?? {})) {
    if (!['limit', 'baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'].includes(key)) {
      issues.push(`http.retry.${key}: expected one of limit, baseDelayMs, maxDelayMs, maxRetryAfterMs, got an unknown key`);
    } else if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (key === 'limit' && !Number.isInteger(value)))) {
      issues.push(`http.retry.${key}: expected ${key === 'limit' ? 'an integer' : 'a number'} >= 0, got ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))}`);
    }
  }
  const store = options.store as Partial<DeliveryStore<R>> | undefined;
  if (store !== undefined && (typeof store !== 'object' || store === null || typeof store.journal !== 'function' || typeof store.start !== 'function')) {
    issues.push(`store: expected a delivery store (createMemoryStore, createSqliteStore or await createRedisStore), got ${store === null ? 'null' : typeof store}`);
  }
  issues.push(...kyOptionIssues(options.http?.ky, options.http?.effect !== undefined));
  if (options.http?.effect !== undefined && typeof options.http.effect !== 'function') {
    issues.push(`http.effect: expected a function (request) => Observable<ProvisionerResponse>, got ${typeof options.http.effect}`);
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

/** `http.ky`: ky's hooks and headers, and only with the default effect (a custom one has no ky client). */
function kyOptionIssues(ky: unknown, customEffect: boolean): string[] {
  if (ky === undefined) return [];
  if (typeof ky !== 'object' || ky === null || Array.isArray(ky)) return [`http.ky: expected an object { hooks?, headers? }, got ${ky === null ? 'null' : Array.isArray(ky) ? 'an array' : typeof ky}`];
  const issues: string[] = [];
  if (customEffect) issues.push('http.ky: expected no ky options next to http.effect (a custom effect has no ky client), got both');
  const { hooks, headers, ...rest } = ky as { hooks?: unknown; headers?: unknown };
  for (const key of Object.keys(rest)) issues.push(`http.ky.${key}: expected one of hooks, headers, got an unknown key`);
  if (hooks !== undefined) {
    if (typeof hooks !== 'object' || hooks === null) issues.push(`http.ky.hooks: expected an object of hook arrays, got ${hooks === null ? 'null' : typeof hooks}`);
    else {
      for (const [name, list] of Object.entries(hooks)) {
        if (!['beforeRequest', 'afterResponse', 'beforeError'].includes(name)) issues.push(`http.ky.hooks.${name}: expected one of beforeRequest, afterResponse, beforeError, got an unknown hook`);
        else if (!Array.isArray(list) || list.some((hook) => typeof hook !== 'function')) issues.push(`http.ky.hooks.${name}: expected an array of functions, got ${Array.isArray(list) ? 'an array with a non-function' : typeof list}`);
      }
    }
  }
  if (headers !== undefined) {
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) issues.push(`http.ky.headers: expected an object of header names to strings, got ${headers === null ? 'null' : typeof headers}`);
    else {
      for (const [name, value] of Object.entries(headers)) {
        // The value is not shown: headers may hold tokens.
        if (typeof value !== 'string') issues.push(`http.ky.headers[${JSON.stringify(name)}]: expected a string, got ${typeof value}`);
      }
    }
  }
  return issues;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
