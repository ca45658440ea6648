import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpStatusError, NetworkError, TimeoutError, type AppRecord, type ProvisionerResponse } from '../../src/index.js';
import { deliveryIdOf } from '../../src/events/deliveryId.js';
import type { DeliveryStore } from '../../src/store/deliveryStore.js';
import { createSqliteStore, sqliteStoreAvailability } from '../../src/store/sqliteStore.js';
import { collect, describeStoreContract } from './helpers/contract.js';
import { publishEvent } from '../helpers/factories.js';
import { TEST_TOKEN, testHandlers } from './helpers/handlers.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

// better-sqlite3 is a native addon for the Node.js that installed it. `.ci/run` installs with
// each Node line it tests, so it loads on every one; where it cannot load (installed by
// another Node.js), the suite name says why and the tests are skipped rather than failing.
const sqlite = sqliteStoreAvailability();
const suffix = sqlite.available ? '' : ` (skipped: better-sqlite3 does not load on Node ${process.version}: ${sqlite.reason})`;

const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rap-sqlite-'));
  dirs.push(dir);
  return path.join(dir, 'store.db');
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!sqlite.available)(`sqlite store${suffix}`, () => {
  describeStoreContract('sqlite', (options) => createSqliteStore({ path: tempFile(), ...options }));

  describe('durability', () => {
    let receiver: Receiver;
    let file: string;
    let store: DeliveryStore | undefined;
    beforeEach(async () => {
      receiver = await startReceiver({ delayMs: 1 });
      file = tempFile();
    });
    afterEach(async () => {
      await store?.close();
      store = undefined;
      await receiver.close();
    });

    it('resumes unsettled deliveries after a reopen, in order, with the same ids, the stored plan and the attempts counted', async () => {
      const first = createSqliteStore({ path: file });
      const events = [publishEvent('rec-a', 1), publishEvent('rec-a', 2), publishEvent('rec-b', 1)];
      first.journal(events.map((event) => ({ event, endpoints: [receiver.url()] })));
      // The first process plans and tries rec-a@1 and rec-b@1 once, is told to retry later, and stops.
      let answered = 0;
      first.start({
        ...testHandlers(),
        concurrency: 1,
        attempt: async () => {
          answered += 1;
          return { kind: 'retry', delayMs: 300, reason: 'network', error: new NetworkError('down'), response: null };
        },
      });
      await vitestWaitFor(() => answered >= 2);
      await first.close();

      store = createSqliteStore({ path: file });
      expect(store.pending()).toBe(3);
      const outcomes = collect(store);
      const handlers = testHandlers();
      store.start(handlers);
      await store.drain();

      const ids = events.map((event) => deliveryIdOf(event.eventId, receiver.url()));
      expect(receiver.requests.filter((a) => a.recordId === 'rec-a').map((a) => a.revision)).toEqual([1, 2]);
      expect(new Set(outcomes.map((o) => o.deliveryId))).toEqual(new Set(ids));
      // Planned before the reopen: not planned again, attempt numbers go on.
      const planned = [...handlers.plans.keys()];
      expect(planned).not.toContain(ids[0]);
      expect(handlers.attempts.get(ids[0] ?? '')).toEqual([2]);
      // The resumed request had its Authorization header restored from the handlers, not from disk.
      expect(receiver.requests.every((a) => a.authorization === TEST_TOKEN)).toBe(true);
      // The event came back with its types (a Date in the record).
      const delivered = outcomes.find((o) => o.deliveryId === ids[0])?.outcome;
      expect((delivered?.event.args as { record: AppRecord }).record['indexed_at']).toBeInstanceOf(Date);
    });

    it('never writes secret headers to the file', async () => {
      store = createSqliteStore({ path: file });
      store.journal([{ event: publishEvent('rec-a', 1), endpoints: [receiver.url()] }]);
      store.start({
        ...testHandlers(),
        attempt: async ({ request }) => {
          const response: ProvisionerResponse = { status: 400, headers: { 'set-cookie': 'session=s3cret-cookie' }, body: null, url: request.url };
          return { kind: 'failed', reason: 'http-status', error: new HttpStatusError('Expected a 2xx response, got 400', response), response };
        },
      });
      await store.drain();
      await store.close();
      const bytes = ['', '-wal', '-intake'].map((ext) => {
        try {
          return readFileSync(file + ext).toString('latin1');
        } catch {
          return '';
        }
      });
      expect(bytes.join('')).not.toContain(TEST_TOKEN.slice('Bearer '.length));
      expect(bytes.join('')).not.toContain('s3cret-cookie');
      store = createSqliteStore({ path: file });
      const [letter] = await store.deadLetters();
      expect(letter?.request?.headers).not.toHaveProperty('Authorization');
      expect(letter?.response?.headers).toEqual({ 'set-cookie': '[redacted]' });
    });

    it('keeps dead letters across a reopen and requeues them there', async () => {
      const first = createSqliteStore({ path: file });
      const event = publishEvent('rec-a', 1);
      first.journal([{ event, endpoints: [receiver.url()] }]);
      first.start({
        ...testHandlers(),
        attempt: async ({ request }) => ({ kind: 'failed', reason: 'timeout', error: new TimeoutError(`Expected ${request.url} to answer`), response: null }),
      });
      await first.drain();
      await first.close();

      store = createSqliteStore({ path: file });
      const letters = await store.deadLetters({ reason: 'timeout' });
      expect(letters.map((l) => [l.deliveryId, l.attempts, l.error.name])).toEqual([[deliveryIdOf(event.eventId, receiver.url()), 1, 'TimeoutError']]);
      store.start(testHandlers());
      await store.requeue(letters.map((l) => l.deliveryId));
      await store.drain();
      expect(receiver.requests.map((a) => [a.deliveryId, a.authorization])).toEqual([[deliveryIdOf(event.eventId, receiver.url()), TEST_TOKEN]]);
    });

    it('holds at most maxInMemory deliveries and loads the rest from disk in order', async () => {
      store = createSqliteStore({ path: file, maxInMemory: 4 });
      const entries = [];
      for (let revision = 1; revision <= 10; revision += 1) {
        for (const recordId of ['rec-a', 'rec-b', 'rec-c']) entries.push({ event: publishEvent(recordId, revision), endpoints: [receiver.url()] });
      }
      store.journal(entries.slice(0, 15));
      store.start(testHandlers({ concurrency: 3 }));
      store.journal(entries.slice(15));
      await store.drain();
      expect(receiver.requests).toHaveLength(30);
      for (const recordId of ['rec-a', 'rec-b', 'rec-c']) {
        expect(receiver.requests.filter((a) => a.recordId === recordId).map((a) => a.revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      }
    });

    it('refuses a second opener of the same file while the first holds it', () => {
      store = createSqliteStore({ path: file });
      expect(() => createSqliteStore({ path: file, busyTimeoutMs: 50 })).toThrow(
        `Expected to be the only process using the SQLite store ${file}, but another process holds it: run one process per store file, or use the Redis store to share work between instances`,
      );
    });

    it('refuses options it cannot use, saying what was expected: a power-loss guarantee is never quietly dropped', () => {
      expect(() => createSqliteStore({ path: file, synchronous: 'FULL' as never })).toThrow(`synchronous: expected 'normal' or 'full', got "FULL"`);
      expect(() => createSqliteStore({ path: file, busyTimeoutMs: -1 })).toThrow('busyTimeoutMs: expected an integer >= 1, got -1');
      expect(() => createSqliteStore({} as never)).toThrow("path: expected the database file's path, got undefined");
      expect(() => createSqliteStore({ path: 42 } as never)).toThrow("path: expected the database file's path, got number");
    });

    it('says why a file cannot be opened, without the rebuild hint that only an addon of another Node.js needs', () => {
      const missing = path.join(path.dirname(file), 'no-such-directory', 'store.db');
      let thrown: unknown;
      try {
        createSqliteStore({ path: missing });
      } catch (error) {
        thrown = error;
      }
      expect((thrown as Error).message).toBe(
        `Expected to open the SQLite store ${missing} with better-sqlite3 on Node.js ${process.version}, but it failed: Cannot open database because the directory does not exist`,
      );
    });
  });
});

async function vitestWaitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`Expected the condition within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
