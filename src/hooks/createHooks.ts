import { captureTraceContext } from '../util/traceContext.js';
import { ClosedError, PayloadError, ProvisionerError } from '../errors.js';
import { SERVICE_TYPES, methodsOf } from '../events/methodTables.js';
import type { MethodOf, ServiceType } from '../events/methodTables.js';
import type { AppRecord, MethodArgs, ServiceEvent } from '../events/serviceEvent.js';
import { logger } from '../util/log.js';
import { currentCause } from './causeContext.js';
import { nextEventId } from './eventId.js';
import { snapshotArgs } from './snapshot.js';
import { missingArguments } from './missingArguments.js';
import { isOutboxUnitOfWork } from './outboxUnitOfWork.js';
import { isUnitOfWork } from './unitOfWork.js';

const log = logger('hooks');

/**
 * One hook per method of a service, named after the method (the seed's table is the single
 * source): the app calls `hooks.publish({ identity, record, draft, uow })` where its own
 * service method runs, the way Invenio runs service components. A hook returns at once and
 * never throws.
 *
 * @example
 * ```ts
 * const hooks: ServiceHooks<'rdm_record', MyRecord> = provisioner.hooks('rdm_record');
 * hooks.publish({ identity, record, draft, uow });
 * hooks.delete_record({ identity, record, data: tombstone, uow });
 * ```
 */
export type ServiceHooks<S extends ServiceType, R = AppRecord> = {
  readonly [M in MethodOf<S>]: (args: MethodArgs<S, M, R>) => void;
};

/**
 * An event a hook built but could not emit: the provisioner was closed when the event was
 * due (`closed`), the `uow` argument would not take the commit callback (`unit-of-work`), or
 * the call lacked an argument its method requires (`arguments`: `delete_record` without
 * `record`, say; the error names each missing one). The provisioner turns it into a `failed`
 * outcome (reason `closed`, or `payload` for the other two), so that nothing is dropped
 * silently and nothing is sent to `/undefined`.
 *
 * @example
 * ```ts
 * createHooks('rdm_record', bus.emit, {
 *   isClosed: () => closed,
 *   onRejected: (rejection) => failed.push({ event: rejection.event, reason: rejection.kind, error: rejection.error }),
 * });
 * ```
 */
export type HookRejection<R = AppRecord> =
  | { readonly kind: 'closed'; readonly event: ServiceEvent<R>; readonly error: ClosedError }
  | { readonly kind: 'unit-of-work'; readonly event: ServiceEvent<R>; readonly error: ProvisionerError }
  | { readonly kind: 'arguments'; readonly event: ServiceEvent<R>; readonly error: PayloadError };

/**
 * How {@link createHooks}' hooks decide what to emit; every option has a default.
 *
 * @example
 * ```ts
 * const configured = new Set(['publish', 'delete_record']);
 * const options: HookOptions<'rdm_record'> = {
 *   isConfigured: (method) => configured.has(method),
 *   isClosed: () => closing,
 *   onRejected: (rejection) => reportFailure(rejection),
 * };
 * ```
 */
export type HookOptions<S extends ServiceType = ServiceType, R = AppRecord> = {
  /**
   * Whether any endpoint is configured for a method. Hooks of unconfigured methods return at
   * once: no snapshot, no event. Called on every hook call, so keep it a lookup.
   * @default every method is configured
   */
  readonly isConfigured?: (method: MethodOf<S>) => boolean;
  /**
   * Whether the provisioner is closed. Checked when the event is due (at the call, or at the
   * commit of its `uow`); a closed provisioner gets the event through `onRejected` instead.
   * @default never closed
   */
  readonly isClosed?: () => boolean;
  /** Receives the events that could not be emitted. @default logs them (debug) */
  readonly onRejected?: (rejection: HookRejection<R>) => void;
  /** The event id of each call. @default a process-unique `<random prefix>-<counter>` */
  readonly newEventId?: () => string;
  /** The clock of `emittedAt` (ms since epoch). @default Date.now */
  readonly now?: () => number;
};

const everyMethod = (): boolean => true;
const neverClosed = (): boolean => false;
const logRejection = (rejection: HookRejection<unknown>): void => {
  log('event %s of %s.%s not emitted (%s): %s', rejection.event.eventId, rejection.event.serviceType, rejection.event.method, rejection.kind, rejection.error.message);
};

/**
 * The hooks of one service: an object with one method per method of `METHOD_TABLES[service]`,
 * each of which snapshots its arguments (all but `uow`) into a typed {@link ServiceEvent}
 * and hands it to `emit`: at once, or when the `uow` argument commits (never when it rolls
 * back). Events carry a process-unique `eventId`, `emittedAt` (call time), `recordId` /
 * `draftId` (`record.id` / `draft.id` as strings, else `null`) and `causedBy` (the
 * callback whose write-back the call ran in, when it did).
 *
 * A hook never blocks on I/O and never throws into the app: a call without an argument its
 * method requires ({@link RequiredArgumentOf}) makes an event that goes to `onRejected`
 * (kind `arguments`) when it is due instead of to `emit`; arguments that cannot be copied
 * make one marked with `snapshotError`; an `emit` that throws is logged.
 *
 * @example
 * ```ts
 * const bus = createEventBus();
 * const hooks = createHooks('rdm_record', bus.emit, { isConfigured: (method) => method === 'publish' });
 * hooks.publish({ identity, record, draft, uow });   // emitted when uow commits
 * hooks.read({ identity, record });                  // not configured: returns at once
 * ```
 * @throws {@link ProvisionerError} when `service` is not `rdm_record` or `community` (at creation only).
 */
export function createHooks<S extends ServiceType, R = AppRecord>(
  service: S,
  emit: (event: ServiceEvent<R>) => void,
  options: HookOptions<S, R> = {},
): ServiceHooks<S, R> {
  if (!(SERVICE_TYPES as readonly unknown[]).includes(service)) {
    throw new ProvisionerError(
      `Expected the service type to be one of ${SERVICE_TYPES.map((name) => `"${name}"`).join(', ')}, got ${JSON.stringify(service) ?? String(service)}`,
    );
  }
  const isConfigured = options.isConfigured ?? everyMethod;
  const isClosed = options.isClosed ?? neverClosed;
  const onRejected: (rejection: HookRejection<R>) => void = options.onRejected ?? logRejection;
  const newEventId = options.newEventId ?? nextEventId;
  const now = options.now ?? Date.now;

  const reject = (rejection: HookRejection<R>): void => {
    try {
      onRejected(rejection);
    } catch (error) {
      log('onRejected threw for event %s: %s', rejection.event.eventId, describe(error));
    }
  };

  /** Emits an event that is due now, unless the provisioner is closed. */
  const deliver = (event: ServiceEvent<R>): void => {
    let closed: boolean;
    try {
      closed = isClosed();
    } catch (error) {
      log('isClosed threw: %s', describe(error));
      closed = false;
    }
    if (closed) {
      reject({
        kind: 'closed',
        event,
        error: new ClosedError(`Expected an open provisioner to emit ${event.serviceType}.${event.method} event ${event.eventId}, got a closed one`),
      });
      return;
    }
    try {
      emit(event);
    } catch (error) {
      log('emitting event %s of %s.%s threw: %s', event.eventId, event.serviceType, event.method, describe(error));
    }
  };

  const hookOf = (method: MethodOf<S>) =>
    function hook(args: unknown): void {
      try {
        if (!isConfigured(method)) return;
        const emittedAt = now();
        const causedBy = currentCause();
        // The context of the call itself: with a unit of work the event is emitted at commit.
        const traceContext = captureTraceContext();
        const snapshot = snapshotArgs(args);
        const base = {
          eventId: newEventId(),
          serviceType: service,
          method,
          args: snapshot.args,
          recordId: idOf(snapshot.args['record']),
          draftId: idOf(snapshot.args['draft']),
          emittedAt,
          causedBy,
          ...(traceContext === undefined ? {} : { traceContext }),
        };
        const event = Object.freeze(
          snapshot.error === null ? base : { ...base, snapshotError: snapshot.error },
        ) as unknown as ServiceEvent<R>;

        // Copy failures already fail the event (reason payload); only a complete copy is checked.
        const missing = snapshot.error === null ? missingArguments(service, method, snapshot.args) : null;
        const due = (): void => {
          if (missing === null) deliver(event);
          else reject({ kind: 'arguments', event, error: new PayloadError(missing) });
        };

        const uow = typeof args === 'object' && args !== null ? readUow(args) : undefined;
        if (uow === undefined || uow === null) {
          if (log.enabled) log('%s.%s: event %s', service, method, event.eventId);
          due();
          return;
        }
        if (!isUnitOfWork(uow)) {
          reject({
            kind: 'unit-of-work',
            event,
            error: new ProvisionerError(`Expected \`uow\` of ${service}.${method} to have an onCommit function, got ${describeValue(uow)}`),
          });
          return;
        }
        let pending = true;
        let registration: 'inTransaction' | 'onCommit' = 'onCommit';
        try {
          // A transactional outbox journals inside the app's transaction, just before it commits.
          const outbox = isOutboxUnitOfWork(uow);
          registration = outbox ? 'inTransaction' : 'onCommit';
          const register = outbox ? uow.inTransaction.bind(uow) : uow.onCommit.bind(uow);
          register(() => {
            if (!pending) return;
            pending = false;
            if (log.enabled) log('%s.%s: event %s (uow committed)', service, method, event.eventId);
            due();
          });
          if (log.enabled) log('%s.%s: event %s waits for its uow', service, method, event.eventId);
        } catch (error) {
          pending = false;
          reject({
            kind: 'unit-of-work',
            event,
            error: new ProvisionerError(`Expected \`uow.${registration}\` of ${service}.${method} to accept the event's ${registration === 'onCommit' ? 'commit' : 'journaling'} callback, got an error: ${describe(error)}`, { cause: error }),
          });
        }
      } catch (error) {
        log('%s.%s hook failed unexpectedly: %s', service, method, describe(error));
      }
    };

  const hooks: Record<string, (args: unknown) => void> = {};
  for (const method of methodsOf(service)) {
    hooks[method] = hookOf(method);
  }
  return Object.freeze(hooks) as unknown as ServiceHooks<S, R>;
}

/** The `uow` argument; a throwing getter counts as a broken unit of work, not as none. */
function readUow(args: object): unknown {
  try {
    return (args as { readonly uow?: unknown }).uow;
  } catch {
    return UNREADABLE_UOW;
  }
}

const UNREADABLE_UOW = Object.freeze({ unreadable: true });

/** `String(value.id)` when `value` has a string or number id, else `null`. */
function idOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const id = (value as { readonly id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' || typeof id === 'bigint' ? String(id) : null;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : describeValue(error);
}

function describeValue(value: unknown): string {
  if (value === UNREADABLE_UOW) return 'a getter that threw';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object without it' : typeof value;
}
