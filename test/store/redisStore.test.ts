import { Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeliveryStore } from '../../src/store/deliveryStore.js';
import { createRedisStore, type RedisStoreOptions } from '../../src/store/redisStore.js';
import { publishEvent } from '../helpers/factories.js';
import { startReceiver } from '../helpers/receiver.js';
import { collect, describeStoreContract } from './helpers/contract.js';
import { testHandlers } from './helpers/handlers.js';
import { describeSharedStoreContract } from './helpers/sharedStoreContract.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from './helpers/redis.js';
import { startTcpProxy } from './helpers/tcpProxy.js';

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

describeSharedStoreContract('redis', {
  options,
  open: createRedisStore,
  where: 'Redis',
  // Every key of the test run, whichever store name it belongs to.
  storedText: () =>
    withClient(async (client) => {
      const keys = await client.keys(`${prefix}:*`);
      const values = await Promise.all(keys.map(async (key) => ((await client.type(key)) === 'hash' ? JSON.stringify(await client.hgetall(key)) : '')));
      return values.join('');
    }),
  outcomesWritten: (shared) =>
    withClient(async (client) => {
      const entries = await client.xrange(`${prefix}:${shared.name}:outcome-stream`, '-', '+');
      return entries.filter(([, fields]) => (JSON.parse(fields[1] ?? '{}') as { type?: string }).type === 'outcome').length;
    }),
  forgetInstances: (shared) => withClient(async (client) => void (await client.del(`${prefix}:${shared.name}:instances`))),
});

/** Runs `work` with a Redis client of its own. */
async function withClient<T>(work: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(REDIS_URL);
  try {
    return await work(client);
  } finally {
    client.disconnect();
  }
}

describe('redis store', () => {
  const open: DeliveryStore[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close()));
  });

  it('refuses an instance with another number of partitions', async () => {
    const shared = options();
    const first = await createRedisStore(shared);
    open.push(first);
    await expect(createRedisStore({ ...shared, partitions: 8 })).rejects.toThrow(
      `Expected the Redis store ${prefix}:${shared.name} to have 8 partitions, found 4 recorded by the instances that use it`,
    );
  });

  it('says which Redis did not answer, and why', async () => {
    await expect(createRedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 })).rejects.toThrow(/^Expected Redis at redis:\/\/127\.0\.0\.1:1 to answer within 500 ms, it did not: .*ECONNREFUSED/);
  });

  it('closes within its timeout while Redis does not answer (an outage), attempts in flight abandoned to the next instance', async () => {
    const proxy = await startTcpProxy(REDIS_URL);
    // A receiver that never answers: an attempt is in flight when Redis goes away.
    const receiver = await startReceiver({ delayMs: 60_000 });
    const store = await createRedisStore(options({ url: proxy.url }));
    try {
      store.start(testHandlers());
      store.journal([{ event: publishEvent('rec-outage', 1), endpoints: [receiver.url()] }]);
      await vi.waitFor(() => expect(receiver.requests).toHaveLength(1), { timeout: 10_000 });
      await proxy.cut();
      // Without the bound, close() waited for Redis to come back, however long.
      await expect(store.close({ timeoutMs: 300 })).resolves.toBeUndefined();
    } finally {
      await receiver.close();
    }
  }, 20_000);

  it('refuses options it cannot use before it connects, saying what was expected', async () => {
    // An unreachable Redis: each option is refused before any connection is tried (one left open kept the process alive).
    const at = { url: 'redis://127.0.0.1:1' };
    await expect(createRedisStore({ ...at, maxQueue: 0 })).rejects.toThrow('maxQueue: expected an integer >= 1, got 0');
    await expect(createRedisStore({ ...at, outcomeStreamLength: 1.5 })).rejects.toThrow('outcomeStreamLength: expected an integer >= 1, got 1.5');
    await expect(createRedisStore({ ...at, connectTimeoutMs: -1 })).rejects.toThrow('connectTimeoutMs: expected an integer >= 1, got -1');
    await expect(createRedisStore({ ...at, lockDurationMs: 0 })).rejects.toThrow('lockDurationMs: expected an integer >= 1, got 0');
    await expect(createRedisStore({ ...at, stalledIntervalMs: 0 })).rejects.toThrow('stalledIntervalMs: expected an integer >= 1, got 0');
    await expect(createRedisStore({ ...at, discoveryIntervalMs: '10' as never })).rejects.toThrow('discoveryIntervalMs: expected an integer >= 1, got "10"');
    await expect(createRedisStore({ ...at, maxStalledCount: -1 })).rejects.toThrow('maxStalledCount: expected an integer >= 0, got -1');
  });

  it('resolves drain() only once the outcomes of what it settled are out, however late a worker hears back from Redis', async () => {
    const receiver = await startReceiver();
    // Redis counts a job settled when the worker's move runs; the worker emits it once the
    // reply is in. Hold that back, as a slow reply on the worker's connection would.
    const emit = Worker.prototype.emit;
    const late = vi.spyOn(Worker.prototype, 'emit').mockImplementation(function (this: Worker, event: string | symbol, ...args: unknown[]) {
      if (event !== 'completed') return emit.call(this, event as 'completed', ...(args as [never, never, never]));
      setTimeout(() => emit.call(this, event, ...(args as [never, never, never])), 200);
      return true;
    } as typeof emit);
    try {
      const store = await createRedisStore(options());
      open.push(store);
      const outcomes = collect(store);
      store.journal([1, 2].map((revision) => ({ event: publishEvent(`rec-late-${revision}`, revision), endpoints: [receiver.url()] })));
      store.start(testHandlers());
      await store.drain();

      expect(outcomes.map((o) => o.outcome.kind)).toEqual(['delivered', 'delivered']);
      expect(store.pending()).toBe(0);
    } finally {
      late.mockRestore();
      await receiver.close();
    }
  });

  it('writes a planned request into its job only when the delivery goes back for a retry', async () => {
    // Record 1's first answer is a 503: only its job is written again, with the request its retry sends.
    let refused = 0;
    const receiver = await startReceiver({ status: (arrival) => (arrival.revision === 1 && (refused += 1) === 1 ? 503 : 200) });
    const updateData = vi.spyOn(Job.prototype, 'updateData');
    try {
      const store = await createRedisStore(options());
      open.push(store);
      const outcomes = collect(store);
      store.journal([1, 2, 3, 4].map((revision) => ({ event: publishEvent(`rec-${revision}`, revision), endpoints: [receiver.url()] })));
      store.start(testHandlers({ retryDelayMs: 20 }));
      await store.drain();

      expect(outcomes.map((o) => o.outcome.kind)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
      expect(updateData).toHaveBeenCalledTimes(1);
      const [written] = updateData.mock.calls[0] ?? [];
      expect(written).toMatchObject({ deliveryId: outcomes.find((o) => o.outcome.kind === 'delivered' && o.outcome.attempts === 2)?.deliveryId });
      expect((written as { request?: unknown }).request).not.toBeNull();
      // The retry sent the request planned for the first attempt.
      const [first, retry] = receiver.requests.filter((arrival) => arrival.revision === 1);
      expect(retry?.body).toBe(first?.body);
    } finally {
      updateData.mockRestore();
      await receiver.close();
    }
  });
});
