import { ClosedError } from '../errors.js';
import type { CallbackOutcome, DeliveredOutcome } from '../events/outcomes.js';
import type { AppRecord } from '../events/serviceEvent.js';

/**
 * Waits for `work` (a drain) at most `timeoutMs`: `'drained'` when it settled in time,
 * `'deadline'` otherwise. The timer is cleared either way, so it never holds the process open.
 *
 * @example
 * ```ts
 * if ((await drainedWithin(drain(), 10_000)) === 'deadline') log('still pending');
 * ```
 * @internal
 */
export async function drainedWithin(work: Promise<unknown>, timeoutMs: number): Promise<'drained' | 'deadline'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), timeoutMs);
  });
  try {
    return await Promise.race([work.then(() => 'drained' as const), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The outcome of a callback still running when `close()`'s deadline passed: an error with
 * reason closed, timed from its delivery's settling.
 *
 * @example
 * ```ts
 * for (const delivery of pendingCallbacks) callbacks.next(closedCallbackOutcome(delivery, timeoutMs, Date.now()));
 * ```
 * @internal
 */
export function closedCallbackOutcome<R = AppRecord>(delivery: DeliveredOutcome<R>, timeoutMs: number, settledAt: number): CallbackOutcome<R> {
  return {
    kind: 'error',
    delivery,
    error: new ClosedError(`Expected the callback of delivery ${delivery.request.deliveryId} to settle within close()'s ${timeoutMs} ms, it did not`),
    durationMs: settledAt - delivery.settledAt,
  };
}
