/**
 * Why a plan could not be built, and the outcomes a plan ends in without a request.
 * @internal
 * @packageDocumentation
 */
import { PayloadError, type ProvisionerError } from '../errors.js';
import type { FailedOutcome, FailureReason, SkippedOutcome } from '../events/outcomes.js';
import type { ServiceEvent } from '../events/serviceEvent.js';
import { messageOf } from '../util/describeValue.js';

/**
 * Why a plan could not be built: the failure reason and its error. A class, so that it is
 * never mistaken for a payload, an owner or a URL.
 *
 * @example
 * ```ts
 * new PlanFailure('owner', new OwnerError('Expected a `resolveOwner` option, found none'));
 * ```
 * @internal
 */
export class PlanFailure {
  constructor(
    readonly reason: FailureReason,
    readonly error: ProvisionerError,
  ) {}
}

/**
 * Whether a value is a {@link PlanFailure}.
 *
 * @example
 * ```ts
 * if (isPlanFailure(owner)) return failedPlan(event, endpoint, owner, now);
 * ```
 * @internal
 */
export function isPlanFailure(value: unknown): value is PlanFailure {
  return value instanceof PlanFailure;
}

/**
 * The outcome of a plan skipped before any request (restricted record, feedback loop).
 *
 * @example
 * ```ts
 * skippedPlan(event, endpoint, 'restricted', scheduler.now());
 * ```
 * @internal
 */
export function skippedPlan<R>(event: ServiceEvent<R>, endpoint: string, reason: SkippedOutcome['reason'], settledAt: number, detail?: string): SkippedOutcome<R> {
  const skipped: SkippedOutcome<R> = { kind: 'skipped', event, endpoint, acceptedAt: event.emittedAt, reason, settledAt };
  return detail === undefined ? skipped : { ...skipped, detail };
}

/**
 * The outcome of a plan that failed before any request: no request, no attempt.
 *
 * @example
 * ```ts
 * failedPlan(event, endpoint, new PlanFailure('url', error), scheduler.now());
 * ```
 * @internal
 */
export function failedPlan<R>(event: ServiceEvent<R>, endpoint: string, { reason, error }: PlanFailure, settledAt: number): FailedOutcome<R> {
  return { kind: 'failed', event, endpoint, request: null, reason, error, attempts: 0, response: null, acceptedAt: event.emittedAt, settledAt };
}

/**
 * The failure of a plan whose building threw where nothing should: reason `payload`.
 *
 * @example
 * ```ts
 * planningFailure('rdm_record["https://x.org/api"].publish', 'record q1', error);
 * ```
 * @internal
 */
export function planningFailure(path: string, subject: string, error: unknown): PlanFailure {
  return new PlanFailure('payload', new PayloadError(`Planning ${path} for ${subject} failed: ${messageOf(error)}`, { cause: error }));
}
