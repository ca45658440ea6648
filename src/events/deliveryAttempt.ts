import type { ProvisionerError } from '../errors.js';
import type { FailureReason } from './outcomes.js';

/**
 * One attempt of a delivery, as `provisioner.attempts$` reports it when the attempt ends:
 * `delivered` (2xx), `retry` (it will be tried again after `nextDelayMs`) or `failed` (for
 * good; the outcome follows on `outcomes$`). Attempts are reported by the instance that made
 * them.
 *
 * @example
 * ```ts
 * provisioner.attempts$.subscribe((attempt) => {
 *   if (attempt.result === 'retry') log.warn(`${attempt.deliveryId}: attempt ${attempt.attempt} ${attempt.reason}, next in ${attempt.nextDelayMs} ms`);
 * });
 * ```
 */
export type DeliveryAttempt = {
  readonly deliveryId: string;
  readonly serviceType: string;
  readonly serviceMethod: string;
  /** The config key of the endpoint. */
  readonly endpoint: string;
  readonly recordId: string | null;
  /** 1 for the first attempt; attempts interrupted by a crash count. */
  readonly attempt: number;
  readonly result: 'delivered' | 'retry' | 'failed';
  /** The response's status, `null` when there was none (network error, timeout). */
  readonly status: number | null;
  /** Why the attempt did not deliver; `null` when it did. */
  readonly reason: FailureReason | null;
  readonly error: ProvisionerError | null;
  /** For `retry`: the wait before the next attempt (backoff or `Retry-After`). */
  readonly nextDelayMs: number | null;
  /** How long the attempt took (ms). */
  readonly durationMs: number;
};
