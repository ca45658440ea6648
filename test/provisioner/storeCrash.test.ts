// Crash tests through the real pipeline: an app process (helpers/storeApp.ts) calls the
// publish hook 1,000 times (each in a unit of work) with createProvisioner over the SQLite
// store, then over the Redis store; a slow receiver on 127.0.0.1 SIGKILLs it at the 300th
// arrival; a second process over the same store delivers the rest. Every event arrives, none
// is lost, a repeat only ever comes under its own delivery id, and per record the revisions
// never go back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { forkApp, type AppProcess } from '../helpers/appProcess.js';
import { sqliteStoreAvailability } from '../../src/index.js';
import { expectEveryDeliveryOnceInOrder, journaledDeliveries } from '../helpers/arrivals.js';
import { startReceiver } from '../helpers/receiver.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from '../store/helpers/redis.js';

const APP = fileURLToPath(new URL('./helpers/storeApp.ts', import.meta.url));
const EVENTS = 1_000;
const RECORDS = 50;
const KILL_AT = 300;
const PARTITIONS = 16;

type AppMessage =
  | { readonly type: 'journaled'; readonly count: number; readonly perEventUs: number; readonly eventIds: readonly string[] }
  | { readonly type: 'drained'; readonly delivered: number };

function startApp(env: Record<string, string>): AppProcess<AppMessage> {
  return forkApp<AppMessage>(APP, env);
}

const sqlite = sqliteStoreAvailability();
const dir = mkdtempSync(path.join(tmpdir(), 'rap-provisioner-crash-'));
const prefix = uniquePrefix();
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (usedRedis) await removeKeys(prefix);
});
let usedRedis = false;

async function crashAndResume(storeEnv: Record<string, string>, maxDuplicates: number): Promise<void> {
  let first: ReturnType<typeof startApp> | null = null;
  let second: ReturnType<typeof startApp> | null = null;
  const receiver = await startReceiver({
    delayMs: 20,
    onRequest: (_arrival, count) => {
      if (count === KILL_AT) first?.child.kill('SIGKILL');
    },
  });
  const env = { ...storeEnv, RECEIVER_URL: receiver.url(), RECORDS: String(RECORDS) };
  try {
    const started = Date.now();
    first = startApp({ ...env, JOURNAL_COUNT: String(EVENTS) });
    expect(await first.exited).toBe('SIGKILL');
    const journaled = first.messages.find((m) => m.type === 'journaled');
    expect(journaled?.type === 'journaled' && journaled.eventIds.length).toBe(EVENTS);
    const arrivedBeforeKill = receiver.requests.length;

    second = startApp({ ...env, JOURNAL_COUNT: '0' });
    expect(await second.exited).toBe(0);

    const expected = journaledDeliveries(receiver.url(), RECORDS, journaled?.type === 'journaled' ? journaled.eventIds : []);
    expect(expected.size).toBe(EVENTS);
    const check = expectEveryDeliveryOnceInOrder(receiver.requests, expected, maxDuplicates);
    expect(receiver.requests.every((arrival) => arrival.authorization === 'Bearer tok_crash_test')).toBe(true);
    if (process.env['PRINT_FIGURES'] !== undefined) {
      console.info(
        JSON.stringify({
          test: `${storeEnv['STORE']} crash through createProvisioner`,
          events: EVENTS,
          hookPerEventUs: journaled?.type === 'journaled' ? Math.round(journaled.perEventUs) : null,
          arrivedBeforeKill,
          duplicates: check.duplicates,
          lost: check.missing.length,
          totalMs: Date.now() - started,
        }),
      );
    }
  } finally {
    first?.child.kill('SIGKILL');
    second?.child.kill('SIGKILL');
    await receiver.close();
  }
}

describe('createProvisioner with a durable store, crash tests', () => {
  it.skipIf(!sqlite.available)(
    `sqlite: delivers all of ${EVENTS} hook events after the app is SIGKILLed mid-flight and restarted: 0 lost, duplicates only under their own delivery id`,
    async () => {
      // At most the 16 requests in flight when the process died are sent again.
      await crashAndResume({ STORE: 'sqlite', STORE_PATH: path.join(dir, 'app.db') }, 16);
    },
    60_000,
  );

  it(`redis: delivers all of ${EVENTS} hook events after the app is SIGKILLed mid-flight and restarted: 0 lost, duplicates only under their own delivery id`, async () => {
    await assertRedisReachable();
    usedRedis = true;
    // At most one request per partition was in flight when the app died.
    await crashAndResume({ STORE: 'redis', REDIS_URL, PREFIX: prefix, NAME: 'crash', PARTITIONS: String(PARTITIONS) }, PARTITIONS);
  }, 60_000);
});
