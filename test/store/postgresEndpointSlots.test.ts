// The PostgreSQL store's `concurrency` counts per endpoint in each instance: an endpoint whose
// receiver holds every request keeps only its own slots, the other endpoints' deliveries go
// on; an instance that holds all it may of every endpoint does not fetch, nor for new
// deliveries of lanes it holds a delivery of. Against the real
// PostgreSQL (127.0.0.1:5432 here and in CI, DATABASE_URL overrides).
import { PgBoss } from 'pg-boss';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeliveryStore } from '../../src/store/deliveryStore.js';
import { createPostgresStore } from '../../src/store/postgres/postgresStore.js';
import { collect } from './helpers/contract.js';
import { publishEvent } from '../helpers/factories.js';
import { testHandlers } from './helpers/handlers.js';
import { DATABASE_URL, assertPostgresReachable, dropSchema, uniqueSchema } from './helpers/postgres.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const schema = uniqueSchema();
const open: DeliveryStore[] = [];
const receivers: Receiver[] = [];

beforeAll(assertPostgresReachable);
afterEach(async () => {
  // Closing aborts the held attempts (they stay for a next instance); then the receivers go.
  await Promise.all(open.splice(0).map((store) => store.close({ timeoutMs: 2_000 })));
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});
afterAll(async () => {
  await dropSchema(schema);
});

describe('postgres store, concurrency per endpoint', () => {
  it('keeps delivering to one endpoint while another holds every request it gets', async () => {
    const held = await startReceiver({ delayMs: 60_000 });
    const quick = await startReceiver();
    receivers.push(held, quick);
    const store = await createPostgresStore({ connectionString: DATABASE_URL, schema, name: 'slots', lockDurationMs: 30_000, pollIntervalMs: 500, drainPollMs: 20 });
    open.push(store);
    const outcomes = collect(store);
    // The held endpoint's deliveries first: with one limit for all endpoints they would take every slot.
    store.journal([1, 2, 3, 4].map((n) => ({ event: publishEvent(`held-${n}`, 1), endpoints: [held.url()] })));
    await store.flush();
    store.journal([1, 2, 3, 4, 5, 6].map((n) => ({ event: publishEvent(`quick-${n}`, 1), endpoints: [quick.url()] })));
    store.start(testHandlers({ concurrency: 2, timeoutMs: 60_000 }));

    await quick.waitFor(6, 15_000);
    await expect.poll(() => outcomes.filter((o) => o.outcome.kind === 'delivered').length, { timeout: 10_000 }).toBe(6);
    expect(quick.requests.map((request) => request.recordId).sort()).toEqual(['quick-1', 'quick-2', 'quick-3', 'quick-4', 'quick-5', 'quick-6']);
    // The held endpoint has its two slots, no more: its other deliveries wait in their lanes.
    await held.waitFor(2, 5_000);
    expect(held.requests).toHaveLength(2);
    expect(held.inFlight()).toBe(2);
    expect(store.pending()).toBe(4);
  }, 40_000);

  it('does not fetch while it holds all it may of every endpoint (a fetch would read every queued job and take nothing)', async () => {
    const held = await startReceiver({ delayMs: 60_000 });
    receivers.push(held);
    const fetches = vi.spyOn(PgBoss.prototype, 'fetch');
    try {
      // A poll every 50 ms: each one would fetch.
      const store = await createPostgresStore({ connectionString: DATABASE_URL, schema, name: 'full', lockDurationMs: 30_000, pollIntervalMs: 50, drainPollMs: 20 });
      open.push(store);
      // More than the instance's share (10 × concurrency): it ends up holding all it may.
      store.journal(Array.from({ length: 12 }, (_, n) => ({ event: publishEvent(`full-${n + 1}`, 1), endpoints: [held.url()] })));
      await store.flush();
      // One slot: one attempt held by the receiver, and ready deliveries up to the instance's share.
      store.start({ ...testHandlers({ concurrency: 1, timeoutMs: 60_000 }), endpoints: [held.url()] });
      await held.waitFor(1, 5_000);
      await expect.poll(() => fetches.mock.calls.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const before = fetches.mock.calls.length;
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(fetches.mock.calls.length).toBe(before);
      expect(held.requests).toHaveLength(1);
    } finally {
      fetches.mockRestore();
    }
  }, 30_000);

  it('does not fetch for new deliveries of lanes it holds a delivery of (pg-boss hands them out only after it), and fetches for another lane', async () => {
    const held = await startReceiver({ delayMs: 60_000 });
    receivers.push(held);
    const fetches = vi.spyOn(PgBoss.prototype, 'fetch');
    try {
      // No poll during the test: only the notifications of new deliveries wake the worker.
      const store = await createPostgresStore({ connectionString: DATABASE_URL, schema, name: 'lanes', lockDurationMs: 30_000, pollIntervalMs: 30_000, drainPollMs: 20 });
      open.push(store);
      store.start({ ...testHandlers({ concurrency: 4, timeoutMs: 60_000 }), endpoints: [held.url()] });
      store.journal([{ event: publishEvent('lane-1', 1), endpoints: [held.url()] }]);
      await held.waitFor(1, 5_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const before = fetches.mock.calls.length;
      // Three more of the lane whose delivery the receiver holds: no fetch could take them.
      store.journal([2, 3, 4].map((n) => ({ event: publishEvent('lane-1', n), endpoints: [held.url()] })));
      await store.flush();
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(fetches.mock.calls.length).toBe(before);
      // One of another lane: fetched and sent at once.
      store.journal([{ event: publishEvent('lane-2', 1), endpoints: [held.url()] }]);
      await held.waitFor(2, 5_000);
      expect(fetches.mock.calls.length).toBeGreaterThan(before);
      expect(held.requests.map((request) => request.recordId)).toEqual(['lane-1', 'lane-2']);
    } finally {
      fetches.mockRestore();
    }
  }, 30_000);
});
