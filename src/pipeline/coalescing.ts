/**
 * Coalescing (`coalesce: true` on an event config): which waiting deliveries a newer one of a
 * coalescing config in the same (endpoint, record) lane makes redundant.
 * @internal
 * @packageDocumentation
 */
import { endpointsFor, type EndpointBinding } from '../config/configIndex.js';
import type { ProvisionerConfig } from '../config/types.js';
import { deliveryIdOf } from '../events/deliveryId.js';
import { deliveryKey } from '../events/deliveryKey.js';
import type { ServiceType } from '../events/methodTables.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';

/** The newest coalescing delivery journaled in each lane. @internal */
export type Coalescing<R> = {
  /** Notes the deliveries of an event this process journaled. */
  journaled(event: ServiceEvent<R>, bindings: readonly EndpointBinding<ServiceType, R>[]): void;
  /**
   * Whether a delivery about to be planned is superseded: its config coalesces and a newer
   * delivery of a coalescing config waits behind it in its lane (the lane runs in order, so
   * the newer one has not started).
   */
  superseded(deliveryId: string, key: string, event: ServiceEvent<R>, endpoint: string): boolean;
  /** A delivery settled: its lane forgets it when it was the newest. */
  settled(deliveryId: string, outcome: { readonly endpoint: string; readonly event: ServiceEvent<R> }): void;
};

/**
 * Tracks coalescing lanes for the deliveries this process journals (work journaled by another
 * instance, or resumed from an earlier process, is sent as it is). Empty, and free, when no
 * event config coalesces.
 * @internal
 */
export function createCoalescing<R = AppRecord>(config: ProvisionerConfig<R>): Coalescing<R> {
  const newest = new Map<string, string>();
  const coalesces = (event: ServiceEvent<R>, endpoint: string): boolean =>
    endpointsFor(config, event.serviceType, event.method).some((binding) => binding.endpoint === endpoint && binding.eventConfig.coalesce === true);
  return {
    journaled(event, bindings) {
      for (const { endpoint, eventConfig } of bindings) {
        if (eventConfig.coalesce !== true) continue;
        newest.set(deliveryKey({ endpoint, recordId: event.recordId, draftId: event.draftId, eventId: event.eventId }), deliveryIdOf(event.eventId, endpoint));
      }
    },
    superseded(deliveryId, key, event, endpoint) {
      if (newest.size === 0) return false;
      const latest = newest.get(key);
      return latest !== undefined && latest !== deliveryId && coalesces(event, endpoint);
    },
    settled(deliveryId, { endpoint, event }) {
      if (newest.size === 0) return;
      const key = deliveryKey({ endpoint, recordId: event.recordId, draftId: event.draftId, eventId: event.eventId });
      if (newest.get(key) === deliveryId) newest.delete(key);
    },
  };
}
