import {
  EMPTY,
  Observable,
  asyncScheduler,
  catchError,
  defaultIfEmpty,
  from,
  isObservable,
  map,
  mergeMap,
  of,
  takeLast,
  throwError,
  timeout,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import type { CallbackMeta, EventConfig, ProvisionerConfig } from '../config/types.js';
import { CallbackError } from '../errors.js';
import type { JsonObject } from '../events/json.js';
import type { CallbackOutcome, DeliveredOutcome, DeliveryOutcome } from '../events/outcomes.js';
import type { ProvisionerResponse } from '../events/request.js';
import type { AppRecord } from '../events/serviceEvent.js';
import { runWithCause } from '../hooks/causeContext.js';
import { logger } from '../util/log.js';
import { redactUrl } from '../util/redact.js';

const log = logger('callbacks');

/**
 * Options of {@link runCallbacks}.
 *
 * @example
 * ```ts
 * outcomes$.pipe(runCallbacks(config, { timeoutMs: 5_000 }));
 * ```
 */
export type RunCallbacksOptions = {
  /** How long a callback may take to settle before its outcome is an error. @default 30000 */
  readonly timeoutMs?: number;
  /** Scheduler of the timeout and clock of `durationMs` (virtual time in marble tests). @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
};

/**
 * Default of {@link RunCallbacksOptions.timeoutMs}.
 *
 * @example
 * ```ts
 * createProvisioner({ events, callbackTimeoutMs: 2 * DEFAULT_CALLBACK_TIMEOUT_MS });
 * ```
 */
export const DEFAULT_CALLBACK_TIMEOUT_MS = 30_000;

type LooseCallback = (response: ProvisionerResponse, meta: CallbackMeta<unknown>) => unknown;

/**
 * Runs the event config's `callback(response, meta)` for each `delivered` outcome whose
 * config has one, and emits its {@link CallbackOutcome}: `ok` with the value (for an
 * Observable, its last value) or `error`. `meta` carries the seed's keyword arguments
 * (`service_type`, `service_method`, `request_url`, `payload`, `record_id`, `draft_id`) plus
 * the delivery id, endpoint, attempts and the original record, draft and data. The callback
 * runs inside the delivery's async context, so the app's write-back through the hooks is
 * tagged with its cause and not sent back to the same endpoint (no feedback loop). A
 * callback that throws, rejects, errors or does not settle within `timeoutMs` gives an
 * `error` outcome; the stream goes on. Callbacks run concurrently.
 *
 * ```
 * outcomes:   -d--f--d----|     d: delivered, f: failed
 * callback:    d → cold('--v|'); the second one throws
 * callbacks$: ---o--e-----|     o: ok (value v), e: error
 * ```
 *
 * @example
 * ```ts
 * const callbacks$ = outcomes$.pipe(runCallbacks(config, { timeoutMs: 5_000 }));
 * callbacks$.subscribe((outcome) => {
 *   if (outcome.kind === 'error') log(outcome.delivery.request.deliveryId, outcome.error.message);
 * });
 * ```
 */
export function runCallbacks<R = AppRecord>(
  config: ProvisionerConfig<R>,
  options: RunCallbacksOptions = {},
): OperatorFunction<DeliveryOutcome<R>, CallbackOutcome<R>> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const timeoutMs = options.timeoutMs ?? DEFAULT_CALLBACK_TIMEOUT_MS;
  return mergeMap((outcome) => {
    if (outcome.kind !== 'delivered') return EMPTY;
    const callback = eventConfigOf(config, outcome)?.callback as LooseCallback | undefined;
    if (callback === undefined) return EMPTY;
    return runCallback(callback, outcome, timeoutMs, scheduler);
  });
}

function runCallback<R>(callback: LooseCallback, delivery: DeliveredOutcome<R>, timeoutMs: number, scheduler: SchedulerLike): Observable<CallbackOutcome<R>> {
  const { request } = delivery;
  const subject = request.recordId !== null ? `record ${request.recordId}` : request.draftId !== null ? `draft ${request.draftId}` : `event ${request.eventId}`;
  const where = `The callback of ${request.serviceType}[${JSON.stringify(redactUrl(request.endpoint))}].${request.serviceMethod} for ${subject} (delivery ${request.deliveryId})`;
  const cause = { deliveryId: request.deliveryId, serviceType: request.serviceType, serviceMethod: request.serviceMethod, endpoint: request.endpoint };
  const startedAt = scheduler.now();
  const durationMs = (): number => scheduler.now() - startedAt;

  // Calling and subscribing both happen inside the cause's async context, so the work the
  // callback starts (promises, timers, inner observables) carries it along.
  const result$ = new Observable<unknown>((subscriber) =>
    runWithCause(cause, () => {
      const result = callback(delivery.response, metaOf(delivery));
      const inner$: Observable<unknown> = isObservable(result) ? result : isPromiseLike(result) ? from(result) : of(result);
      return inner$.subscribe(subscriber);
    }),
  );

  return result$.pipe(
    takeLast(1),
    defaultIfEmpty(undefined),
    timeout({
      first: timeoutMs,
      scheduler,
      with: () => throwError(() => new CallbackError(`Expected ${lower(where)} to settle within ${timeoutMs} ms, it did not`)),
    }),
    map((value): CallbackOutcome<R> => ({ kind: 'ok', delivery, value, durationMs: durationMs() })),
    catchError((error: unknown) => {
      const callbackError =
        error instanceof CallbackError ? error : new CallbackError(`${where} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      log('%s', callbackError.message);
      return of<CallbackOutcome<R>>({ kind: 'error', delivery, error: callbackError, durationMs: durationMs() });
    }),
  );
}

function eventConfigOf<R>(config: ProvisionerConfig<R>, outcome: DeliveredOutcome<R>): EventConfig | undefined {
  const services = config as Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, EventConfig | undefined>>>> | undefined>>;
  const methods = services[outcome.request.serviceType]?.[outcome.endpoint];
  if (methods === undefined || !Object.prototype.hasOwnProperty.call(methods, outcome.request.serviceMethod)) return undefined;
  return methods[outcome.request.serviceMethod];
}

function metaOf<R>(delivery: DeliveredOutcome<R>): CallbackMeta<unknown> {
  const { request, event } = delivery;
  const args = event.args as Readonly<Record<string, unknown>>;
  return {
    service_type: request.serviceType,
    service_method: request.serviceMethod,
    request_url: request.url,
    payload: request.payload,
    record_id: request.recordId,
    draft_id: request.draftId,
    delivery_id: request.deliveryId,
    endpoint: request.endpoint,
    attempts: delivery.attempts,
    record: args['record'] ?? null,
    draft: args['draft'] ?? null,
    data: (args['data'] ?? null) as JsonObject | null,
    event: event as CallbackMeta<unknown>['event'],
  };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function lower(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
