// Two app instances through createProvisioner on one Redis store: instance A calls the publish
// hook 2,000 times over 100 records, instance B starts once A's events are in Redis, both
// deliver, A is SIGKILLed when half the events have arrived at the receiver. B takes A's
// deliveries over after the lock expires: 0 lost, per-record order kept at the receiver,
// repeats only under their own delivery id.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryIdOf } from '../../src/index.js';
import { checkArrivals, startReceiver } from '../store/helpers/receiver.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from '../store/helpers/redis.js';

const APP = fileURLToPath(new URL('./helpers/storeApp.ts', import.meta.url));
const EVENTS = 2_000;
const RECORDS = 100;
const PARTITIONS = 16;
const prefix = uniquePrefix();

type AppMessage =
  | { readonly type: 'journaled'; readonly count: number; readonly perEventUs: number; readonly eventIds: readonly string[] }
  | { readonly type: 'drained'; readonly delivered: number };

function startApp(env: Record<string, string>): { child: ChildProcess; messages: AppMessage[]; exited: Promise<NodeJS.Signals | number | null>; journaled: Promise<AppMessage> } {
  const child = fork(APP, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: AppMessage[] = [];
  let onJournaled: (message: AppMessage) => void = () => undefined;
  const journaled = new Promise<AppMessage>((resolve) => (onJournaled = resolve));
  child.on('message', (message: AppMessage) => {
    messages.push(message);
    if (message.type === 'journaled') onJournaled(message);
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  return { child, messages, exited, journaled };
}

beforeAll(assertRedisReachable);
afterAll(async () => {
  await removeKeys(prefix);
});

describe('createProvisioner with the redis store, two instances', () => {
  it(`delivers all of ${EVENTS} hook events when one of two instances is SIGKILLed halfway: 0 lost, order per record kept`, async () => {
    let a: ReturnType<typeof startApp> | null = null;
    let b: ReturnType<typeof startApp> | null = null;
    const receiver = await startReceiver({
      delayMs: 5,
      onArrival: (_arrival, count) => {
        if (count === EVENTS / 2) a?.child.kill('SIGKILL');
      },
    });
    const env = { STORE: 'redis', REDIS_URL, PREFIX: prefix, NAME: 'two', PARTITIONS: String(PARTITIONS), RECEIVER_URL: receiver.url, RECORDS: String(RECORDS) };
    try {
      const started = Date.now();
      a = startApp({ ...env, JOURNAL_COUNT: String(EVENTS) });
      const journaled = await a.journaled;
      b = startApp({ ...env, JOURNAL_COUNT: '0' });
      expect(await a.exited).toBe('SIGKILL');
      expect(await b.exited).toBe(0);

      const eventIds = journaled.type === 'journaled' ? journaled.eventIds : [];
      const expected = new Map<string, { recordId: string; revision: number }>();
      eventIds.forEach((eventId, n) => expected.set(deliveryIdOf(eventId, receiver.url), { recordId: `rec-${n % RECORDS}`, revision: Math.floor(n / RECORDS) + 1 }));
      const check = checkArrivals(receiver.arrivals, expected);
      expect(check.missing).toEqual([]);
      expect(check.unknown).toEqual([]);
      expect(check.contentUnderOtherIds).toEqual([]);
      expect(check.orderViolations).toEqual([]);
      expect(check.unique).toBe(EVENTS);
      // At most one request per partition was in flight in the killed instance.
      expect(check.duplicates).toBeLessThanOrEqual(PARTITIONS);
      const drained = b.messages.find((m) => m.type === 'drained');
      if (process.env['PRINT_FIGURES'] !== undefined) {
        console.info(JSON.stringify({ test: 'redis two instances through createProvisioner', events: EVENTS, records: RECORDS, deliveredOutcomesSeenBySurvivor: drained?.type === 'drained' ? drained.delivered : null, duplicates: check.duplicates, lost: check.missing.length, totalMs: Date.now() - started }));
      }
    } finally {
      a?.child.kill('SIGKILL');
      b?.child.kill('SIGKILL');
      await receiver.close();
    }
  }, 60_000);
});
