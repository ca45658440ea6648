import type { CircuitState, EndpointStatus } from '../events/endpointStatus.js';
import type { ProvisionerResponse } from '../events/request.js';
import type { EndpointPolicy } from './endpointPolicy.js';
import { parseRetryAfter } from './retryAfter.js';
import type { AttemptVerdict } from './retryPolicy.js';

/**
 * What one ended attempt says about its endpoint: it took the request (`success`), answered
 * (any other status below 500 but 429: the endpoint is up), asked for less (`throttled`: 429),
 * asked for a pause (`unavailable`: 503 with `Retry-After`) or failed (network, timeout, 5xx).
 * @internal
 */
export type EndpointSignal =
  | { readonly kind: 'success' | 'answered' }
  | { readonly kind: 'throttled' | 'unavailable'; readonly pauseMs: number | null }
  | { readonly kind: 'failure'; readonly reason: string };

/** Reads an attempt's verdict as an {@link EndpointSignal}, `Retry-After` capped at `maxRetryAfterMs`. @internal */
export function endpointSignalOf(verdict: AttemptVerdict, now: number, maxRetryAfterMs: number): EndpointSignal {
  if (verdict.kind === 'delivered') return { kind: 'success' };
  const response = verdict.response;
  if (response === null) return { kind: 'failure', reason: verdict.reason };
  const { status } = response;
  if (status === 429) return { kind: 'throttled', pauseMs: pauseOf(response, now, maxRetryAfterMs) };
  if (status === 503) {
    const pauseMs = pauseOf(response, now, maxRetryAfterMs);
    if (pauseMs !== null) return { kind: 'unavailable', pauseMs };
  }
  if (status >= 500) return { kind: 'failure', reason: `http-status ${status}` };
  return { kind: 'answered' };
}

function pauseOf(response: ProvisionerResponse, now: number, maxRetryAfterMs: number): number | null {
  const header = response.headers['retry-after'] ?? response.headers['Retry-After'];
  const waitMs = parseRetryAfter(header, now);
  return waitMs === null ? null : Math.min(waitMs, maxRetryAfterMs);
}

/**
 * Whether an attempt may start now: `go` (as the circuit's probe when it is open), or `wait`
 * until a time, or (`until: null`) until an attempt in flight ends.
 * @internal
 */
export type EndpointDecision = { readonly kind: 'go'; readonly probe: boolean } | { readonly kind: 'wait'; readonly until: number | null };

const GO: EndpointDecision = { kind: 'go', probe: false };
const PROBE: EndpointDecision = { kind: 'go', probe: true };
const WAIT_FOR_SLOT: EndpointDecision = { kind: 'wait', until: null };

/**
 * One endpoint's health, as this process sees it: the circuit breaker (consecutive failures,
 * of more than one delivery, open it; while open one probe per cool-down, doubling from `minCooldownMs` to
 * `maxCooldownMs`; the first answer closes it), the pause a `Retry-After` asks for, the
 * concurrency (cut in half by each 429 without `Retry-After`, grown back by one per success,
 * never below 1) and the spacing of request starts. Pure: the clock comes in as `now`, and
 * each change is returned as an {@link EndpointStatus} for the caller to publish.
 * @internal
 */
export class EndpointState {
  readonly #endpoint: string;
  readonly #policy: EndpointPolicy;
  #circuit: CircuitState = 'closed';
  /** The current run of failures: when, and of which delivery. */
  #failures: { readonly at: number; readonly deliveryId: string }[] = [];
  #cooldownMs: number;
  #nextProbeAt = 0;
  #probing = false;
  #pausedUntil = 0;
  #limit: number;
  #inFlight = 0;
  #lastStartAt = Number.NEGATIVE_INFINITY;

  constructor(endpoint: string, policy: EndpointPolicy) {
    this.#endpoint = endpoint;
    this.#policy = policy;
    this.#cooldownMs = policy.breaker?.minCooldownMs ?? 0;
    this.#limit = policy.concurrency;
  }

  get circuit(): CircuitState {
    return this.#circuit;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether an attempt may start at `now`. */
  decide(now: number): EndpointDecision {
    let probe = false;
    if (this.#circuit !== 'closed') {
      if (this.#probing) return WAIT_FOR_SLOT;
      if (now < this.#nextProbeAt) return { kind: 'wait', until: this.#nextProbeAt };
      probe = true;
    }
    if (now < this.#pausedUntil) return { kind: 'wait', until: this.#pausedUntil };
    if (this.#inFlight >= this.#limit) return WAIT_FOR_SLOT;
    const nextStart = this.#lastStartAt + this.#policy.intervalMs;
    if (now < nextStart) return { kind: 'wait', until: nextStart };
    return probe ? PROBE : GO;
  }

  /** An attempt starts (after `decide` said `go`). */
  start(now: number, probe: boolean): EndpointStatus | null {
    this.#inFlight += 1;
    this.#lastStartAt = now;
    if (!probe) return null;
    this.#probing = true;
    this.#circuit = 'half-open';
    return this.#status('half-open', now, 'probe');
  }

  /**
   * An attempt ended with `signal`. Answers the changes to publish and whether the delivery
   * should wait for the circuit instead of spending a retry (`hold`): a failed probe.
   */
  end(now: number, probe: boolean, signal: EndpointSignal, deliveryId: string): { readonly hold: boolean; readonly changes: readonly EndpointStatus[] } {
    this.#inFlight -= 1;
    if (probe) this.#probing = false;
    const changes: EndpointStatus[] = [];
    switch (signal.kind) {
      case 'success':
      case 'answered':
        this.#failures = [];
        if (signal.kind === 'success' && this.#limit < this.#policy.concurrency) this.#limit += 1;
        if (this.#circuit !== 'closed') changes.push(this.#close(now));
        return { hold: false, changes };
      case 'throttled':
        // A 429 is an answer: the endpoint is up, it wants less.
        this.#failures = [];
        if (this.#circuit !== 'closed') changes.push(this.#close(now));
        if (signal.pauseMs !== null) changes.push(...this.#pause(now, signal.pauseMs, 'retry-after'));
        else if (this.#limit > 1) {
          this.#limit = Math.max(1, Math.floor(this.#limit / 2));
          changes.push({ ...this.#status('throttled', now, '429'), concurrency: this.#limit });
        }
        return { hold: false, changes };
      case 'unavailable':
        changes.push(...this.#pause(now, signal.pauseMs ?? 0, 'retry-after'));
        if (this.#circuit !== 'closed') this.#nextProbeAt = Math.max(this.#nextProbeAt, this.#pausedUntil);
        return { hold: false, changes };
      case 'failure':
        return this.#failed(now, probe, signal.reason, deliveryId);
    }
  }

  /** An attempt was abandoned (the store closed, the delivery was cancelled). */
  abandon(probe: boolean): void {
    this.#inFlight -= 1;
    if (probe) {
      this.#probing = false;
      this.#circuit = 'open';
    }
  }

  #failed(now: number, probe: boolean, reason: string, deliveryId: string): { readonly hold: boolean; readonly changes: readonly EndpointStatus[] } {
    const breaker = this.#policy.breaker;
    if (breaker === null) return { hold: false, changes: [] };
    if (this.#circuit !== 'closed') {
      // Attempts in flight when it opened count as they are; a failed probe is the endpoint's, not the delivery's.
      if (!probe) return { hold: false, changes: [] };
      this.#cooldownMs = Math.min(this.#cooldownMs * 2, breaker.maxCooldownMs);
      return { hold: true, changes: [this.#open(now, `probe failed: ${reason}`)] };
    }
    while (this.#failures.length > 0 && (this.#failures[0]?.at ?? now) <= now - breaker.windowMs) this.#failures.shift();
    this.#failures.push({ at: now, deliveryId });
    // One delivery's retries alone are its own retry policy's business: the circuit opens on a
    // run of failures that more than one delivery shares.
    if (this.#failures.length < breaker.failureThreshold || !this.#failures.some((failure) => failure.deliveryId !== deliveryId)) return { hold: false, changes: [] };
    this.#cooldownMs = breaker.minCooldownMs;
    return { hold: false, changes: [this.#open(now, reason)] };
  }

  #open(now: number, reason: string): EndpointStatus {
    this.#circuit = 'open';
    this.#failures = [];
    this.#nextProbeAt = Math.max(now + this.#cooldownMs, this.#pausedUntil);
    return { ...this.#status('open', now, reason), until: this.#nextProbeAt };
  }

  #close(now: number): EndpointStatus {
    this.#circuit = 'closed';
    this.#cooldownMs = this.#policy.breaker?.minCooldownMs ?? 0;
    return this.#status('closed', now, 'recovered');
  }

  #pause(now: number, pauseMs: number, reason: string): EndpointStatus[] {
    const until = now + pauseMs;
    if (until <= this.#pausedUntil) return [];
    this.#pausedUntil = until;
    return [{ ...this.#status('paused', now, reason), until }];
  }

  #status(state: EndpointStatus['state'], since: number, reason: string): EndpointStatus {
    return { endpoint: this.#endpoint, state, since, reason };
  }
}
