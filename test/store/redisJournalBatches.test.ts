// The Redis store sends buffered journals to Redis in batches bounded in bytes, not only in
// jobs: 1,000 journals of large records in one batch were built and written to the socket in
// one go, holding the event loop for over 100 ms (found by the fault suite's Redis load run).
// Seen from outside: while a burst is being sent, the journals are acknowledged (flush()
// resolves) in many steps, with the event loop running in between, not in one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/index.js';
import { publishEvent } from '../helpers/factories.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from './helpers/redis.js';

const prefix = uniquePrefix();
beforeAll(assertRedisReachable);
afterAll(() => removeKeys(prefix));

describe('redis store journal batches', () => {
  it('sends a burst of 1,000 journals of large records in many batches, the event loop running between them', async () => {
    const store = await createRedisStore({ url: REDIS_URL, prefix, name: 'batches', partitions: 4 });
    try {
      // Not started: nothing is delivered. Each journal's flush() resolves when Redis has
      // acknowledged it, so the turns they resolve in show the batches.
      const events = Array.from({ length: 1_000 }, (_, n) => publishEvent(`batch-${n % 50}`, Math.floor(n / 50) + 1));
      let turns = 0;
      const acknowledgedAt: number[] = [];
      for (const event of events) {
        expect(store.journal([{ event, endpoints: ['http://127.0.0.1:9/documents'] }]).kind).toBe('journaled');
        void store.flush().then(() => acknowledgedAt.push(turns));
      }
      expect(store.pending()).toBe(1_000);
      while (acknowledgedAt.length < 1_000 && turns < 100_000) {
        turns += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
      await store.flush();
      expect(acknowledgedAt).toHaveLength(1_000);
      const seen = new Set(acknowledgedAt);
      // The fixture record is about 2 KB once encoded: 256 KiB a batch makes eight or nine
      // batches (one batch of 1,000 before the bound in bytes).
      expect(seen.size).toBeGreaterThan(5);
    } finally {
      await store.close();
    }
  });
});
