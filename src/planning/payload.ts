/**
 * The payload of a request: the config's object or what its payload function returns,
 * checked, and copied as the JSON data that is sent.
 * @internal
 * @packageDocumentation
 */
import { catchError, from, isObservable, map, of, throwError, timeout, type SchedulerLike } from 'rxjs';
import type { EventConfig } from '../config/types.js';
import { PayloadError } from '../errors.js';
import type { JsonObject } from '../events/json.js';
import { describeFound, messageOf } from '../util/describeValue.js';
import { NotJsonValue, jsonCopy } from '../util/jsonCopy.js';
import { isPromiseLike, type Eventually } from './eventually.js';
import { PlanFailure } from './planFailure.js';
import { lowerFirst } from './subject.js';

/**
 * Default of `ToRequestsOptions.payloadTimeoutMs`.
 *
 * @example
 * ```ts
 * toRequests(config, { payloadTimeoutMs: 2 * DEFAULT_PAYLOAD_TIMEOUT_MS });
 * ```
 */
export const DEFAULT_PAYLOAD_TIMEOUT_MS = 30_000;

/** What a payload becomes: the JSON text sent and the copy of the data it holds. */
type SentPayload = { readonly body: string; readonly payload: JsonObject };

/**
 * The payload of an event config for the call's arguments: the static object, or the payload
 * function's result (awaited up to `timeoutMs`), as a JSON object or `null`; or why there is
 * none (reason `payload`).
 *
 * @example
 * ```ts
 * buildPayload(eventConfig, args, path, 'record q1', 30_000, asyncScheduler);
 * ```
 * @internal
 */
export function buildPayload(
  eventConfig: EventConfig,
  args: Readonly<Record<string, unknown>>,
  path: string,
  subject: string,
  timeoutMs: number,
  scheduler: SchedulerLike,
): Eventually<JsonObject | null | PlanFailure> {
  const payload: unknown = eventConfig.payload;
  if (typeof payload !== 'function') return checkPayload(payload, `The payload of ${path}`, subject);
  const where = `The payload function of ${path}`;
  const thrown = (error: unknown): PlanFailure =>
    new PlanFailure('payload', error instanceof PayloadError ? error : new PayloadError(`${where} threw for ${subject}: ${messageOf(error)}`, { cause: error }));
  let result: unknown;
  try {
    result = (payload as (args: Readonly<Record<string, unknown>>) => unknown)(args);
  } catch (error) {
    return thrown(error);
  }
  if (isPromiseLike(result)) {
    return from(result).pipe(
      timeout({
        first: timeoutMs,
        scheduler,
        with: () => throwError(() => new PayloadError(`Expected ${lowerFirst(where)} to settle within ${timeoutMs} ms for ${subject}, it did not`)),
      }),
      map((value) => checkPayload(value, where, subject)),
      catchError((error: unknown) => of(thrown(error))),
    );
  }
  if (isObservable(result)) {
    return new PlanFailure('payload', new PayloadError(`Expected ${lowerFirst(where)} to return a JSON object, null or a Promise of one for ${subject}, got an Observable`));
  }
  return checkPayload(result, where, subject);
}

/**
 * The payload as sent: a copy detached from the app's object (strings shared), and its JSON
 * text; or, when JSON would change or drop a value in it (a `Map`, a `Set`, a function, a
 * symbol key, `NaN`, `Infinity`, a `BigInt`, a cycle), a failure that names the value's path:
 * `payload.tags: expected a JSON value, got a Map`. `undefined` properties are left out and
 * values with `toJSON` (dates) are sent as it returns, as JSON does.
 *
 * @example
 * ```ts
 * serializePayload({ id: 'x', when: new Date(0) }, path, 'record x');
 * // { body: '{"id":"x","when":"1970-01-01T00:00:00.000Z"}', payload: { id: 'x', when: '1970-01-01T00:00:00.000Z' } }
 * ```
 * @internal
 */
export function serializePayload(payload: JsonObject, path: string, subject: string): SentPayload | PlanFailure {
  try {
    const copy = jsonCopy(payload, 'payload');
    if (copy instanceof NotJsonValue) {
      return new PlanFailure('payload', new PayloadError(`Expected the payload of ${path} to be JSON-serializable for ${subject}: ${copy.message}`));
    }
    return { body: JSON.stringify(copy), payload: copy as JsonObject };
  } catch (error) {
    // A getter or a proxy of the app's object that throws.
    return new PlanFailure('payload', new PayloadError(`Expected the payload of ${path} to be JSON-serializable for ${subject}, but serializing it failed: ${messageOf(error)}`, { cause: error }));
  }
}

function checkPayload(value: unknown, where: string, subject: string): JsonObject | null | PlanFailure {
  if (value === null) return null;
  if (!isPlainObject(value)) {
    return new PlanFailure('payload', new PayloadError(`Expected ${lowerFirst(where)} to be a JSON object or null for ${subject}, got ${describeFound(value)}`));
  }
  if (Object.prototype.hasOwnProperty.call(value, 'internal_error')) {
    const reported = value['internal_error'];
    return new PlanFailure('payload', new PayloadError(`${where} reported an internal error for ${subject}: ${typeof reported === 'string' ? JSON.stringify(reported) : describeFound(reported)}`));
  }
  return value as JsonObject;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
