/**
 * OpenTelemetry metrics of the provisioner, through `@opentelemetry/api` only (no-ops until
 * the app registers a meter provider): deliveries by outcome, attempt durations, the queue's
 * depth and oldest waiting delivery, endpoint circuit states.
 * @internal
 * @packageDocumentation
 */
import { createNoopMeter, metrics, ValueType, type Attributes, type Meter, type ObservableResult } from '@opentelemetry/api';
import type { ProvisionerResponse, RequestDescriptor } from '../events/request.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../util/packageInfo.js';
import { ATTRIBUTES, serverOf } from './tracing.js';

/** Metric names (OpenTelemetry's HTTP client convention for the attempt duration). @internal */
export const METRICS = {
  deliveries: 'remote_api_provisioner.deliveries',
  attemptDuration: 'http.client.request.duration',
  queueDepth: 'remote_api_provisioner.queue.depth',
  queueOldestAge: 'remote_api_provisioner.queue.oldest_age',
  circuitState: 'remote_api_provisioner.endpoint.circuit_state',
} as const;

/** A snapshot of the queue, as the gauges read it. @internal */
export type QueueSnapshot = { readonly pending: number; readonly oldestAgeMs: number | null };

/** An endpoint's circuit, as the gauge reads it. @internal */
export type CircuitSnapshot = { readonly endpoint: string; readonly state: 'closed' | 'open' | 'half-open' };

const CIRCUIT_VALUE: Readonly<Record<CircuitSnapshot['state'], number>> = { closed: 0, 'half-open': 1, open: 2 };

/** The instruments of one provisioner. @internal */
export type ProvisionerMetrics = {
  /** One final outcome of a delivery. */
  outcome(kind: 'delivered' | 'failed' | 'skipped', reason: string | undefined): void;
  /** One attempt, its duration and how it ended. */
  attempt(durationMs: number, request: RequestDescriptor, response: ProvisionerResponse | null, error: unknown): void;
  /** Stops observing this provisioner's queue and endpoints (on close). */
  close(): void;
};

const NO_METRICS: ProvisionerMetrics = { outcome() {}, attempt() {}, close() {} };

/**
 * Creates the instruments of one provisioner; `queue` is read when a reader collects, with
 * the store's kind as an attribute; `circuits`, when given, too.
 * @internal
 */
export function createProvisionerMetrics(store: string, queue: () => QueueSnapshot, circuits?: () => Iterable<CircuitSnapshot>): ProvisionerMetrics {
  const meter: Meter = metrics.getMeter(PACKAGE_NAME, PACKAGE_VERSION);
  // Without a meter provider registered now, the instruments would be no-ops for good: skip the per-attempt attributes too.
  if (meter === createNoopMeter()) return NO_METRICS;
  const deliveries = meter.createCounter(METRICS.deliveries, { description: 'Deliveries that reached their final outcome', unit: '{delivery}', valueType: ValueType.INT });
  const attemptDuration = meter.createHistogram(METRICS.attemptDuration, {
    description: 'Duration of HTTP attempts of deliveries',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
  });
  const depth = meter.createObservableGauge(METRICS.queueDepth, { description: 'Deliveries accepted and not yet settled', unit: '{delivery}', valueType: ValueType.INT });
  const oldest = meter.createObservableGauge(METRICS.queueOldestAge, { description: 'Age of the oldest delivery not yet settled', unit: 's' });
  const circuit = meter.createObservableGauge(METRICS.circuitState, { description: 'Endpoint circuit: 0 closed, 1 half-open, 2 open', valueType: ValueType.INT });
  const storeAttributes: Attributes = { [ATTRIBUTES.store]: store };

  const observeDepth = (result: ObservableResult): void => result.observe(queue().pending, storeAttributes);
  const observeOldest = (result: ObservableResult): void => {
    const { oldestAgeMs } = queue();
    result.observe(oldestAgeMs === null ? 0 : oldestAgeMs / 1000, storeAttributes);
  };
  const observeCircuits = (result: ObservableResult): void => {
    for (const { endpoint, state } of circuits?.() ?? []) result.observe(CIRCUIT_VALUE[state], { [ATTRIBUTES.endpoint]: endpoint });
  };
  depth.addCallback(observeDepth);
  oldest.addCallback(observeOldest);
  if (circuits !== undefined) circuit.addCallback(observeCircuits);

  return {
    outcome(kind, reason) {
      deliveries.add(1, reason === undefined ? { [ATTRIBUTES.outcome]: kind } : { [ATTRIBUTES.outcome]: kind, [ATTRIBUTES.reason]: reason });
    },
    attempt(durationMs, request, response, error) {
      const attributes: Attributes = { 'http.request.method': request.method };
      const server = serverOf(request.url);
      if (server !== undefined) {
        attributes['server.address'] = server.address;
        attributes['server.port'] = server.port;
      }
      if (response !== null) attributes['http.response.status_code'] = response.status;
      if (response !== null && (response.status >= 300 || response.status < 200)) attributes['error.type'] = String(response.status);
      else if (response === null && error !== undefined) attributes['error.type'] = error instanceof Error ? error.name : '_OTHER';
      attemptDuration.record(durationMs / 1000, attributes);
    },
    close() {
      depth.removeCallback(observeDepth);
      oldest.removeCallback(observeOldest);
      if (circuits !== undefined) circuit.removeCallback(observeCircuits);
    },
  };
}
