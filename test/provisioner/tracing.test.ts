import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createProvisioner, createSqliteStore, createUnitOfWork, defineConfig } from '../../src/index.js';
import { answerJson, startReceiver, type Receiver } from '../helpers/receiver.js';
import { identity, rdmRecord, type RdmRecord } from '../helpers/factories.js';

type Fixture = RdmRecord;
const fixture = rdmRecord();

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const finishedSpans = async () => {
  await provider.forceFlush();
  return exporter.getFinishedSpans();
};
const appTracer = () => trace.getTracer('records-app');
const SECRET = 'tok-s3cr3t-value';

let server: Receiver;
/** While true, the receiver answers 503. */
let receiverDown = false;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  server = await startReceiver((_request, response) => answerJson(response, receiverDown ? 503 : 201, { ok: !receiverDown }));
});

afterAll(async () => {
  await server.close();
  trace.disable();
  propagation.disable();
  context.disable();
});

beforeEach(() => {
  exporter.reset();
  receiverDown = false;
});

const events = () =>
  defineConfig<Fixture>({
    rdm_record: { [server.url('/docs?api_key=k3y')]: { publish: { http_method: 'POST', auth_token: SECRET, payload: ({ record }) => ({ id: record.id }) } } },
  });

describe('OpenTelemetry traces of deliveries', () => {
  it('make the delivery a child of the span active at the hook call, and send its traceparent', async () => {
    const provisioner = createProvisioner<Fixture>({ events: events() });
    const uow = createUnitOfWork();
    // The app's request span; the unit of work commits after it ended, as it may.
    appTracer().startActiveSpan('POST /api/records/:id/draft/actions/publish', (span) => {
      provisioner.hooks('rdm_record').publish({ identity, record: fixture, uow });
      span.end();
    });
    uow.commit();
    await provisioner.drain();
    await provisioner.close();

    const spans = await finishedSpans();
    const appSpan = spans.find((span) => span.name.startsWith('POST /api'));
    const delivery = spans.find((span) => span.name === 'deliver rdm_record.publish');
    const attempt = spans.find((span) => span.name === 'POST');
    const traceId = appSpan?.spanContext().traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(delivery?.parentSpanContext?.spanId).toBe(appSpan?.spanContext().spanId);
    expect(attempt?.parentSpanContext?.spanId).toBe(delivery?.spanContext().spanId);
    expect(attempt?.spanContext().traceId).toBe(traceId);
    // The receiver got the attempt's context.
    const received = server.requests.at(-1);
    expect(received?.headers['traceparent']).toBe(`00-${traceId}-${attempt?.spanContext().spanId}-01`);
    expect(attempt?.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 201, 'server.address': '127.0.0.1' });
    expect(delivery?.attributes).toMatchObject({ 'remote_api_provisioner.outcome': 'delivered', 'remote_api_provisioner.attempts': 1 });
    // No secret in any attribute: the bearer token, nor the URL's api key.
    const attributes = JSON.stringify(spans.map((span) => span.attributes));
    expect(attributes).not.toContain(SECRET);
    expect(attributes).not.toContain('k3y');
  });

  it('keep the parent across a restart with the SQLite store', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rap-trace-'));
    const file = path.join(dir, 'provisioner.db');
    try {
      receiverDown = true;
      const first = createProvisioner<Fixture>({ events: events(), store: createSqliteStore({ path: file }), http: { retry: { limit: 50, baseDelayMs: 10_000, maxDelayMs: 10_000 } } });
      let appTraceId = '';
      let appSpanId = '';
      appTracer().startActiveSpan('POST /api/records/:id/publish', (span) => {
        appTraceId = span.spanContext().traceId;
        appSpanId = span.spanContext().spanId;
        first.hooks('rdm_record').publish({ identity, record: fixture });
        span.end();
      });
      await expect.poll(() => server.requests.filter((request) => request.headers['traceparent']?.includes(appTraceId)).length).toBeGreaterThanOrEqual(1);
      // The process goes away with the delivery waiting for its retry: the store keeps it.
      await first.close({ timeoutMs: 50 });
      exporter.reset();

      receiverDown = false;
      const second = createProvisioner<Fixture>({ events: events(), store: createSqliteStore({ path: file }) });
      await second.drain();
      await second.close();
      const spans = await finishedSpans();
      const delivery = spans.find((span) => span.name === 'deliver rdm_record.publish');
      expect(delivery?.spanContext().traceId).toBe(appTraceId);
      expect(delivery?.parentSpanContext?.spanId).toBe(appSpanId);
      expect(server.requests.at(-1)?.headers['traceparent']).toMatch(new RegExp(`^00-${appTraceId}-`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
