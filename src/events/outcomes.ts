import type { ProvisionerError } from '../errors.js';
import type { ProvisionerResponse, RequestDescriptor } from './request.js';
import type { AppRecord, ServiceEvent } from './serviceEvent.js';

/** Why a delivery failed. */
export type FailureReason =
  | 'http-status'
  | 'network'
  | 'timeout'
  | 'redirect'
  | 'payload'
  | 'url'
  | 'owner'
  | 'overflow'
  | 'closed';

/** Why a delivery was not attempted. */
export type SkipReason = 'restricted' | 'feedback-loop';

type OutcomeTiming = {
  /** When the event was accepted (ms since epoch). */
  readonly acceptedAt: number;
  /** When this outcome was reached (ms since epoch). */
  readonly settledAt: number;
};

/** A 2xx response was received. */
export type DeliveredOutcome<R = AppRecord> = OutcomeTiming & {
  readonly kind: 'delivered';
  readonly event: ServiceEvent<R>;
  readonly endpoint: string;
  readonly request: RequestDescriptor;
  readonly response: ProvisionerResponse;
  readonly attempts: number;
};

/** The delivery ended without a 2xx response. `request` is `null` when it could not be built. */
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

/** The delivery was deliberately not attempted. */
export type SkippedOutcome<R = AppRecord> = OutcomeTiming & {
  readonly kind: 'skipped';
  readonly event: ServiceEvent<R>;
  readonly endpoint: string;
  readonly reason: SkipReason;
};

/** The one final outcome of an (event, endpoint) pair. */
export type DeliveryOutcome<R = AppRecord> = DeliveredOutcome<R> | FailedOutcome<R> | SkippedOutcome<R>;

/**
 * What `toRequests` emits for each (event, endpoint): a request to send, or an outcome
 * already reached while building it (payload, url or owner failure, restricted record...).
 */
export type RequestPlan<R = AppRecord> =
  | { readonly kind: 'request'; readonly event: ServiceEvent<R>; readonly request: RequestDescriptor; readonly acceptedAt: number }
  | FailedOutcome<R>
  | SkippedOutcome<R>;

/** The result of one callback run after a delivered outcome. */
export type CallbackOutcome<R = AppRecord> =
  | { readonly kind: 'ok'; readonly delivery: DeliveredOutcome<R>; readonly value: unknown; readonly durationMs: number }
  | { readonly kind: 'error'; readonly delivery: DeliveredOutcome<R>; readonly error: ProvisionerError; readonly durationMs: number };
