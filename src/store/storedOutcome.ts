/**
 * A final outcome as the shared stores hand it to their other instances (the Redis store's
 * outcome stream, the PostgreSQL store's outcome table), and back: JSON, without secret
 * headers, with the event as the job holds it.
 * @internal
 * @packageDocumentation
 */
import type { DeliveryOutcome, FailureReason, SkipReason } from '../events/outcomes.js';
import { decodeError, decodeEventText, decodeRequest, decodeResponse, encodeError, encodeRequest, encodeResponse, type StoredError } from './codec.js';

/** An outcome as JSON for the other instances. @internal */
export type StoredOutcome = {
  readonly kind: DeliveryOutcome['kind'];
  readonly endpoint: string;
  /** The event as the job holds it (base64 of the encoded event). */
  readonly event: string;
  readonly request: string | null;
  readonly response: string | null;
  readonly attempts: number;
  readonly reason: string | null;
  /** A skipped outcome's `detail`; absent in outcomes written by versions without it. */
  readonly detail?: string;
  readonly error: StoredError | null;
  readonly acceptedAt: number;
  readonly settledAt: number;
};

/**
 * `outcome` as JSON for the other instances; `event` is the job's encoded event, `request`
 * the outcome's request as the job stored it (`encodeRequest(...).json`), when the caller has
 * it: it is not encoded again.
 *
 * @example
 * ```ts
 * JSON.stringify(storeOutcome(outcome, job.data.event));
 * ```
 * @internal
 */
export function storeOutcome<R>(outcome: DeliveryOutcome<R>, event: string, request?: string): StoredOutcome {
  return {
    kind: outcome.kind,
    endpoint: outcome.endpoint,
    event,
    request: outcome.kind === 'skipped' || outcome.request === null ? null : (request ?? encodeRequest(outcome.request).json),
    response: outcome.kind === 'skipped' || outcome.response === null ? null : encodeResponse(outcome.response),
    attempts: outcome.kind === 'skipped' ? 0 : outcome.attempts,
    reason: outcome.kind === 'delivered' ? null : outcome.reason,
    ...(outcome.kind === 'skipped' && outcome.detail !== undefined ? { detail: outcome.detail } : {}),
    error: outcome.kind === 'failed' ? encodeError(outcome.error) : null,
    acceptedAt: outcome.acceptedAt,
    settledAt: outcome.settledAt,
  };
}

/**
 * The outcome another instance stored; throws when it cannot be read.
 *
 * @example
 * ```ts
 * outcomes.next({ deliveryId, outcome: loadOutcome(row.outcome), local: false });
 * ```
 * @internal
 */
export function loadOutcome<R>(stored: StoredOutcome): DeliveryOutcome<R> {
  const event = decodeEventText<R>(stored.event);
  const request = stored.request === null ? null : decodeRequest(stored.request);
  const response = stored.response === null ? null : decodeResponse(stored.response);
  const timing = { acceptedAt: stored.acceptedAt, settledAt: stored.settledAt };
  if (stored.kind === 'delivered' && request !== null && response !== null) {
    return { kind: 'delivered', event, endpoint: stored.endpoint, request, response, attempts: stored.attempts, ...timing };
  }
  if (stored.kind === 'skipped') {
    const skipped = { kind: 'skipped', event, endpoint: stored.endpoint, reason: stored.reason as SkipReason, ...timing } as const;
    return typeof stored.detail === 'string' ? { ...skipped, detail: stored.detail } : skipped;
  }
  const error = decodeError(stored.error ?? { name: 'ProvisionerError', message: 'unknown failure' }, response);
  return { kind: 'failed', event, endpoint: stored.endpoint, request, reason: stored.reason as FailureReason, error, attempts: stored.attempts, response, ...timing };
}
