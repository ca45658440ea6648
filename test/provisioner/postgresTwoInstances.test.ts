// The two-instance check with the PostgreSQL store: two app processes
// (test/store/helpers/postgresApp.ts) on one database each write half of 500 records and call
// the publish hook in the same transactions (createPgUnitOfWork, 50 writes a transaction),
// 10,000 calls in all (each record's events come from one process, in order); both deliver,
// and one is SIGKILLed when half the events have arrived at the receiver (and both have committed). The survivor takes
// the killed one's deliveries over once their lock expires and drains: 0 lost, per-record order
// kept at the receiver, repeats only under their own delivery id, and the survivor's outcomes$
// saw the deliveries of both. It needs the real PostgreSQL (127.0.0.1:5432, DATABASE_URL
// overrides): when it does not answer the test fails saying so, it is not skipped.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryIdOf } from '../../src/index.js';
import { forkApp, type AppProcess } from '../helpers/appProcess.js';
import { DATABASE_URL, assertPostgresReachable, dropSchema, query, uniqueSchema } from '../store/helpers/postgres.js';
import { checkArrivals, startReceiver } from '../helpers/receiver.js';

const APP = fileURLToPath(new URL('../store/helpers/postgresApp.ts', import.meta.url));

type AppMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly callbacks: number }
  | { readonly type: 'committed'; readonly count: number; readonly perTransactionUs: number; readonly eventIds: readonly string[]; readonly indices: readonly number[] }
  | { readonly type: 'drained'; readonly delivered: number; readonly callbacks: number };

type App = AppProcess<AppMessage> & { delivered(): number };

function startApp(env: Record<string, string>): App {
  let delivered = 0;
  const app = forkApp<AppMessage>(APP, env, (message) => {
    if (message.type !== 'progress') return true;
    delivered = message.callbacks;
    return false;
  });
  return { ...app, delivered: () => delivered };
}

const EVENTS = 10_000;
const RECORDS = 500;
const CONCURRENCY = 16;
const schema = uniqueSchema();

beforeAll(assertPostgresReachable);
afterAll(async () => {
  await dropSchema(schema);
});

describe('createProvisioner with the postgres store, two instances', () => {
  it(`delivers all of ${EVENTS} hook calls over ${RECORDS} records, written in the app's transactions, when one of two instances is SIGKILLed halfway: 0 lost, order kept, outcomes seen by the survivor`, async () => {
    const apps: App[] = [];
    const kill: { victim: { index: number; deliveredBefore: number; arrivedBefore: number } | null } = { victim: null };
    // Halfway through the deliveries, once both instances have committed all their hook calls.
    const killIfDue = (): void => {
      if (kill.victim !== null || receiver.requests.length < EVENTS / 2 || !apps.every((app) => app.messages.some((m) => m.type === 'committed'))) return;
      const delivered = apps.map((app) => app.delivered());
      const index = (delivered[1] ?? 0) > (delivered[0] ?? 0) ? 1 : 0;
      kill.victim = { index, deliveredBefore: delivered[index] ?? 0, arrivedBefore: receiver.requests.length };
      apps[index]?.child.kill('SIGKILL');
    };
    const receiver = await startReceiver({ delayMs: 2, onRequest: killIfDue });
    const env = { DATABASE_URL, SCHEMA: schema, NAME: 'two', LOCK_MS: '5000', RECEIVER_URL: receiver.url(), RECORDS: String(RECORDS), COUNT: String(EVENTS), MODE: 'commit', TX_BATCH: '50', WAIT_FOR_GO: '1' };
    try {
      const started = Date.now();
      apps.push(startApp({ ...env, SHARE: '0/2' }), startApp({ ...env, SHARE: '1/2' }));
      for (const app of apps) app.child.on('message', () => setImmediate(killIfDue));
      await Promise.all(apps.map((app) => app.waitFor('ready', 30_000)));
      for (const app of apps) app.child.send({ type: 'go' });
      const exits = await Promise.all(apps.map((app) => app.exited));
      const killed = kill.victim;
      if (killed === null) throw new Error(`Expected an instance to be killed at the arrival ${EVENTS / 2}, got ${receiver.requests.length} arrivals`);
      const survivor = apps[1 - killed.index] as App;
      expect(exits[killed.index]).toBe('SIGKILL');
      expect(exits[1 - killed.index]).toBe(0);

      const committed = apps.flatMap((app) => app.messages.filter((m) => m.type === 'committed'));
      const expected = new Map<string, { recordId: string; revision: number }>();
      for (const { eventIds, indices } of committed) {
        eventIds.forEach((eventId, i) => {
          const n = indices[i] ?? -1;
          expected.set(deliveryIdOf(eventId, receiver.url()), { recordId: `rec-${n % RECORDS}`, revision: Math.floor(n / RECORDS) + 1 });
        });
      }
      expect(expected.size).toBe(EVENTS);
      // The database agrees: every record holds its last revision.
      const revisions = await query<{ count: string }>(`SELECT count(*)::text AS count FROM ${schema}.records WHERE (data->>'revision_id')::int = $1`, [EVENTS / RECORDS]);
      expect(Number(revisions[0]?.count)).toBe(RECORDS);
      const check = checkArrivals(receiver.requests, expected);
      expect(check.missing).toEqual([]);
      expect(check.unknown).toEqual([]);
      expect(check.contentUnderOtherIds).toEqual([]);
      expect(check.orderViolations).toEqual([]);
      expect(check.unique).toBe(EVENTS);
      expect(check.duplicates).toBeLessThanOrEqual(CONCURRENCY);

      const drained = await survivor.waitFor('drained');
      expect(killed.deliveredBefore).toBeGreaterThan(0);
      expect(drained.callbacks).toBeGreaterThan(0);
      expect(drained.callbacks).toBeLessThan(EVENTS);
      // Every outcome, whichever instance settled it, reached the survivor's outcomes$ (those the killed one settled are in the outcome table).
      expect(drained.delivered).toBe(EVENTS);
      if (process.env['PRINT_FIGURES'] !== undefined) {
        console.info(
          JSON.stringify({
            test: 'postgres two instances through createProvisioner',
            events: EVENTS,
            arrivedBeforeKill: killed.arrivedBefore,
            perTransactionUs: committed.map((m) => Math.round(m.perTransactionUs)),
            deliveredByKilledBeforeKill: killed.deliveredBefore,
            deliveredBySurvivor: drained.callbacks,
            outcomesSeenBySurvivor: drained.delivered,
            duplicates: check.duplicates,
            lost: check.missing.length,
            totalMs: Date.now() - started,
          }),
        );
      }
    } finally {
      for (const app of apps) app.child.kill('SIGKILL');
      await receiver.close();
    }
  }, 300_000);
});
