import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectEveryDeliveryOnceInOrder, journaledDeliveries } from '../helpers/arrivals.js';
import { startReceiver } from '../helpers/receiver.js';
import { closeApp, startApp, waitForUnique, type App } from './helpers/redisApps.js';
import { assertRedisReachable, removeKeys, uniquePrefix } from './helpers/redis.js';

// These tests need the real Redis (127.0.0.1:6379 here and in CI, REDIS_URL overrides): when
// it does not answer they fail with a message saying so, they are not skipped.
const PARTITIONS = 16;
const prefix = uniquePrefix();

beforeAll(assertRedisReachable);
afterAll(async () => {
  await removeKeys(prefix);
});

describe('redis store, crash tests', () => {
  it('delivers all of 1,000 journaled events after the app is SIGKILLed mid-flight and restarted: 0 lost, duplicates only under their own delivery id', async () => {
    const EVENTS = 1_000;
    const RECORDS = 50;
    let first: App | null = null;
    let second: App | null = null;
    const receiver = await startReceiver({
      delayMs: 20,
      onRequest: (_arrival, count) => {
        if (count === 300) first?.child.kill('SIGKILL');
      },
    });
    const runId = `single${Date.now().toString(36)}`;
    const env = { RECEIVER_URL: receiver.url(), RECORDS: String(RECORDS), RUN_ID: runId, NAME: 'single' };
    try {
      const started = Date.now();
      first = startApp(prefix, PARTITIONS, { ...env, JOURNAL_COUNT: String(EVENTS) });
      const journaled = await first.waitFor('journaled');
      expect(await first.exited).toBe('SIGKILL');
      const arrivedBeforeKill = receiver.requests.length;
      second = startApp(prefix, PARTITIONS, { ...env, JOURNAL_COUNT: '0' });
      await waitForUnique(receiver, EVENTS, 30_000);
      const deliveredBySecond = await closeApp(second);

      const expected = journaledDeliveries(receiver.url(), RECORDS, Array.from({ length: EVENTS }, (_, n) => `${runId}-${n}`));
      expect(expected.size).toBe(EVENTS);
      // At most one request per partition was in flight when the app died.
      const check = expectEveryDeliveryOnceInOrder(receiver.requests, expected, PARTITIONS);
      if (process.env['PRINT_FIGURES'] !== undefined) {
        console.info(JSON.stringify({ test: 'redis crash', events: EVENTS, journal: journaled, arrivedBeforeKill, deliveredBySecond, duplicates: check.duplicates, lost: check.missing.length, totalMs: Date.now() - started }));
      }
    } finally {
      first?.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
      await receiver.close();
    }
  }, 60_000);
});
