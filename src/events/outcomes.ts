import type { ProvisionerError } from '../errors.js';
import type { ProvisionerResponse, RequestDescriptor } from './request.js';
import type { AppRecord, ServiceEvent } from './serviceEvent.js';

/**
 * Why a delivery failed.
 *
 * @example
 * ```ts
 * const retryLater: ReadonlySet<FailureReason> = new Set(['network', 'timeout', 'overflow', 'closed']);
 * if (outcome.kind === 'failed' && retryLater.has(outcome.reason)) deadLetters.push(outcome.event);
 * ```
 */
export type FailureReason =
  | 'http-status'
  | 'network'
  | 'timeout'
  | 'redirect'
  | 'payload'
  | 'url'
  | 'owner'
  | 'overflow'
  | 'closed'
  | 'expired';

/**
 * Why a delivery was not attempted: the record is not positively public, or its visibility
 * cannot be read (`restricted`), the event came from this endpoint's own callback, or its
 * `timing_field` is less than 5 s old (`feedback-loop`), or, for work a durable store resumed
 * or replayed, the endpoint (or its method) is no longer in the config (`unconfigured`), or a
 * newer delivery of a coalescing event config waits behind it in its lane (`superseded`).
 *
 * @example
 * ```ts
 * if (outcome.kind === 'skipped') metrics.increment(`provisioner.skipped.${outcome.reason satisfies SkipReason}`);
 * ```
 */
export type SkipReason = 'restricted' | 'feedback-loop' | 'unconfigured' | 'superseded';

/**
 * When an outcome's work was accepted and settled; part of every outcome.
 * @inline
 */
type OutcomeTiming = {
  /** When the event was accepted (ms since epoch). */
  readonly acceptedAt: number;
  /** When this outcome was reached (ms since epoch). */
  readonly settledAt: number;
};

/**
 * A 2xx response was received.
 *
 * @example
 * ```ts
 * const onDelivered = (outcome: DeliveredOutcome) =>
 *   console.info(`${outcome.request.method} ${outcome.request.url}: ${outcome.response.status} after ${outcome.attempts} attempt(s)`);
 * ```
 */
export type DeliveredOutcome<R = AppRecord> = OutcomeTiming & {
  readonly kind: 'delivered';
  readonly event: ServiceEvent<R>;
  readonly endpoint: string;
  readonly request: RequestDescriptor;
  readonly response: ProvisionerResponse;
  readonly attempts: number;
};

/**
 * The delivery ended without a 2xx response. `request` is `null` when it could not be built.
 *
 * @example
 * ```ts
 * const onFailed = (outcome: FailedOutcome) =>
 *   console.error(`${outcome.endpoint} failed (${outcome.reason}) after ${outcome.attempts} attempt(s): ${outcome.error.message}`);
 * ```
 */
export type FailedOutcome<R = AppRecord> = OutcomeTiming & {
  readonly kind: 'failed';
  readonly event: ServiceEvent<R>;
  readonly endpoint: string;
  readonly request: RequestDescriptor | null;
  readonly reason: FailureReason;
  readonly error: ProvisionerError;
  readonly attempts: number;
  /** The last response, when there was one (http-status, redirect). */
  readonly response: ProvisionerResponse | null;
};

/**
 * The delivery was deliberately not attempted.
 *
 * @example
 * ```ts
 * const onSkipped = (outcome: SkippedOutcome) => console.info(`${outcome.event.recordId} not sent to ${outcome.endpoint}: ${outcome.reason}`, outcome.detail ?? '');
 * ```
 */
export type SkippedOutcome<R = AppRecord> = OutcomeTiming & {
  readonly kind: 'skipped';
  readonly event: ServiceEvent<R>;
  readonly endpoint: string;
  readonly reason: SkipReason;
  /** Why, in a sentence: which visibility field was missing or not public, how recent the `timing_field` was. */
  readonly detail?: string;
};

/**
 * The one final outcome of an (event, endpoint) pair.
 *
 * @example
 * ```ts
 * provisioner.outcomes$.subscribe((outcome: DeliveryOutcome) => {
 *   if (outcome.kind === 'failed') console.error(outcome.reason, outcome.error.message);
 *   else if (outcome.kind === 'delivered') console.info(outcome.response.status);
 *   else console.info('skipped', outcome.reason);
 * });
 * ```
 */
export type DeliveryOutcome<R = AppRecord> = DeliveredOutcome<R> | FailedOutcome<R> | SkippedOutcome<R>;

/**
 * What `toRequests` emits for each (event, endpoint): a request to send, or an outcome
 * already reached while building it (payload, url or owner failure, restricted record...).
 *
 * @example
 * ```ts
 * // An operator of your own between toRequests and deliver: tag every request.
 * const tag = map((plan: RequestPlan): RequestPlan =>
 *   plan.kind === 'request' ? { ...plan, request: { ...plan.request, headers: { ...plan.request.headers, 'X-Tenant': 'works' } } } : plan,
 * );
 * ```
 */
export type RequestPlan<R = AppRecord> =
  | { readonly kind: 'request'; readonly event: ServiceEvent<R>; readonly request: RequestDescriptor; readonly acceptedAt: number }
  | FailedOutcome<R>
  | SkippedOutcome<R>;

/**
 * The result of one callback run after a delivered outcome.
 *
 * @example
 * ```ts
 * provisioner.callbacks$.subscribe((outcome: CallbackOutcome) => {
 *   if (outcome.kind === 'ok') console.info('callback of', outcome.delivery.request.deliveryId, 'returned', outcome.value);
 *   else console.error(outcome.error.message);
 * });
 * ```
 */
export type CallbackOutcome<R = AppRecord> =
  | { readonly kind: 'ok'; readonly delivery: DeliveredOutcome<R>; readonly value: unknown; readonly durationMs: number }
  | { readonly kind: 'error'; readonly delivery: DeliveredOutcome<R>; readonly error: ProvisionerError; readonly durationMs: number };
