import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventCause } from '../events/serviceEvent.js';

/**
 * The delivery whose callback is running, carried through `await`s, timers and promise
 * chains by async context (not by time windows), so that events the callback's write-back
 * causes can be recognised and not sent back to the same endpoint.
 */
const causeStorage = new AsyncLocalStorage<EventCause>();

/**
 * Runs `fn` with `cause` as the current cause: every hook called inside it, synchronously or
 * after any number of `await`s, stamps its event with `causedBy: cause`. Returns what `fn`
 * returns (a promise stays a promise).
 *
 * @example
 * ```ts
 * await runWithCause(
 *   { deliveryId, serviceType: 'rdm_record', serviceMethod: 'publish', endpoint },
 *   () => callback(response, meta),
 * );
 * ```
 */
export function runWithCause<T>(cause: EventCause, fn: () => T): T {
  return causeStorage.run(cause, fn);
}

/**
 * The cause in effect here (set by {@link runWithCause}), or `null` outside any.
 *
 * @example
 * ```ts
 * runWithCause(cause, async () => {
 *   await save(record);
 *   currentCause() === cause; // true
 * });
 * currentCause(); // null
 * ```
 */
export function currentCause(): EventCause | null {
  return causeStorage.getStore() ?? null;
}
