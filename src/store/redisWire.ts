/**
 * The messages of the Redis store's outcome stream: an outcome as another instance reads it
 * (event, request without secrets, response, error), and the announcement of new endpoints.
 * @internal
 * @packageDocumentation
 */
import type { DeliveryOutcome, FailureReason, SkipReason } from '../events/outcomes.js';
import { decodeError, decodeEvent, decodeRequest, decodeResponse, encodeError, encodeRequest, encodeResponse, type StoredError } from './codec.js';

/** An outcome as appended to the outcome stream for the other instances. @internal */
export type WireOutcome = {
  readonly type: 'outcome';
  readonly instance: string;
  readonly deliveryId: string;
  readonly kind: DeliveryOutcome['kind'];
  readonly endpoint: string;
  readonly event: string;
  readonly request: string | null;
  readonly response: string | null;
  readonly attempts: number;
  readonly reason: string | null;
  /** A skipped outcome's `detail`; absent in messages of versions without it. */
  readonly detail?: string;
  readonly error: StoredError | null;
  readonly acceptedAt: number;
  readonly settledAt: number;
};

/** Appended when an instance records an endpoint no instance had: the others start its workers. @internal */
export type WireEndpoints = { readonly type: 'endpoints'; readonly instance: string };

/** A message of the outcome stream. @internal */
export type WireMessage = WireOutcome | WireEndpoints;

/**
 * An outcome as the stream carries it; `event` is the job's encoded event.
 *
 * @example
 * ```ts
 * await stream.append(JSON.stringify(wireOutcome(instance, deliveryId, outcome, job.data.event)));
 * ```
 * @internal
 */
export function wireOutcome<R>(instance: string, deliveryId: string, outcome: DeliveryOutcome<R>, event: string): WireOutcome {
  return {
    type: 'outcome',
    instance,
    deliveryId,
    kind: outcome.kind,
    endpoint: outcome.endpoint,
    event,
    request: outcome.kind === 'skipped' || outcome.request === null ? null : encodeRequest(outcome.request).json,
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
 * The outcome another instance appended; throws when it cannot be read.
 *
 * @example
 * ```ts
 * outcomes.next({ deliveryId: wire.deliveryId, outcome: outcomeOfWire(wire), local: false });
 * ```
 * @internal
 */
export function outcomeOfWire<R>(wire: WireOutcome): DeliveryOutcome<R> {
  const event = decodeEvent<R>(Buffer.from(wire.event, 'base64'));
  const request = wire.request === null ? null : decodeRequest(wire.request);
  const response = wire.response === null ? null : decodeResponse(wire.response);
  const timing = { acceptedAt: wire.acceptedAt, settledAt: wire.settledAt };
  if (wire.kind === 'delivered' && request !== null && response !== null) {
    return { kind: 'delivered', event, endpoint: wire.endpoint, request, response, attempts: wire.attempts, ...timing };
  }
  if (wire.kind === 'skipped') {
    const skipped = { kind: 'skipped', event, endpoint: wire.endpoint, reason: wire.reason as SkipReason, ...timing } as const;
    return typeof wire.detail === 'string' ? { ...skipped, detail: wire.detail } : skipped;
  }
  const error = decodeError(wire.error ?? { name: 'ProvisionerError', message: 'unknown failure' }, response);
  return { kind: 'failed', event, endpoint: wire.endpoint, request, reason: wire.reason as FailureReason, error, attempts: wire.attempts, response, ...timing };
}
