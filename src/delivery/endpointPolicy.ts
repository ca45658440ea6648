/**
 * How the pipeline treats one receiving endpoint: its rate and concurrency limits and its
 * circuit breaker, from the provisioner's `http` options.
 * @packageDocumentation
 */

/**
 * Limits of one endpoint (`http.endpoints[endpointKey]`).
 *
 * @example
 * ```ts
 * createProvisioner({ events, http: { endpoints: { [DOCUMENTS]: { ratePerSecond: 50, concurrency: 4 } } } });
 * ```
 */
export type EndpointLimits = {
  /** Request starts per second at most, spaced `1000 / ratePerSecond` ms apart (no bursts): per process, and across instances sharing a Redis or PostgreSQL store. */
  readonly ratePerSecond?: number;
  /** Attempts in flight to this endpoint at once, in this process. @default http.concurrency (16) */
  readonly concurrency?: number;
};

/**
 * The circuit breaker of every endpoint (`http.circuitBreaker`; `false` turns it off).
 *
 * @example
 * ```ts
 * createProvisioner({ events, http: { circuitBreaker: { failureThreshold: 10, maxCooldownMs: 120_000 } } });
 * ```
 */
export type CircuitBreakerOptions = {
  /** Consecutive network failures, timeouts or 5xx (without `Retry-After`) that open the circuit. @default 5 */
  readonly failureThreshold?: number;
  /** The failures must fall within this window. @default 30000 */
  readonly windowMs?: number;
  /** The first cool-down before a probe; each failed probe doubles it. @default 1000 */
  readonly minCooldownMs?: number;
  /** The longest cool-down. @default 60000 */
  readonly maxCooldownMs?: number;
};

/**
 * Default of `http.maxDeliveryAgeMs`: a delivery waiting for its endpoint (circuit open,
 * paused) fails with reason `expired` after a day.
 *
 * @example
 * ```ts
 * createProvisioner({ events, http: { maxDeliveryAgeMs: DEFAULT_MAX_DELIVERY_AGE_MS * 7 } });
 * ```
 */
export const DEFAULT_MAX_DELIVERY_AGE_MS = 86_400_000;

/** The breaker's defaults. @internal */
export const DEFAULT_CIRCUIT_BREAKER: Required<CircuitBreakerOptions> = Object.freeze({
  failureThreshold: 5,
  windowMs: 30_000,
  minCooldownMs: 1_000,
  maxCooldownMs: 60_000,
});

/** One endpoint's policy with every field set. @internal */
export type EndpointPolicy = {
  /** Milliseconds between request starts; 0 without a rate. */
  readonly intervalMs: number;
  readonly concurrency: number;
  /** `null`: no circuit breaker. */
  readonly breaker: Required<CircuitBreakerOptions> | null;
  readonly maxRetryAfterMs: number;
};

/** What {@link endpointPolicies} reads. @internal */
export type EndpointPolicyOptions = {
  readonly endpoints?: Readonly<Record<string, EndpointLimits>>;
  readonly circuitBreaker?: CircuitBreakerOptions | false;
  readonly concurrency: number;
  readonly maxRetryAfterMs: number;
};

/** The policy of each endpoint, by its config key. @internal */
export function endpointPolicies(options: EndpointPolicyOptions): (endpoint: string) => EndpointPolicy {
  const breaker = options.circuitBreaker === false ? null : { ...DEFAULT_CIRCUIT_BREAKER, ...options.circuitBreaker };
  const base: EndpointPolicy = { intervalMs: 0, concurrency: options.concurrency, breaker, maxRetryAfterMs: options.maxRetryAfterMs };
  const byEndpoint = new Map<string, EndpointPolicy>();
  for (const [endpoint, limits] of Object.entries(options.endpoints ?? {})) {
    byEndpoint.set(endpoint, {
      ...base,
      intervalMs: limits.ratePerSecond === undefined ? 0 : 1_000 / limits.ratePerSecond,
      concurrency: limits.concurrency ?? options.concurrency,
    });
  }
  return (endpoint) => byEndpoint.get(endpoint) ?? base;
}
