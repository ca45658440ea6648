import { copyFileSync, mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryStore } from '../../src/store/deliveryStore.js';
import { createSqliteStore, sqliteStoreAvailability } from '../../src/store/sqliteStore.js';
import { forkApp } from '../helpers/appProcess.js';
import { expectEveryDeliveryOnceInOrder, journaledDeliveries } from '../helpers/arrivals.js';
import { publishEvent } from '../helpers/factories.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { testHandlers } from './helpers/handlers.js';

// The SQLite store's intake log: a hook call appends what it journals to `<path>-intake`
// and returns; the database takes it in after the caller's turn. These tests kill or rewind
// the store between the two.
const sqlite = sqliteStoreAvailability();
const suffix = sqlite.available ? '' : ` (skipped: better-sqlite3 does not load on Node ${process.version}: ${sqlite.reason})`;
const APP = fileURLToPath(new URL('./helpers/sqliteIntakeApp.ts', import.meta.url));
const RECORDS = 5;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs the app that journals `count` events and is SIGKILLed in the same turn; answers the run id. */
async function journalAndDie(file: string, url: string, count: number): Promise<string> {
  const runId = `intake${Date.now().toString(36)}`;
  const app = forkApp(APP, { STORE_PATH: file, RECEIVER_URL: url, RECORDS: String(RECORDS), RUN_ID: runId, JOURNAL_COUNT: String(count) });
  expect(await app.exited).toBe('SIGKILL');
  return runId;
}

describe.skipIf(!sqlite.available)(`sqlite store, the intake log${suffix}`, () => {
  let receiver: Receiver;
  let file: string;
  let store: DeliveryStore | undefined;
  beforeEach(async () => {
    receiver = await startReceiver({ delayMs: 1 });
    const dir = mkdtempSync(path.join(tmpdir(), 'rap-intake-'));
    dirs.push(dir);
    file = path.join(dir, 'store.db');
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await receiver.close();
  });

  it('keeps what hook calls journaled when the process is killed before its turn ends, and delivers each of it once, in order', async () => {
    const runId = await journalAndDie(file, receiver.url(), 40);
    // Only the intake log has them: its header and 40 records.
    expect(statSync(`${file}-intake`).size).toBeGreaterThan(40 * 100);

    store = createSqliteStore({ path: file });
    expect(store.pending()).toBe(40);
    // Moved into the database on open: the log is cut back to its header.
    expect(statSync(`${file}-intake`).size).toBeLessThan(100);
    store.start(testHandlers());
    await store.drain();
    const expected = journaledDeliveries(receiver.url(), RECORDS, Array.from({ length: 40 }, (_, n) => `${runId}-${n}`));
    const check = expectEveryDeliveryOnceInOrder(receiver.requests, expected, 0);
    expect(check.unique).toBe(40);
  });

  it('ends the read at a torn last record: the records before it are kept', async () => {
    await journalAndDie(file, receiver.url(), 3);
    truncateSync(`${file}-intake`, statSync(`${file}-intake`).size - 10);
    store = createSqliteStore({ path: file });
    expect(store.pending()).toBe(2);
  });

  it('never takes in again what the database already has: a log put back after its deliveries settled changes nothing', async () => {
    const first = createSqliteStore({ path: file });
    first.journal([1, 2, 3].map((revision) => ({ event: publishEvent('rec-a', revision), endpoints: [receiver.url()] })));
    // Taken now, before the store's turn ends: the three records, not yet in the database.
    copyFileSync(`${file}-intake`, `${file}-intake.kept`);
    first.start(testHandlers());
    await first.drain();
    await first.close();
    expect(receiver.requests).toHaveLength(3);

    copyFileSync(`${file}-intake.kept`, `${file}-intake`);
    store = createSqliteStore({ path: file });
    expect(store.pending()).toBe(0);
  });

  it('sets aside the log of another store file (the database was replaced) unread', async () => {
    await journalAndDie(file, receiver.url(), 3);
    copyFileSync(`${file}-intake`, `${file}-intake.kept`);
    for (const ext of ['', '-wal', '-intake']) rmSync(`${file}${ext}`, { force: true });
    copyFileSync(`${file}-intake.kept`, `${file}-intake`);
    store = createSqliteStore({ path: file });
    expect(store.pending()).toBe(0);
  });
});
