import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { DataPointType, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EndpointGate } from '../../src/delivery/endpointGate.js';
import { endpointPolicies } from '../../src/delivery/endpointPolicy.js';
import { createProvisionerMetrics, METRICS } from '../../src/delivery/metrics.js';
import { endAttemptSpan, endDeliverySpan, startAttemptSpan, startDeliverySpan } from '../../src/delivery/tracing.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../src/util/packageInfo.js';
import { captureTraceContext } from '../../src/util/traceContext.js';
import { deliveryRequest } from '../helpers/factories.js';

/** A reader the test collects from when it wants. */
class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const exporter = new InMemorySpanExporter();
const reader = new TestReader();
const contextManager = new AsyncLocalStorageContextManager();
const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
/** The spans ended so far (the processor exports them once the resource is settled). */
const finishedSpans = async () => {
  await tracerProvider.forceFlush();
  return exporter.getFinishedSpans();
};

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});

afterAll(() => {
  trace.disable();
  metrics.disable();
  propagation.disable();
  context.disable();
});

beforeEach(() => exporter.reset());

const SECRET_URL = 'https://indexer:pa55word@search.example.org/api/v1/documents?api_key=k3y-value&x=1';

describe('delivery spans', () => {
  it('are children of the span active at the hook call, and the receiver gets its traceparent', async () => {
    const appTracer = trace.getTracer('records-app');
    const carrier = appTracer.startActiveSpan('POST /records/:id/publish', (requestSpan) => {
      const captured = captureTraceContext();
      requestSpan.end();
      return captured;
    });
    expect(carrier?.['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);

    const request = deliveryRequest(SECRET_URL);
    const delivery = startDeliverySpan({ ...request, recordId: 'abcd-1234' }, carrier);
    const first = startAttemptSpan(delivery.context, request, 1);
    endAttemptSpan(first.span, { response: { status: 503, headers: {}, body: null, url: request.url } });
    const second = startAttemptSpan(delivery.context, request, 2);
    endAttemptSpan(second.span, { response: { status: 201, headers: {}, body: null, url: request.url } });
    endDeliverySpan(delivery, { kind: 'delivered', attempts: 2 });

    const spans = await finishedSpans();
    const byName = (name: string) => spans.filter((span) => span.name === name);
    const [appSpan] = byName('POST /records/:id/publish');
    const [deliverySpan] = byName('deliver rdm_record.publish');
    const attempts = byName('POST');
    expect(appSpan && deliverySpan && attempts.length === 2).toBe(true);
    const traceId = appSpan?.spanContext().traceId;
    expect(deliverySpan?.spanContext().traceId).toBe(traceId);
    expect(deliverySpan?.parentSpanContext?.spanId).toBe(appSpan?.spanContext().spanId);
    for (const attempt of attempts) {
      expect(attempt.parentSpanContext?.spanId).toBe(deliverySpan?.spanContext().spanId);
      expect(attempt.instrumentationScope).toMatchObject({ name: PACKAGE_NAME, version: PACKAGE_VERSION });
    }
    // Each attempt's request carries that attempt's context.
    expect(first.request.headers['traceparent']).toBe(`00-${traceId}-${attempts[0]?.spanContext().spanId}-01`);
    expect(second.request.headers['traceparent']).toBe(`00-${traceId}-${attempts[1]?.spanContext().spanId}-01`);
    // The request's own headers are kept.
    expect(second.request.headers['idempotency-key']).toBe(request.deliveryId);

    expect(attempts[0]?.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 503, 'error.type': '503', 'server.address': 'search.example.org', 'server.port': 443 });
    expect(attempts[1]?.attributes).toMatchObject({ 'http.response.status_code': 201, 'http.request.resend_count': 1 });
    expect(attempts[1]?.attributes['error.type']).toBeUndefined();
    expect(deliverySpan?.attributes).toMatchObject({ 'remote_api_provisioner.outcome': 'delivered', 'remote_api_provisioner.attempts': 2, 'remote_api_provisioner.record.id': 'abcd-1234' });
  });

  it('never put a secret of the URL or the headers into an attribute', async () => {
    const request = deliveryRequest(SECRET_URL);
    const delivery = startDeliverySpan({ ...request, endpoint: SECRET_URL }, undefined);
    const attempt = startAttemptSpan(delivery.context, request, 1);
    endAttemptSpan(attempt.span, { response: null, error: Object.assign(new Error('connect ECONNREFUSED'), { name: 'NetworkError' }) });
    endDeliverySpan(delivery, { kind: 'failed', reason: 'network', attempts: 1, message: 'network' });
    const attributes = JSON.stringify((await finishedSpans()).map((span) => span.attributes));
    for (const secret of ['pa55word', 'k3y-value', 's3cret-token']) expect(attributes).not.toContain(secret);
    expect(attributes).toContain('"error.type":"NetworkError"');
  });

  it('start a new trace when the hook was called outside any span, and add no header without a propagator', async () => {
    expect(captureTraceContext()).toBeUndefined();
    propagation.disable();
    try {
      const request = deliveryRequest('http://127.0.0.1:9/docs');
      const delivery = startDeliverySpan(request, undefined);
      const attempt = startAttemptSpan(delivery.context, request, 1);
      expect(attempt.request).toBe(request);
      endAttemptSpan(attempt.span, { response: null });
      endDeliverySpan(delivery, { kind: 'skipped' });
      expect((await finishedSpans()).find((span) => span.name.startsWith('deliver'))?.parentSpanContext).toBeUndefined();
    } finally {
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });
});

describe('provisioner metrics', () => {
  const collect = async (): Promise<ResourceMetrics> => (await reader.collect()).resourceMetrics;
  const metric = (resource: ResourceMetrics, name: string) => resource.scopeMetrics.flatMap((scope) => scope.metrics).find((candidate) => candidate.descriptor.name === name);

  it('count outcomes by kind and reason, time attempts, and read the queue when collected', async () => {
    let pending = 3;
    const instruments = createProvisionerMetrics('memory', () => ({ pending, oldestAgeMs: pending === 0 ? null : 1_500 }));
    instruments.outcome('delivered', undefined);
    instruments.outcome('failed', 'http-status');
    instruments.outcome('failed', 'http-status');
    const request = deliveryRequest(SECRET_URL);
    instruments.attempt(120, request, { status: 503, headers: {}, body: null, url: request.url }, undefined);

    const first = await collect();
    const deliveries = metric(first, METRICS.deliveries);
    expect(deliveries?.dataPointType).toBe(DataPointType.SUM);
    const counts = Object.fromEntries((deliveries?.dataPoints ?? []).map((point) => [`${String(point.attributes['remote_api_provisioner.outcome'])}:${String(point.attributes['remote_api_provisioner.reason'] ?? '')}`, point.value]));
    expect(counts).toEqual({ 'delivered:': 1, 'failed:http-status': 2 });
    const duration = metric(first, METRICS.attemptDuration)?.dataPoints[0];
    expect(duration?.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 503, 'error.type': '503' });
    expect(JSON.stringify(duration?.attributes)).not.toContain('pa55word');
    expect(metric(first, METRICS.queueDepth)?.dataPoints[0]).toMatchObject({ value: 3, attributes: { 'remote_api_provisioner.store': 'memory' } });
    expect(metric(first, METRICS.queueOldestAge)?.dataPoints[0]?.value).toBe(1.5);

    pending = 0;
    expect(metric(await collect(), METRICS.queueDepth)?.dataPoints[0]?.value).toBe(0);
    instruments.close();
    // A closed provisioner's queue is no longer read.
    pending = 7;
    const values = (metric(await collect(), METRICS.queueDepth)?.dataPoints ?? []).map((point) => point.value);
    expect(values).not.toContain(7);
  });

  it('show each endpoint\'s circuit (0 closed, 2 open), with the endpoint redacted', async () => {
    const gate = new EndpointGate(endpointPolicies({ concurrency: 16, maxRetryAfterMs: 60_000 }));
    const healthy = 'https://registry.example.org/api/records';
    gate.tryStart(healthy, 'ok')?.end({ kind: 'success' });
    for (const id of ['a', 'b', 'c', 'd', 'e']) gate.tryStart(SECRET_URL, id)?.end({ kind: 'failure', reason: 'network' });
    const instruments = createProvisionerMetrics('memory', () => ({ pending: 0, oldestAgeMs: null }), () => gate.circuits());
    const points = metric(await collect(), METRICS.circuitState)?.dataPoints ?? [];
    const byEndpoint = Object.fromEntries(points.map((point) => [String(point.attributes['remote_api_provisioner.endpoint']), point.value]));
    expect(byEndpoint[healthy]).toBe(0);
    expect(Object.entries(byEndpoint).find(([endpoint]) => endpoint.includes('search.example.org'))?.[1]).toBe(2);
    expect(JSON.stringify(points)).not.toContain('pa55word');
    expect(JSON.stringify(points)).not.toContain('k3y-value');
    instruments.close();
    gate.close();
  });
});
