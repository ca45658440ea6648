// The one pipeline in virtual time: createProvisioner over the default memory store (and an
// explicit createMemoryStore()), an injected HttpEffect answering on the TestScheduler's
// clock, and the scheduler handed to the provisioner. Retries, backoff and Retry-After waits
// are scheduled in the store's lanes, so the marbles show when each outcome settles.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { delay, map, of, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createMemoryStore,
  createProvisioner,
  createSqliteStore,
  sqliteStoreAvailability,
  defineConfig,
  type AppRecord,
  type DeliveryOutcome,
  type HttpEffect,
  type Provisioner,
  type ProvisionerResponse,
  type RequestDescriptor,
} from '../../src/index.js';
import { rdmRecord } from '../helpers/factories.js';

const ENDPOINT = 'https://search.example.org/api/v1/documents';
const identity = { id: 7 };
const events = defineConfig({
  rdm_record: {
    [ENDPOINT]: {
      publish: { http_method: 'PUT', payload: ({ record }: { readonly record?: AppRecord | null | undefined }) => ({ id: String(record?.id), rev: Number(record?.['revision_id'] ?? 0) }) },
    },
  },
});

const testScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A response on the scheduler's clock, `latency` frames after the attempt starts. */
function answer(request: RequestDescriptor, status: number, latency: number, headers: Readonly<Record<string, string>> = {}): Observable<ProvisionerResponse> {
  return of({ status, headers, body: null, url: request.url }).pipe(delay(latency));
}

/** `kind record@rev attempts`, for marbles. */
function label(outcome: DeliveryOutcome): string {
  const payload = outcome.kind === 'skipped' ? null : outcome.request?.payload;
  const attempts = outcome.kind === 'skipped' ? 0 : outcome.attempts;
  return `${outcome.kind} ${String(payload?.['id'])}@${String(payload?.['rev'])} ${attempts}`;
}

const record = (id: string, revision: number): AppRecord => rdmRecord({ id, revision_id: revision });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the pipeline over the memory store, in virtual time', () => {
  it('retries 503 twice with the backoff the policy gives, then delivers: attempts 3', async () => {
    // Full jitter at one half: the first retry waits 0.5 × 1000 ms, the second 0.5 × 2000 ms.
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const scheduler = testScheduler();
    const attemptsAt: number[] = [];
    let provisioner: Provisioner | undefined;
    scheduler.run(({ expectObservable }) => {
      const effect: HttpEffect = (request) => {
        attemptsAt.push(scheduler.now());
        return answer(request, attemptsAt.length <= 2 ? 503 : 200, 10);
      };
      provisioner = createProvisioner<AppRecord>({ events, scheduler, http: { effect, retry: { baseDelayMs: 1_000, maxDelayMs: 30_000 } } });
      provisioner.hooks('rdm_record').publish({ identity, record: record('a', 1) });
      // attempt 1 at 0, its 503 at 10; attempt 2 at 10 + 500, its 503 at 520; attempt 3 at 520 + 1000, its 200 at 1530.
      expectObservable(provisioner.outcomes$.pipe(map(label))).toBe('1530ms x', { x: 'delivered a@1 3' });
    });
    expect(attemptsAt).toEqual([0, 510, 1520]);
    await provisioner?.close();
  });

  it('honours Retry-After: 5 (seconds) on a 503 before the next attempt', async () => {
    const scheduler = testScheduler();
    const attemptsAt: number[] = [];
    let provisioner: Provisioner | undefined;
    scheduler.run(({ expectObservable }) => {
      const effect: HttpEffect = (request) => {
        attemptsAt.push(scheduler.now());
        return attemptsAt.length === 1 ? answer(request, 503, 10, { 'retry-after': '5' }) : answer(request, 200, 10);
      };
      provisioner = createProvisioner({ events, scheduler, store: createMemoryStore(), http: { effect } });
      provisioner.hooks('rdm_record').publish({ identity, record: record('a', 1) });
      expectObservable(provisioner.outcomes$.pipe(map(label))).toBe('5020ms x', { x: 'delivered a@1 2' });
    });
    expect(attemptsAt).toEqual([0, 5_010]);
    await provisioner?.close();
  });

  it('keeps the order per record while a retry waits: the next revision waits, another record does not', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const scheduler = testScheduler();
    let provisioner: Provisioner | undefined;
    scheduler.run(({ expectObservable }) => {
      const failedOnce = new Set<string>();
      const effect: HttpEffect = (request) => {
        const first = request.payload?.['id'] === 'a' && request.payload['rev'] === 1 && !failedOnce.has(request.deliveryId);
        if (first) failedOnce.add(request.deliveryId);
        return answer(request, first ? 503 : 200, 10);
      };
      provisioner = createProvisioner<AppRecord>({ events, scheduler, http: { effect, retry: { baseDelayMs: 1_000 } } });
      const hooks = provisioner.hooks('rdm_record');
      hooks.publish({ identity, record: record('a', 1) });
      hooks.publish({ identity, record: record('a', 2) });
      hooks.publish({ identity, record: record('b', 1) });
      // b@1 at 10; a@1 retried at 10 + 500, delivered at 520; a@2 only then: 530.
      expectObservable(provisioner.outcomes$.pipe(map(label))).toBe('10ms x 509ms y 9ms z', {
        x: 'delivered b@1 1',
        y: 'delivered a@1 2',
        z: 'delivered a@2 1',
      });
    });
    await provisioner?.close();
  });

  it('emits the outcomes of a record in event order when the effect answers at once', async () => {
    const scheduler = testScheduler();
    let provisioner: Provisioner | undefined;
    scheduler.run(({ expectObservable }) => {
      // Revision 2 fails while planning (synchronously); 1 and 3 are answered at once.
      const effect: HttpEffect = (request) => answer(request, 200, 0);
      const payloadEvents = defineConfig({
        rdm_record: {
          [ENDPOINT]: {
            publish: {
              http_method: 'PUT',
              payload: ({ record }: { readonly record?: AppRecord | null | undefined }) => {
                if (record?.['revision_id'] === 2) throw new Error('no payload for 2');
                return { id: String(record?.id), rev: Number(record?.['revision_id'] ?? 0) };
              },
            },
          },
        },
      });
      provisioner = createProvisioner<AppRecord>({ events: payloadEvents, scheduler, http: { effect } });
      const hooks = provisioner.hooks('rdm_record');
      for (const revision of [1, 2, 3]) hooks.publish({ identity, record: record('a', revision) });
      expectObservable(provisioner.outcomes$.pipe(map((outcome) => `${outcome.kind} ${String((outcome.event.args as { record?: AppRecord }).record?.['revision_id'])}`))).toBe('(xyz)', {
        x: 'delivered 1',
        y: 'failed 2',
        z: 'delivered 3',
      });
    });
    await provisioner?.close();
  });

  it('fails for good after the retry limit, the last attempt counted, and keeps the dead letter', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const scheduler = testScheduler();
    let provisioner: Provisioner | undefined;
    scheduler.run(({ expectObservable }) => {
      const effect: HttpEffect = (request) => answer(request, 500, 1);
      provisioner = createProvisioner<AppRecord>({ events, scheduler, http: { effect, retry: { limit: 2, baseDelayMs: 100 } } });
      provisioner.hooks('rdm_record').publish({ identity, record: record('a', 1) });
      // 1 + 100 + 1 + 200 + 1
      expectObservable(provisioner.outcomes$.pipe(map(label))).toBe('303ms x', { x: 'failed a@1 3' });
    });
    const letters = (await provisioner?.deadLetters()) ?? [];
    expect(letters.map((letter) => [letter.reason, letter.attempts, letter.response?.status])).toEqual([['http-status', 3, 500]]);
    await provisioner?.close();
  });
});

describe.skipIf(!sqliteStoreAvailability().available)('the pipeline over the SQLite store, in virtual time', () => {
  it('schedules the retries of a stored delivery on the same scheduler: 503, 503, 200 at the backoff times', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const dir = mkdtempSync(path.join(tmpdir(), 'rap-marble-'));
    const scheduler = testScheduler();
    const attemptsAt: number[] = [];
    let provisioner: Provisioner | undefined;
    try {
      scheduler.run(({ expectObservable }) => {
        const effect: HttpEffect = (request) => {
          attemptsAt.push(scheduler.now());
          return answer(request, attemptsAt.length <= 2 ? 503 : 200, 10);
        };
        provisioner = createProvisioner({ events, scheduler, store: createSqliteStore({ path: path.join(dir, 'marble.db') }), http: { effect, retry: { baseDelayMs: 1_000 } } });
        provisioner.hooks('rdm_record').publish({ identity, record: record('a', 1) });
        expectObservable(provisioner.outcomes$.pipe(map(label))).toBe('1530ms x', { x: 'delivered a@1 3' });
      });
      expect(attemptsAt).toEqual([0, 510, 1520]);
    } finally {
      await provisioner?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
