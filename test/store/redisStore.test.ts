import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deliveryIdOf } from '../../src/events/deliveryId.js';
import type { DeliveryStore } from '../../src/store/deliveryStore.js';
import { createRedisStore, type RedisStoreOptions } from '../../src/store/redisStore.js';
import { collect, describeStoreContract } from './helpers/contract.js';
import { publishEvent } from '../helpers/factories.js';
import { TEST_TOKEN, testHandlers } from './helpers/handlers.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from './helpers/redis.js';

// These tests need the real Redis (127.0.0.1:6379 here and in CI, REDIS_URL overrides): when
// it does not answer they fail with a message saying so, they are not skipped.
const prefix = uniquePrefix();
let stores = 0;
const options = (extra: RedisStoreOptions = {}): RedisStoreOptions => ({
  url: REDIS_URL,
  prefix,
  name: `s${(stores += 1)}`,
  partitions: 4,
  lockDurationMs: 2_000,
  stalledIntervalMs: 1_000,
  drainPollMs: 20,
  ...extra,
});

beforeAll(assertRedisReachable);
afterAll(async () => {
  await removeKeys(prefix);
});

describeStoreContract('redis', (extra) => createRedisStore(options(extra?.maxQueue === undefined ? {} : { maxQueue: extra.maxQueue })));

describe('redis store', () => {
  let receiver: Receiver;
  const open: DeliveryStore[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close()));
    await receiver?.close();
  });

  it('shares the work between instances: order per record holds, every instance sees every outcome', async () => {
    receiver = await startReceiver({ delayMs: 3 });
    const shared = options();
    // `app` only journals (no workers); `one` and `two` deliver.
    const [app, one, two] = await Promise.all([createRedisStore(shared), createRedisStore(shared), createRedisStore(shared)]);
    open.push(app, one, two);
    const seen = [app, one, two].map((store) => collect(store));
    one.start(testHandlers());
    two.start(testHandlers());
    const entries = [];
    for (let revision = 1; revision <= 10; revision += 1) {
      for (let record = 0; record < 8; record += 1) entries.push({ event: publishEvent(`rec-${record}`, revision), endpoints: [receiver.url()] });
    }
    app.journal(entries);
    await app.drain();
    await vitestWaitFor(() => seen.every((outcomes) => outcomes.length === 80));

    for (let record = 0; record < 8; record += 1) {
      expect(receiver.requests.filter((x) => x.recordId === `rec-${record}`).map((x) => x.revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
    const ids = entries.map(({ event }) => deliveryIdOf(event.eventId, receiver.url())).sort();
    for (const outcomes of seen) expect(outcomes.map((o) => o.deliveryId).sort()).toEqual(ids);
    const [atApp = [], atOne = [], atTwo = []] = seen;
    expect(atApp.filter((o) => o.local)).toEqual([]);
    const localOne = new Set(atOne.filter((o) => o.local).map((o) => o.deliveryId));
    const localTwo = new Set(atTwo.filter((o) => o.local).map((o) => o.deliveryId));
    expect(localOne.size + localTwo.size).toBe(80);
    expect([...localOne].filter((id) => localTwo.has(id))).toEqual([]);
    // Outcomes from another instance come back whole: event, request (without secrets) and response.
    const remote = atApp[0];
    expect(remote?.outcome.kind === 'delivered' && remote.outcome.response.status).toBe(200);
    expect(remote?.outcome.kind === 'delivered' && remote.outcome.request.deliveryId).toBe(remote?.deliveryId);
    expect(remote?.outcome.kind === 'delivered' && remote.outcome.request.headers).not.toHaveProperty('Authorization');
    expect(remote?.outcome.event.serviceType).toBe('rdm_record');
  });

  it('never writes secret headers to Redis, and restores them for the attempt', async () => {
    receiver = await startReceiver({ status: () => 422 });
    const store = await createRedisStore(options());
    open.push(store);
    store.journal([{ event: publishEvent('rec-a', 1), endpoints: [receiver.url()] }]);
    store.start(testHandlers());
    await store.drain();
    expect(receiver.requests.map((a) => a.authorization)).toEqual([TEST_TOKEN]);
    const client = new Redis(REDIS_URL);
    try {
      const keys = await client.keys(`${prefix}:*`);
      const values = await Promise.all(keys.map(async (key) => ((await client.type(key)) === 'hash' ? JSON.stringify(await client.hgetall(key)) : '')));
      expect(values.join('')).toContain('Idempotency-Key');
      expect(values.join('')).not.toContain(TEST_TOKEN.slice('Bearer '.length));
      expect(values.join('')).not.toContain('session=abc');
    } finally {
      client.disconnect();
    }
  });

  it('refuses an instance with another number of partitions', async () => {
    const shared = options();
    const first = await createRedisStore(shared);
    open.push(first);
    await expect(createRedisStore({ ...shared, partitions: 8 })).rejects.toThrow(
      `Expected the Redis store ${prefix}:${shared.name} to have 8 partitions, found 4 recorded by the instances that use it`,
    );
  });

  it('says which Redis did not answer', async () => {
    await expect(createRedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 })).rejects.toThrow(/^Expected Redis at redis:\/\/127\.0\.0\.1:1 to answer within 500 ms, it did not/);
  });
});

async function vitestWaitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`Expected the condition within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
