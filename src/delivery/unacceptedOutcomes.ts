import { endpointsFor } from '../config/configIndex.js';
import type { ProvisionerConfig } from '../config/types.js';
import type { ProvisionerError } from '../errors.js';
import type { FailedOutcome, FailureReason } from '../events/outcomes.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';

/**
 * The `failed` outcomes of an event that was never accepted (closed provisioner, refused
 * journal, broken unit of work): one per endpoint configured for its method, so that even
 * refused work is accounted for. Shared by the in-memory and the store pipelines.
 * @internal
 */
export function unacceptedOutcomes<R = AppRecord>(
  config: ProvisionerConfig<R>,
  event: ServiceEvent<R>,
  reason: FailureReason,
  error: ProvisionerError,
): FailedOutcome<R>[] {
  const settledAt = Date.now();
  return endpointsFor(config, event.serviceType, event.method).map(({ endpoint }) => ({
    kind: 'failed',
    event,
    endpoint,
    request: null,
    reason,
    error,
    attempts: 0,
    response: null,
    acceptedAt: event.emittedAt,
    settledAt,
  }));
}
