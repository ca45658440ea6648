/**
 * The state of one endpoint's circuit: `closed` (deliveries flow), `open` (deliveries wait in
 * the store; one probe goes out per cool-down), `half-open` (the probe is in flight).
 *
 * @example
 * ```ts
 * const healthy = (state: CircuitState) => state === 'closed';
 * ```
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * A change of one endpoint's state, as `provisioner.endpoints$` reports it: its circuit
 * opened, went half-open for a probe, or closed again; or the endpoint was paused by a
 * `Retry-After` (`paused`, until `until`) or its concurrency was cut by 429s (`throttled`).
 *
 * @example
 * ```ts
 * provisioner.endpoints$.subscribe(({ endpoint, state, since, reason }) => {
 *   if (state === 'open') alert(`${endpoint} unreachable since ${new Date(since).toISOString()}: ${reason}`);
 * });
 * ```
 */
export type EndpointStatus = {
  /** The endpoint: its config key (query string and credentials redacted). */
  readonly endpoint: string;
  readonly state: CircuitState | 'paused' | 'throttled';
  /** When the endpoint entered this state (ms since epoch). */
  readonly since: number;
  /** Why: the last failure (`network`, `timeout`, `http-status 503`), `retry-after`, `429`, `probe failed`, `recovered`. */
  readonly reason: string;
  /** `open`: when the next probe may go; `paused`: when the pause ends. */
  readonly until?: number;
  /** `throttled`: the concurrency now allowed. */
  readonly concurrency?: number;
};
