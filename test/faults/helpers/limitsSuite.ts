/**
 * The bounds under pressure: past the queue bound new work fails with reason `overflow`
 * (never an unbounded buffer), and `close()` with a deadline ends what is still pending.
 * Either way every (event, endpoint) is accounted for.
 *
 * Run with each store (limits.memory, limits.sqlite, limits.redis), each checked against what
 * it documents (docs/durability.md):
 * - the bound is `http.maxQueue` deliveries pending in the default memory store; the SQLite
 *   store's `maxQueue` unsettled deliveries in the file; the Redis store's `maxQueue`
 *   deliveries this instance journaled and has not seen settled (acknowledged or not);
 * - `close({ timeoutMs })` fails what is pending with reason `closed` in memory; a durable
 *   store keeps it, and the next provisioner on the same store delivers it with the same
 *   delivery ids, the interrupted attempt counted.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createProvisioner, defineConfig, type DeliveryOutcome } from 'remote-api-provisioner';
import type { FaultReceiver } from './faultReceiver.js';
import { endSuite, startSuite, type FaultStore } from './stores.js';
import { printFigures, tallyOutcomes, withDeadline } from './suite.js';
import { recordAt, type TestRecord } from '../../helpers/factories.js';
import { collectAppRecords } from '../../helpers/outcomes.js';

type Args = { readonly record?: TestRecord | null };
type PublishHooks = { readonly publish: (args: unknown) => void };
const identity = { id: 7 };
const BOUND_IN_MESSAGE: Readonly<Record<FaultStore['name'], string>> = {
  memory: 'deliveries pending in the memory store (maxQueue)',
  sqlite: 'deliveries pending in the sqlite store (maxQueue)',
  redis: 'deliveries pending in the redis store (maxQueue)',
  postgres: 'deliveries pending in the postgres store (maxQueue)',
};

/** The limits with `store` (limits.<store>.test.ts). */
export function limitsSuite(store: FaultStore): void {
  describe.skipIf(store.unavailable !== null)(`limits: queue bound and close deadline (${store.name} store)`, () => {
    let receiver: FaultReceiver;

    beforeAll(async () => {
      receiver = await startSuite(store);
    });
    afterAll(() => endSuite(store, receiver));
    beforeEach(async () => {
      await receiver.reset();
    });

    function configFor(endpoint: string) {
      return defineConfig({
        rdm_record: {
          [endpoint]: {
            publish: {
              http_method: 'PUT',
              payload: ({ record }: Args) => ({ id: record?.id ?? null, rev: record?.revision_id ?? null }),
              url_factory: (record: TestRecord | null | undefined) => `${endpoint}/${String(record?.id)}?rev=${String(record?.revision_id)}`,
            },
          },
        },
      } as never);
    }

    const revisionOf = (outcome: DeliveryOutcome): number => (outcome.event.args as Args).record?.revision_id ?? 0;
    const recordOf = (outcome: DeliveryOutcome): string => String((outcome.event.args as Args).record?.id);

    it('past the queue bound, new work fails with reason overflow; nothing is lost and what is sent keeps its order', async () => {
      await receiver.setPlan({ default: { kind: 'slow', byteDelayMs: 2, bytes: 20 } });
      const endpoint = `${receiver.url}/docs`;
      const opened = await store.open('overflow', { maxQueue: 10, partitions: 2 });
      const provisioner = createProvisioner({ events: configFor(endpoint), ...opened, http: { ...opened.http, concurrency: 2, timeoutMs: 5_000 } });
      const collected = collectAppRecords(provisioner);
      const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
      const EVENTS = 60;
      // All in one tick: no delivery settles and no journal reaches Redis in between.
      for (let i = 0; i < EVENTS; i++) hooks.publish({ identity, record: recordAt(`rec-${i % 5}`, Math.floor(i / 5) + 1) });
      await withDeadline(provisioner.drain(), 20_000, 'drain() to resolve');
      await provisioner.close();
      collected.stop();

      const tally = tallyOutcomes(collected.outcomes);
      const overflowed = collected.outcomes.filter((o) => o.kind === 'failed' && o.reason === 'overflow');
      const delivered = collected.outcomes.filter((o) => o.kind === 'delivered');
      const requests = await receiver.requests();
      let orderViolations = 0;
      const last = new Map<string, number>();
      for (const outcome of delivered) {
        if (revisionOf(outcome) <= (last.get(recordOf(outcome)) ?? 0)) orderViolations += 1;
        last.set(recordOf(outcome), revisionOf(outcome));
      }
      printFigures(`queue bound, ${store.name} store (maxQueue 10, concurrency 2, 60 events at once, slow receiver)`, {
        outcomes: collected.outcomes.length,
        'outcomes by kind:reason': tally,
        'requests at the receiver': requests.length,
        'order violations': orderViolations,
        'overflow message': overflowed[0]?.kind === 'failed' ? overflowed[0].error.message : 'none',
      });

      expect(collected.outcomes).toHaveLength(EVENTS);
      expect(overflowed.length).toBeGreaterThan(0);
      expect(delivered.length + overflowed.length).toBe(EVENTS);
      // A store takes exactly its bound when everything comes at once.
      if (store.durable) expect(delivered).toHaveLength(10);
      expect(requests).toHaveLength(delivered.length);
      expect(orderViolations).toBe(0);
      for (const outcome of overflowed) {
        if (outcome.kind !== 'failed') continue;
        expect(outcome.error.name).toBe('OverflowError');
        expect(outcome.attempts).toBe(0);
        // The message names the bound the store has.
        expect(outcome.error.message).toContain(BOUND_IN_MESSAGE[store.name]);
      }
    });

    it('http.maxQueue bounds the pending work with this store too: past it, new work fails with reason overflow', async () => {
      await receiver.setPlan({ default: { kind: 'slow', byteDelayMs: 2, bytes: 20 } });
      const endpoint = `${receiver.url}/docs`;
      // The store's own bound (if any) left at its default: http.maxQueue is the one reached.
      const opened = await store.open('http-bound', { partitions: 2 });
      const provisioner = createProvisioner({ events: configFor(endpoint), ...opened, http: { concurrency: 2, timeoutMs: 5_000, maxQueue: 10 } });
      const collected = collectAppRecords(provisioner);
      const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
      for (let i = 0; i < 40; i++) hooks.publish({ identity, record: recordAt(`rec-${i % 4}`, Math.floor(i / 4) + 1) });
      await withDeadline(provisioner.drain(), 20_000, 'drain() to resolve');
      await provisioner.close();
      collected.stop();
      const tally = tallyOutcomes(collected.outcomes);
      printFigures(`http.maxQueue 10, ${store.name} store (40 events at once, slow receiver)`, { 'outcomes by kind:reason': tally });

      expect(collected.outcomes).toHaveLength(40);
      expect(tally).toEqual({ delivered: 10, 'failed:overflow': 30 });
      const overflowed = collected.outcomes.find((o) => o.kind === 'failed');
      expect(overflowed?.kind === 'failed' && overflowed.error.name).toBe('OverflowError');
      expect(overflowed?.kind === 'failed' && overflowed.error.message).toContain(`Expected fewer than 10 deliveries pending in the ${store.name} store`);
    });

    it(
      'the bound counts deliveries not yet settled: work still unsettled holds its place',
      async () => {
        await receiver.setPlan({ default: { kind: 'slow', byteDelayMs: 5, bytes: 20 } });
        const endpoint = `${receiver.url}/docs`;
        const opened = await store.open('bound', { maxQueue: 10, partitions: 1 });
        const provisioner = createProvisioner({ events: configFor(endpoint), ...opened, http: { ...opened.http, concurrency: 1, timeoutMs: 5_000 } });
        const collected = collectAppRecords(provisioner);
        const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
        for (let revision = 1; revision <= 10; revision++) hooks.publish({ identity, record: recordAt('rec-bound', revision) });
        // Redis acknowledges the first ten: acknowledged, they still count until they settle.
        await opened.store?.flush();
        const settledBefore = collected.outcomes.length;
        for (let revision = 11; revision <= 20; revision++) hooks.publish({ identity, record: recordAt('rec-bound', revision) });
        const overflowedAtOnce = collected.outcomes.filter((o) => o.kind === 'failed' && o.reason === 'overflow').length;
        await withDeadline(provisioner.drain(), 20_000, 'drain() to resolve');
        await provisioner.close();
        collected.stop();
        const tally = tallyOutcomes(collected.outcomes);
        printFigures(`queue bound over time, ${store.name} store (maxQueue 10, one record, 10 events, then 10 more while the first are unsettled)`, {
          'settled before the second ten': settledBefore,
          'outcomes by kind:reason': tally,
        });

        expect(collected.outcomes).toHaveLength(20);
        // A 20-byte answer at 5 ms a byte: the first ten cannot have settled (one lane, one at a time).
        expect(settledBefore).toBeLessThan(10);
        // Refused before the hook returned, as many as the unsettled ones left no room for.
        expect(overflowedAtOnce).toBeGreaterThan(0);
        expect(tally['failed:overflow']).toBe(overflowedAtOnce);
        expect(tally['delivered']).toBe(20 - overflowedAtOnce);
      },
    );

    it('odd 2xx answers are delivered: non-JSON as text, empty and 204 as null, wrong content type as text, oversize cut at maxResponseBytes', async () => {
      await receiver.setPlan({
        script: [{ kind: 'non-json' }, { kind: 'empty' }, { kind: 'no-content' }, { kind: 'wrong-type' }, { kind: 'oversize', bytes: 50_000 }, { kind: 'slow', byteDelayMs: 1, bytes: 24 }],
      });
      const endpoint = `${receiver.url}/docs`;
      const provisioner = createProvisioner({ events: configFor(endpoint), ...(await store.open('odd-answers', { partitions: 1 })), http: { maxResponseBytes: 1_024, concurrency: 1 } });
      const collected = collectAppRecords(provisioner);
      const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
      for (let revision = 1; revision <= 6; revision++) hooks.publish({ identity, record: recordAt('rec-odd', revision) });
      await withDeadline(provisioner.drain(), 10_000, 'drain() to resolve');
      await provisioner.close();
      collected.stop();
      const responses = collected.outcomes.map((o) => (o.kind === 'delivered' ? o.response : o.kind));
      expect(responses).toHaveLength(6);
      const [nonJson, empty, noContent, wrongType, oversize, slow] = responses as { status: number; body: unknown; bodyTruncated?: boolean }[];
      expect(nonJson).toMatchObject({ status: 200, body: '<<this is not json>>' });
      expect(empty).toMatchObject({ status: 200, body: null });
      expect(noContent).toMatchObject({ status: 204, body: null });
      expect(wrongType).toMatchObject({ status: 200, body: expect.stringContaining('<!doctype html>') });
      expect(oversize).toMatchObject({ status: 200, bodyTruncated: true });
      expect(String(oversize?.body).length).toBeLessThanOrEqual(1_024);
      expect(slow).toMatchObject({ status: 200, body: { ok: true } });
      expect(collected.outcomes.every((o) => o.kind === 'delivered' && o.attempts === 1)).toBe(true);
    });

    it(
      store.durable
        ? 'close() with a deadline keeps what is still pending in the store, and the next provisioner delivers it with the same delivery ids'
        : 'close() with a deadline fails what is still pending with reason closed, and resolves',
      async () => {
        await receiver.setPlan({ default: { kind: 'hang' } });
        const endpoint = `${receiver.url}/docs`;
        // Redis runs one delivery at a time per partition: with one partition, one is in flight.
        const inFlight = store.name === 'redis' ? 1 : 4;
        const provisioner = createProvisioner({ events: configFor(endpoint), ...(await store.open('close', { partitions: 1 })), http: { concurrency: 4, timeoutMs: 10_000 } });
        const collected = collectAppRecords(provisioner);
        const accepted: string[] = [];
        provisioner.events$.subscribe((event) => accepted.push(event.eventId));
        const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
        const EVENTS = 20;
        for (let i = 0; i < EVENTS; i++) hooks.publish({ identity, record: recordAt(`rec-${i % 10}`, Math.floor(i / 10) + 1) });
        await expect.poll(async () => (await receiver.stats()).requests).toBe(inFlight);
        const started = performance.now();
        await withDeadline(provisioner.close({ timeoutMs: 200 }), 5_000, 'close({ timeoutMs: 200 }) to resolve');
        const closeMs = Math.round(performance.now() - started);
        collected.stop();
        await expect.poll(async () => (await receiver.stats()).open).toBe(0);
        const interrupted = new Set((await receiver.requests()).map((r) => r.webhookId ?? r.idempotencyKey));

        const tally = tallyOutcomes(collected.outcomes);
        const figures: Record<string, unknown> = {
          outcomes: collected.outcomes.length,
          'outcomes by kind:reason': tally,
          'requests at the receiver (all aborted)': (await receiver.stats()).requests,
          'close() took (ms)': closeMs,
        };
        expect(new Set(accepted).size).toBe(EVENTS);
        if (!store.durable) {
          printFigures(`close deadline, ${store.name} store (receiver never answers, close({ timeoutMs: 200 }))`, figures);
          expect(tally).toEqual({ 'failed:closed': EVENTS });
          expect(new Set(collected.outcomes.map((o) => o.event.eventId))).toEqual(new Set(accepted));
          return;
        }

        // Kept for the next start: no outcome now, every delivery after the restart.
        expect(collected.outcomes).toEqual([]);
        await receiver.setPlan({});
        const restarted = createProvisioner({ events: configFor(endpoint), ...(await store.reopen('close', { partitions: 1 })), http: { concurrency: 4 } });
        const resumed = collectAppRecords(restarted);
        const resumeStarted = performance.now();
        await withDeadline(restarted.drain(), 20_000, 'drain() of the restarted provisioner to resolve');
        const resumeMs = Math.round(performance.now() - resumeStarted);
        await restarted.close();
        resumed.stop();
        const delivered = resumed.outcomes.filter((o) => o.kind === 'delivered');
        printFigures(`close deadline, ${store.name} store (receiver never answers, close({ timeoutMs: 200 }), then a new provisioner on the store)`, {
          ...figures,
          'outcomes after the restart': tallyOutcomes(resumed.outcomes),
          'attempts of the interrupted deliveries': delivered.filter((o) => interrupted.has(o.request.deliveryId)).map((o) => o.attempts),
          'drain after the restart (ms)': resumeMs,
        });
        expect(tallyOutcomes(resumed.outcomes)).toEqual({ delivered: EVENTS });
        expect(new Set(resumed.outcomes.map((o) => o.event.eventId))).toEqual(new Set(accepted));
        expect(interrupted.size).toBe(inFlight);
        for (const outcome of delivered) {
          // The same delivery id as before the restart; the interrupted attempt counts.
          const wasInFlight = interrupted.has(outcome.request.deliveryId);
          expect(outcome.attempts, `attempts of ${outcome.request.deliveryId}`).toBe(wasInFlight ? 2 : 1);
        }
        const ids = (await receiver.requests()).map((r) => r.idempotencyKey);
        for (const id of interrupted) expect(ids.filter((seen) => seen === id)).toHaveLength(2);
        expect(new Set(ids).size).toBe(EVENTS);
      },
    );
  });
}
