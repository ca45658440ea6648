import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { forkApp, type AppProcess } from '../helpers/appProcess.js';
import { sqliteStoreAvailability } from '../../src/store/sqliteStore.js';
import { expectEveryDeliveryOnceInOrder, journaledDeliveries } from '../helpers/arrivals.js';
import { startReceiver } from '../helpers/receiver.js';

// better-sqlite3 is a native addon for the Node.js that installed it. `.ci/run` installs with
// each Node line it tests, so it loads on every one; where it cannot load (installed by
// another Node.js), the suite name says why and the tests are skipped rather than failing.
const sqlite = sqliteStoreAvailability();
const suffix = sqlite.available ? '' : ` (skipped: better-sqlite3 does not load on Node ${process.version}: ${sqlite.reason})`;

const APP = fileURLToPath(new URL('./helpers/sqliteApp.ts', import.meta.url));
const EVENTS = 1_000;
const RECORDS = 50;
const KILL_AT = 300;

type AppMessage =
  | { readonly type: 'opened'; readonly pending: number }
  | { readonly type: 'journaled'; readonly count: number; readonly perEventUs: number }
  | { readonly type: 'drained'; readonly delivered: number };

function startApp(env: Record<string, string>): AppProcess<AppMessage> {
  return forkApp<AppMessage>(APP, env);
}

const dir = mkdtempSync(path.join(tmpdir(), 'rap-sqlite-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!sqlite.available)(`sqlite store, crash test${suffix}`, () => {
  it(`delivers all of ${EVENTS} journaled events after the app is SIGKILLed mid-flight and restarted: 0 lost, duplicates only under their own delivery id`, async () => {
    let first: ReturnType<typeof startApp> | null = null;
    const receiver = await startReceiver({
      delayMs: 20,
      onRequest: (_arrival, count) => {
        if (count === KILL_AT) first?.child.kill('SIGKILL');
      },
    });
    const runId = `crash${Date.now().toString(36)}`;
    const env = { STORE_PATH: path.join(dir, 'app.db'), RECEIVER_URL: receiver.url(), RECORDS: String(RECORDS), RUN_ID: runId };
    try {
      const started = Date.now();
      first = startApp({ ...env, JOURNAL_COUNT: String(EVENTS) });
      expect(await first.exited).toBe('SIGKILL');
      const journaled = first.messages.find((m) => m.type === 'journaled');
      expect(journaled).toMatchObject({ count: EVENTS });
      const arrivedBeforeKill = receiver.requests.length;

      const second = startApp({ ...env, JOURNAL_COUNT: '0' });
      expect(await second.exited).toBe(0);
      const opened = second.messages.find((m) => m.type === 'opened');
      const drained = second.messages.find((m) => m.type === 'drained');

      const expected = journaledDeliveries(receiver.url(), RECORDS, Array.from({ length: EVENTS }, (_, n) => `${runId}-${n}`));
      expect(expected.size).toBe(EVENTS);
      // At most the 16 requests in flight when the process died are sent again.
      const check = expectEveryDeliveryOnceInOrder(receiver.requests, expected, 16);
      expect(opened?.type === 'opened' && opened.pending).toBeGreaterThanOrEqual(EVENTS - arrivedBeforeKill);
      expect(drained?.type === 'drained' && drained.delivered).toBe(opened?.type === 'opened' ? opened.pending : -1);
      if (process.env['PRINT_FIGURES'] !== undefined) {
        console.info(
          JSON.stringify({
            test: 'sqlite crash',
            events: EVENTS,
            journalPerEventUs: journaled?.type === 'journaled' ? Math.round(journaled.perEventUs) : null,
            arrivedBeforeKill,
            resumed: opened?.type === 'opened' ? opened.pending : null,
            duplicates: check.duplicates,
            lost: check.missing.length,
            totalMs: Date.now() - started,
          }),
        );
      }
    } finally {
      first?.child.kill('SIGKILL');
      await receiver.close();
    }
  }, 60_000);
});
