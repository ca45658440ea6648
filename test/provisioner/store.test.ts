// createProvisioner({ store }): the same pipeline over the memory, SQLite and Redis stores,
// against a receiver on 127.0.0.1: hook calls journaled before they return, outcomes and
// callbacks, dead letters and replay with the same delivery ids, work resumed by a new
// provisioner (SQLite), endpoints removed from the config on resume, and backfill.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClosedError,
  createMemoryStore,
  createProvisioner,
  createRedisStore,
  createSqliteStore,
  sqliteStoreAvailability,
  type AppRecord,
  type CallbackOutcome,
  type DeliveryOutcome,
  type DeliveryStore,
  type ProvisionerConfig,
} from '../../src/index.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { assertRedisReachable, removeKeys, uniquePrefix } from '../store/helpers/redis.js';

const TOKEN = 'tok_store_test_secret';
const sqlite = sqliteStoreAvailability();
const dir = mkdtempSync(path.join(tmpdir(), 'rap-provisioner-store-'));
const prefix = uniquePrefix();
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await removeKeys(prefix);
});

function configFor(url: string, callback?: (response: { readonly body: unknown }) => unknown): ProvisionerConfig {
  const config = {
    rdm_record: {
      [url]: {
        publish: {
          http_method: 'POST',
          payload: ({ record }: { readonly record?: AppRecord | null }) => ({ id: String(record?.id), revision_id: Number(record?.['revision_id'] ?? 0) }),
          auth_token: TOKEN,
          retry: { limit: 1, baseDelayMs: 10, maxDelayMs: 20 },
          ...(callback !== undefined ? { callback } : {}),
        },
      },
    },
  };
  return config as unknown as ProvisionerConfig;
}

const record = (id: string, revision = 1): AppRecord => ({ id, revision_id: revision, access: { record: 'public' } });

type Made = { readonly store: DeliveryStore; readonly close?: () => Promise<void> };
const stores: { readonly name: string; readonly skip: boolean; readonly make: (label: string) => Promise<Made> }[] = [
  { name: 'memory', skip: false, make: async () => ({ store: createMemoryStore() }) },
  { name: 'sqlite', skip: !sqlite.available, make: async (label) => ({ store: createSqliteStore({ path: path.join(dir, `${label}.db`) }) }) },
  {
    name: 'redis',
    skip: false,
    make: async (label) => ({ store: await createRedisStore({ prefix, name: label, partitions: 2, lockDurationMs: 2_000, stalledIntervalMs: 1_000, drainPollMs: 20 }) }),
  },
];

beforeAll(assertRedisReachable);

describe.each(stores)('createProvisioner with the $name store', ({ name, skip, make }) => {
  it.skipIf(skip)('delivers hook events with their tokens, runs callbacks where the delivery settled, drains and closes', async () => {
    const receiver = await startReceiver();
    const { store } = await make(`${name}-basic`);
    const provisioner = createProvisioner({ events: configFor(receiver.url(), (response) => response.body), store });
    const outcomes: DeliveryOutcome[] = [];
    const callbacks: CallbackOutcome[] = [];
    provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    provisioner.callbacks$.subscribe((outcome) => callbacks.push(outcome));
    try {
      const hooks = provisioner.hooks('rdm_record');
      for (let n = 0; n < 20; n += 1) hooks.publish({ identity: { id: 1 }, record: record(`rec-${n % 4}`, Math.floor(n / 4) + 1) });
      await provisioner.drain();
      expect(outcomes.map((outcome) => outcome.kind)).toEqual(Array(20).fill('delivered'));
      expect(callbacks.map((outcome) => outcome.kind)).toEqual(Array(20).fill('ok'));
      expect(new Set(receiver.requests.map((arrival) => arrival.deliveryId)).size).toBe(20);
      expect(receiver.requests.every((arrival) => arrival.authorization === `Bearer ${TOKEN}`)).toBe(true);
      // Per record, revisions arrive in order.
      for (let n = 0; n < 4; n += 1) {
        const revisions = receiver.requests.filter((arrival) => arrival.recordId === `rec-${n}`).map((arrival) => arrival.revision);
        expect(revisions).toEqual([1, 2, 3, 4, 5]);
      }
    } finally {
      await provisioner.close({ timeoutMs: 2_000 });
      await receiver.close();
    }
  }, 20_000);

  it.skipIf(skip)('keeps failed deliveries as dead letters and replays them with the same delivery ids', async () => {
    let failing = true;
    const receiver = await startReceiver({ status: () => (failing ? 422 : 200) });
    const { store } = await make(`${name}-dead`);
    const provisioner = createProvisioner({ events: configFor(receiver.url()), store });
    const outcomes: DeliveryOutcome[] = [];
    provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    try {
      const hooks = provisioner.hooks('rdm_record');
      for (let n = 0; n < 3; n += 1) hooks.publish({ identity: { id: 1 }, record: record(`dead-${n}`) });
      await provisioner.drain();
      expect(outcomes.map((outcome) => outcome.kind === 'failed' && outcome.reason)).toEqual(['http-status', 'http-status', 'http-status']);
      const letters = await provisioner.deadLetters({ reason: 'http-status' });
      expect(letters).toHaveLength(3);
      expect(letters.every((letter) => letter.response?.status === 422)).toBe(true);
      const firstIds = receiver.requests.map((arrival) => arrival.deliveryId);

      failing = false;
      const replayed = await provisioner.replay({ recordId: 'dead-1' });
      expect(replayed).toEqual([letters.find((letter) => letter.event.recordId === 'dead-1')?.deliveryId]);
      await provisioner.drain();
      expect(outcomes.at(-1)).toMatchObject({ kind: 'delivered', attempts: 1 });
      expect(receiver.requests.at(-1)?.deliveryId).toBe(replayed[0]);
      expect(firstIds).toContain(replayed[0]);
      expect(receiver.requests.at(-1)?.authorization).toBe(`Bearer ${TOKEN}`);
      expect((await provisioner.deadLetters()).map((letter) => letter.event.recordId).sort()).toEqual(['dead-0', 'dead-2']);
    } finally {
      await provisioner.close({ timeoutMs: 2_000 });
      await receiver.close();
    }
  }, 20_000);

  it.skipIf(skip)('backfills records with bounded concurrency and reports progress until all are settled', async () => {
    const receiver = await startReceiver({ delayMs: 5, status: (arrival) => (arrival.recordId === 'bf-7' ? 400 : 200) });
    const { store } = await make(`${name}-backfill`);
    const provisioner = createProvisioner({ events: configFor(receiver.url()), store });
    let read = 0;
    let maxAhead = 0;
    async function* records(): AsyncGenerator<AppRecord> {
      for (let n = 0; n < 30; n += 1) {
        read += 1;
        maxAhead = Math.max(maxAhead, read - receiver.requests.length);
        yield record(`bf-${n}`);
      }
    }
    try {
      const progress = await lastValueFrom(provisioner.backfill(records(), { service: 'rdm_record', method: 'publish', concurrency: 4 }).pipe(toArray()));
      expect(progress.at(-1)).toEqual({ done: 30, delivered: 29, failed: 1, skipped: 0, inFlight: 0, total: 30 });
      // One step per settled record (and one when the source ends and the total is known).
      expect([...new Set(progress.map((step) => step.done))]).toEqual([...Array(30).keys()].map((n) => n + 1));
      expect(progress.every((step) => step.inFlight <= 4)).toBe(true);
      expect(maxAhead).toBeLessThanOrEqual(5);
      expect(new Set(receiver.requests.map((arrival) => arrival.recordId)).size).toBe(30);
    } finally {
      await provisioner.close({ timeoutMs: 2_000 });
      await receiver.close();
    }
  }, 20_000);
});

describe.skipIf(!sqlite.available)('createProvisioner with the sqlite store, across processes of the app', () => {
  it('resumes unsettled work in a new provisioner with the same delivery ids, and skips endpoints no longer configured', async () => {
    const slow = await startReceiver({ delayMs: 200 });
    const other = await startReceiver();
    const file = path.join(dir, 'resume.db');
    const both = { rdm_record: { ...configFor(slow.url()).rdm_record, ...configFor(other.url()).rdm_record } } as ProvisionerConfig;
    const first = createProvisioner({ events: both, store: createSqliteStore({ path: file }), http: { concurrency: 1 } });
    const hooks = first.hooks('rdm_record');
    for (let n = 0; n < 6; n += 1) hooks.publish({ identity: { id: 1 }, record: record(`res-${n}`) });
    // Closed long before the slow receiver has answered everything: the rest stays in the file.
    await first.close({ timeoutMs: 50 });
    const sentBefore = slow.requests.length + other.requests.length;
    expect(sentBefore).toBeLessThan(12);
    // Lanes of each endpoint run side by side: a delivery to the fast endpoint may have been in
    // flight at close, its request already stored; the new process sends it again (at least once).
    const inFlightToOther = new Set(other.requests.map((arrival) => arrival.recordId));

    const second = createProvisioner({ events: configFor(slow.url()), store: createSqliteStore({ path: file }) });
    const outcomes: DeliveryOutcome[] = [];
    second.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    try {
      await second.drain();
      const unconfigured = outcomes.filter((outcome) => outcome.kind === 'skipped' && outcome.reason === 'unconfigured');
      expect(unconfigured.every((outcome) => outcome.endpoint === other.url())).toBe(true);
      expect(
        outcomes.filter((outcome) => outcome.kind === 'delivered').every((outcome) => outcome.endpoint === slow.url() || inFlightToOther.has(outcome.event.recordId ?? '')),
      ).toBe(true);
      expect(new Set(slow.requests.map((arrival) => arrival.recordId))).toEqual(new Set([0, 1, 2, 3, 4, 5].map((n) => `res-${n}`)));
      expect(outcomes.length + sentBefore).toBeGreaterThanOrEqual(12);
    } finally {
      await second.close({ timeoutMs: 2_000 });
      await slow.close();
      await other.close();
    }
  }, 20_000);

  it('fails hook events with reason overflow when the store is full', async () => {
    const receiver = await startReceiver({ delayMs: 100 });
    const provisioner = createProvisioner({ events: configFor(receiver.url()), store: createSqliteStore({ path: path.join(dir, 'full.db'), maxQueue: 2 }) });
    const outcomes: DeliveryOutcome[] = [];
    provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    try {
      const hooks = provisioner.hooks('rdm_record');
      for (let n = 0; n < 4; n += 1) hooks.publish({ identity: { id: 1 }, record: record(`full-${n}`) });
      // The refused ones fail before the hook returns.
      expect(outcomes.map((outcome) => outcome.kind === 'failed' && outcome.reason)).toEqual(['overflow', 'overflow']);
      await provisioner.drain();
      expect(outcomes.filter((outcome) => outcome.kind === 'delivered')).toHaveLength(2);
    } finally {
      await provisioner.close({ timeoutMs: 2_000 });
      await receiver.close();
    }
  });
});

describe('createProvisioner without a store', () => {
  it('keeps dead letters in the default memory store, and replays them with the same delivery ids', async () => {
    let status = 422;
    const receiver = await startReceiver({ status: () => status });
    const provisioner = createProvisioner({ events: configFor(receiver.url()) });
    try {
      provisioner.hooks('rdm_record').publish({ identity: { id: 1 }, record: record('none') });
      await provisioner.drain();
      const letters = await provisioner.deadLetters();
      expect(letters.map((letter) => [letter.reason, letter.response?.status])).toEqual([['http-status', 422]]);
      status = 200;
      expect(await provisioner.replay({})).toEqual(letters.map((letter) => letter.deliveryId));
      await provisioner.drain();
      expect(await provisioner.deadLetters()).toEqual([]);
      expect(receiver.requests).toHaveLength(2);
    } finally {
      await provisioner.close();
      await receiver.close();
    }
  });

  it('answers deadLetters(), replay() and stats() of a closed SQLite store with a ClosedError, not the driver\'s error', async () => {
    const provisioner = createProvisioner({ events: configFor('https://search.example.org/api/v1/documents'), store: createSqliteStore({ path: path.join(dir, 'closed.db') }) });
    await provisioner.close();
    await expect(provisioner.deadLetters()).rejects.toThrow(/^Expected an open provisioner to list dead letters, got a closed one/);
    await expect(provisioner.replay({})).rejects.toBeInstanceOf(ClosedError);
    await expect(provisioner.stats()).rejects.toThrow(/^Expected an open provisioner to read the stats, got a closed one/);
  });

  it('warns, instead of ending the app with an uncaught exception, when the store it was given cannot start', async () => {
    const store = createMemoryStore();
    const first = createProvisioner({ events: configFor('https://search.example.org/api/v1/documents'), store });
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      await new Promise((resolve) => setTimeout(resolve, 10));
      // The same store again: it is started already.
      const second = createProvisioner({ events: configFor('https://search.example.org/api/v1/documents'), store });
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(warnings.map((warning) => (warning as Error & { code?: string }).code)).toEqual(['RAP_STORE_START']);
      expect(warnings[0]?.message).toContain('Expected the memory store to be started once, it was started already');
      await second.close();
    } finally {
      process.off('warning', onWarning);
      await first.close();
    }
  });

  it('backfills through the default memory store, and refuses a method without endpoints', async () => {
    const receiver = await startReceiver();
    const provisioner = createProvisioner({ events: configFor(receiver.url()) });
    try {
      const last = await lastValueFrom(provisioner.backfill([record('a'), record('b'), record('c')], { service: 'rdm_record', method: 'publish' }));
      expect(last).toEqual({ done: 3, delivered: 3, failed: 0, skipped: 0, inFlight: 0, total: 3 });
      await expect(lastValueFrom(provisioner.backfill([record('a')], { service: 'rdm_record', method: 'delete_record' }))).rejects.toThrow(
        'expected rdm_record.delete_record to have at least one endpoint in the config, found none',
      );
      // Made before close(), subscribed after it: refused, not left waiting for outcomes that never come.
      const late = provisioner.backfill([record('d')], { service: 'rdm_record', method: 'publish' });
      await provisioner.close();
      await expect(lastValueFrom(late)).rejects.toThrow('Expected an open provisioner to backfill rdm_record.publish, got a closed one');
      await expect(lastValueFrom(provisioner.backfill([record('e')], { service: 'rdm_record', method: 'publish' }))).rejects.toBeInstanceOf(ClosedError);
    } finally {
      await provisioner.close();
      await receiver.close();
    }
  });
});
