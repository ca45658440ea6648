/**
 * What the shared stores (Redis, PostgreSQL) do alike with a delivery read back from their
 * jobs: plan it with the pipeline's handlers, and end it as `failed`.
 * @internal
 * @packageDocumentation
 */
import { PayloadError, type ProvisionerError } from '../errors.js';
import type { FailedOutcome, FailureReason, RequestPlan } from '../events/outcomes.js';
import type { RequestDescriptor } from '../events/request.js';
import { messageOf } from '../util/describeValue.js';
import type { DeliveryHandlers, StoredDelivery } from './deliveryStore.js';
import { firstValue } from './firstOf.js';

/**
 * A `failed` outcome of a stored delivery, settled now.
 *
 * @example
 * ```ts
 * failedOutcome(delivery, sent, 'http-status', error, response, attempt);
 * ```
 * @internal
 */
export function failedOutcome<R>(
  delivery: Pick<StoredDelivery<R>, 'event' | 'endpoint' | 'acceptedAt'>,
  request: RequestDescriptor | null,
  reason: FailureReason,
  error: ProvisionerError,
  response: FailedOutcome<R>['response'],
  attempts: number,
): FailedOutcome<R> {
  return { kind: 'failed', event: delivery.event, endpoint: delivery.endpoint, request, reason, error, attempts, response, acceptedAt: delivery.acceptedAt, settledAt: Date.now() };
}

/**
 * The handlers' plan of a stored delivery; a planning function that throws makes it `failed`
 * (reason `payload`) rather than stopping the worker.
 *
 * @example
 * ```ts
 * const plan = await planStoredDelivery(handlers, delivery);
 * if (plan.kind === 'request') send(plan.request);
 * ```
 * @internal
 */
export async function planStoredDelivery<R>(handlers: DeliveryHandlers<R>, delivery: StoredDelivery<R>): Promise<RequestPlan<R>> {
  try {
    return await firstValue(() => handlers.plan(delivery));
  } catch (error) {
    return failedOutcome(delivery, null, 'payload', new PayloadError(`Planning delivery ${delivery.deliveryId} to ${delivery.endpoint} threw: ${messageOf(error)}`, { cause: error }), null, 0);
  }
}
