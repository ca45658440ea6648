import type { Emitter } from 'mitt';
import { asyncScheduler, type Observable } from 'rxjs';
import { createEventBus, type BusEvents } from './bus/eventBus.js';
import { configuredMethods } from './config/configIndex.js';
import { DEFAULT_CONCURRENCY } from './delivery/keyedQueue.js';
import { createKyEffect } from './delivery/kyEffect.js';
import { withSigning } from './delivery/signing.js';
import { ClosedError, ConfigError } from './errors.js';
import type { HttpEffect } from './events/httpEffect.js';
import type { ServiceType } from './events/methodTables.js';
import type { DeliveryAttempt } from './events/deliveryAttempt.js';
import type { EndpointStatus } from './events/endpointStatus.js';
import type { CallbackOutcome, DeliveryOutcome } from './events/outcomes.js';
import type { AppRecord, ServiceEvent } from './events/serviceEvent.js';
import { createHooks, type HookRejection, type ServiceHooks } from './hooks/createHooks.js';
import { describeKind } from './util/describeValue.js';
import { logger } from './util/log.js';
import { backfillThrough, type BackfillOptions, type BackfillProgress } from './pipeline/backfill.js';
import { provisionerIssues, type ProvisionerOptions, type ProvisionerStats } from './pipeline/options.js';
import { startPipeline } from './pipeline/pipeline.js';
import type { DeadLetter, DeadLetterFilter } from './store/deliveryStore.js';
import { createMemoryStore } from './store/memoryStore.js';

export type { ProvisionerHttpOptions, ProvisionerOptions, ProvisionerStats } from './pipeline/options.js';

const log = logger('provisioner');

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
  /**
   * Every attempt this process made, when it ends (delivered, to be retried after a delay,
   * or failed for good): hot, shared, not replayed. Watch it to see retries while a receiver
   * is down, long before the outcome.
   */
  readonly attempts$: Observable<DeliveryAttempt>;
  /**
   * Every change of an endpoint's state in this process: its circuit opened (deliveries wait,
   * one probe per cool-down), went half-open or closed again; a `Retry-After` paused it; 429s
   * cut its concurrency. Hot, shared, not replayed.
   */
  readonly endpoints$: Observable<EndpointStatus>;
  /** A snapshot of the queue: pending, in flight, the oldest pending delivery's age, dead letters. */
  stats(): Promise<ProvisionerStats>;
  /** Resolves when every event accepted so far has all its outcomes and callback outcomes. */
  drain(): Promise<void>;
  /**
   * Stops accepting events (hook calls while it runs give `failed` outcomes with reason
   * `closed`; once it resolved, `outcomes$` has completed, and a hook call emits one process
   * warning, code `RAP_HOOK_AFTER_CLOSE`, and is dropped),
   * waits for the accepted work up to `timeoutMs`, fails what is left with reason `closed`,
   * completes the streams and closes the default effect's connections. Calling it again
   * returns the same promise.
   */
  close(options?: CloseOptions): Promise<void>;
  /**
   * The dead letters of the store (failed deliveries, oldest first) matching `filter`;
   * without a `store` option, those the default memory store keeps (the latest 1,000).
   */
  deadLetters(filter?: DeadLetterFilter): Promise<readonly DeadLetter<R>[]>;
  /**
   * Sends the dead letters matching `filter` again, with their delivery ids and a fresh
   * attempt count, behind the work already queued for their record; resolves with the ids
   * requeued.
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

/**
 * Creates a provisioner: validates the config and the options, and starts the one pipeline
 * (hooks → bus → `store.journal` → due deliveries → plan → attempt → settle → `outcomes$` →
 * callbacks → `callbacks$`) over the given store, or over `createMemoryStore()` without one,
 * with the ky effect (signed when `signing` is given), so that the hooks it hands out never
 * emit into the void. Every (event, matching endpoint) pair ends in exactly one outcome on
 * `outcomes$`; `drain()` waits for all of them and their callbacks.
 *
 * @throws {@link ConfigError} when the config is invalid, when it asks for owners
 *   (`with_record_owner`) without a `resolveOwner`, when an option is unknown or out of range.
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
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError([`options: expected an object { events, ...options }, got ${describeKind(options)}`]);
  }
  // The config's issues and the options' in one error: fixing one does not reveal the other.
  const { config, issues } = provisionerIssues<R>(options);
  if (config === null || issues.length > 0) throw new ConfigError(issues);
  const http = options.http ?? {};
  const scheduler = options.scheduler ?? asyncScheduler;

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
  let state: 'open' | 'closing' | 'closed' = 'open';
  let closing: Promise<void> | undefined;
  const isClosed = (): boolean => state !== 'open';
  const store = options.store ?? createMemoryStore<R>(http.maxQueue !== undefined ? { maxQueue: http.maxQueue } : {});
  const pipeline = startPipeline<R>({
    config,
    store,
    effect,
    events$: bus.events$,
    toRequests: {
      ...(options.resolveOwner !== undefined ? { resolveOwner: options.resolveOwner } : {}),
      ...(options.isPublic !== undefined ? { isPublic: options.isPublic } : {}),
      ...(options.ownerTimeoutMs !== undefined ? { ownerTimeoutMs: options.ownerTimeoutMs } : {}),
      ...(options.payloadTimeoutMs !== undefined ? { payloadTimeoutMs: options.payloadTimeoutMs } : {}),
    },
    ...(http.retry !== undefined ? { retry: http.retry } : {}),
    ...(http.concurrency !== undefined ? { concurrency: http.concurrency } : {}),
    ...(http.endpoints !== undefined ? { endpoints: http.endpoints } : {}),
    ...(http.circuitBreaker !== undefined ? { circuitBreaker: http.circuitBreaker } : {}),
    ...(http.maxDeliveryAgeMs !== undefined ? { maxDeliveryAgeMs: http.maxDeliveryAgeMs } : {}),
    ...(options.callbackTimeoutMs !== undefined ? { callbackTimeoutMs: options.callbackTimeoutMs } : {}),
    // The default memory store already has http.maxQueue as its own bound.
    ...(options.store !== undefined && http.maxQueue !== undefined ? { maxQueue: http.maxQueue } : {}),
    scheduler,
    isOpen: () => state === 'open',
  });

  let warnedAfterClose = false;
  const onRejected = (rejection: HookRejection<R>): void => {
    const { serviceType, method, eventId } = rejection.event;
    if (state === 'closed') {
      // outcomes$ has completed: a failed outcome would reach nobody, so the app hears of it here.
      log('%s.%s after close(): event %s dropped', serviceType, method, eventId);
      if (!warnedAfterClose) {
        warnedAfterClose = true;
        process.emitWarning(`remote-api-provisioner: ${serviceType}.${method} was called after provisioner.close() resolved; its event (and any later one) is dropped, as outcomes$ has completed`, {
          code: 'RAP_HOOK_AFTER_CLOSE',
        });
      }
      return;
    }
    // An unusable `uow` argument makes the event's arguments unusable: as with an argument
    // that cannot be copied, its deliveries fail with reason payload.
    pipeline.failUnaccepted(rejection.event, rejection.kind === 'closed' ? 'closed' : 'payload', rejection.error);
  };

  const hooksByService = new Map<ServiceType, unknown>();
  const hooks = <S extends ServiceType>(service: S): ServiceHooks<S, R> => {
    let serviceHooks = hooksByService.get(service) as ServiceHooks<S, R> | undefined;
    if (serviceHooks === undefined) {
      const configured = configuredMethods(config, service);
      serviceHooks = createHooks<S, R>(service, bus.emit, { isConfigured: (method) => configured.has(method), isClosed, onRejected });
      hooksByService.set(service, serviceHooks);
    }
    return serviceHooks;
  };

  /** A closed store that cannot answer any more (its database closed) answers with a ClosedError, not whatever its driver says. */
  const whileOpen = async <T>(action: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (state !== 'closed') throw error;
      throw new ClosedError(`Expected an open provisioner to ${action}, got a closed one (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
  };

  const finishClose = async (timeoutMs: number): Promise<void> => {
    await pipeline.close(timeoutMs);
    state = 'closed';
    bus.complete();
    if (ownEffect !== undefined) await ownEffect.close();
    log('closed');
  };

  return {
    hooks,
    emitter: bus.emitter,
    events$: bus.events$,
    outcomes$: pipeline.outcomes$,
    callbacks$: pipeline.callbacks$,
    attempts$: pipeline.attempts$,
    endpoints$: pipeline.endpoints$,
    stats: () => whileOpen('read the stats', pipeline.stats),
    drain: pipeline.drain,
    close: (closeOptions = {}) => {
      if (closing !== undefined) return closing;
      state = 'closing';
      log('closing: %d deliveries and callbacks pending (%s store)', pipeline.pending(), store.kind);
      closing = finishClose(closeOptions.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
      return closing;
    },
    deadLetters: (filter) => whileOpen('list dead letters', () => pipeline.deadLetters(filter)),
    replay: (filter) => whileOpen('replay dead letters', () => pipeline.replay(filter)),
    backfill: (source, backfillOptions) => backfillThrough({ config, emit: bus.emit, isClosed, onRejected, outcomes$: pipeline.outcomes$ }, source, backfillOptions),
    get closed() {
      return isClosed();
    },
  };
}
