// The behaviour every store owes the pipeline, run against each store (memory, SQLite,
// Redis): one outcome per (event, endpoint) with the pipeline's delivery ids, order per
// (endpoint, record), retries that keep their lane, planning once, dead letters and replay,
// the maxQueue bound.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHttpStatusError, isPayloadError, PayloadError, type RequestPlan } from '../../../src/index.js';
import { deliveryIdOf } from '../../../src/events/deliveryId.js';
import type { DeliveryStore, StoreOutcome } from '../../../src/store/deliveryStore.js';
import { publishEvent } from '../../helpers/factories.js';
import { testHandlers } from './handlers.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';

export type OpenStore = (options?: { readonly maxQueue?: number }) => DeliveryStore | Promise<DeliveryStore>;

/** Collects a store's outcomes. */
export function collect(store: DeliveryStore): StoreOutcome[] {
  const outcomes: StoreOutcome[] = [];
  store.outcomes$.subscribe((outcome) => outcomes.push(outcome));
  return outcomes;
}

const byId = <T extends { readonly deliveryId: string }>(items: readonly T[]): T[] => [...items].sort((a, b) => a.deliveryId.localeCompare(b.deliveryId));

export function describeStoreContract(name: string, open: OpenStore): void {
  describe(`${name} store: the delivery store contract`, () => {
    let receiver: Receiver;
    let store: DeliveryStore;
    let status: (revision: number, count: number) => number;

    beforeEach(async () => {
      status = () => 200;
      receiver = await startReceiver({ delayMs: 2, status: (arrival, count) => status(arrival.revision, count) });
    });
    afterEach(async () => {
      await store.close();
      await receiver.close();
    });

    it('delivers every (event, endpoint) pair once, with the delivery id the pipeline gives it', async () => {
      store = await open();
      const outcomes = collect(store);
      const other = `${receiver.url()}?copy=1`;
      const events = [publishEvent('rec-a', 1), publishEvent('rec-b', 1)];
      const result = store.journal(events.map((event) => ({ event, endpoints: [receiver.url(), other] })));
      expect(result).toEqual({
        kind: 'journaled',
        deliveryIds: events.flatMap((event) => [deliveryIdOf(event.eventId, receiver.url()), deliveryIdOf(event.eventId, other)]),
      });
      expect(store.pending()).toBe(4);
      store.start(testHandlers());
      await store.drain();

      expect(store.pending()).toBe(0);
      expect(outcomes.map((o) => o.outcome.kind)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
      expect(new Set(outcomes.map((o) => o.deliveryId))).toEqual(new Set(result.kind === 'journaled' ? result.deliveryIds : []));
      for (const { deliveryId, outcome, local } of outcomes) {
        expect(local).toBe(true);
        expect(outcome.kind === 'delivered' && outcome.request.deliveryId).toBe(deliveryId);
        expect(outcome.kind === 'delivered' && outcome.attempts).toBe(1);
      }
      expect(receiver.requests.map((a) => a.deliveryId).sort()).toEqual(outcomes.map((o) => o.deliveryId).sort());
      expect(receiver.requests.every((a) => a.authorization === 'Bearer store-test-token')).toBe(true);
    });

    it('sends one request at a time per (endpoint, record), in journal order, and records concurrently', async () => {
      store = await open();
      const outcomes = collect(store);
      const records = ['rec-a', 'rec-b', 'rec-c', 'rec-d', 'rec-e', 'rec-f', 'rec-g', 'rec-h'];
      const entries = [];
      for (let revision = 1; revision <= 5; revision += 1) {
        for (const recordId of records) entries.push({ event: publishEvent(recordId, revision), endpoints: [receiver.url()] });
      }
      store.journal(entries);
      store.start(testHandlers({ concurrency: 4 }));
      await store.drain();

      expect(outcomes).toHaveLength(40);
      for (const recordId of records) {
        expect(receiver.requests.filter((a) => a.recordId === recordId).map((a) => a.revision)).toEqual([1, 2, 3, 4, 5]);
      }
      expect(receiver.maxInFlight()).toBeGreaterThan(1);
    });

    it('retries a delivery at the head of its lane: the next one of the record waits, other records do not', async () => {
      store = await open();
      const outcomes = collect(store);
      status = (revision, count) => (revision === 1 && count <= 2 ? 503 : 200);
      store.journal([
        { event: publishEvent('rec-a', 1), endpoints: [receiver.url()] },
        { event: publishEvent('rec-a', 2), endpoints: [receiver.url()] },
      ]);
      const handlers = testHandlers({ retryDelayMs: 30 });
      store.start(handlers);
      await store.drain();

      expect(receiver.requests.map((a) => a.revision)).toEqual([1, 1, 1, 2]);
      const first = outcomes.find((o) => o.outcome.kind === 'delivered' && o.outcome.attempts === 3);
      expect(first).toBeDefined();
      expect([...handlers.attempts.values()]).toEqual([[1, 2, 3], [1]]);
      expect([...handlers.plans.values()]).toEqual([1, 1]);
    });

    it('keeps failures as dead letters with reason, attempts and last response, and requeues them with the same ids', async () => {
      store = await open();
      const outcomes = collect(store);
      status = (revision) => (revision === 404 ? 404 : revision === 503 ? 503 : 200);
      const gone = publishEvent('rec-a', 404);
      const down = publishEvent('rec-b', 503);
      const fine = publishEvent('rec-c', 1);
      store.journal([gone, down, fine].map((event) => ({ event, endpoints: [receiver.url()] })));
      store.start(testHandlers({ limit: 2, retryDelayMs: 5 }));
      await store.drain();

      const letters = await store.deadLetters();
      expect(letters.map((l) => [l.deliveryId, l.reason, l.attempts, l.response?.status])).toEqual([
        [deliveryIdOf(gone.eventId, receiver.url()), 'http-status', 1, 404],
        [deliveryIdOf(down.eventId, receiver.url()), 'http-status', 3, 503],
      ]);
      const [first] = letters;
      expect(isHttpStatusError(first?.error)).toBe(true);
      expect(first?.error.message).toContain('got 404');
      expect(first?.event.eventId).toBe(gone.eventId);
      expect(first?.request?.deliveryId).toBe(first?.deliveryId);
      expect(first?.settledAt).toBeGreaterThanOrEqual(first?.acceptedAt ?? Infinity);
      expect(await store.deadLetters({ deliveryIds: [deliveryIdOf(down.eventId, receiver.url())] })).toHaveLength(1);
      expect(await store.deadLetters({ endpoint: 'https://elsewhere.example.org/' })).toEqual([]);
      expect(await store.deadLetters({ reason: 'http-status', limit: 1 })).toHaveLength(1);
      expect(await store.deadLetters({ failedBefore: 0 })).toEqual([]);

      status = () => 200;
      const before = receiver.requests.length;
      const requeued = await store.requeue([...letters.map((l) => l.deliveryId), 'no-such-delivery']);
      expect(requeued).toEqual(letters.map((l) => l.deliveryId));
      await store.drain();

      const replayed = receiver.requests.slice(before);
      expect(replayed.map((a) => a.deliveryId).sort()).toEqual(letters.map((l) => l.deliveryId).sort());
      expect(byId(outcomes.slice(-2)).map((o) => [o.deliveryId, o.outcome.kind, o.outcome.kind === 'delivered' ? o.outcome.attempts : null])).toEqual(
        byId(letters).map((l) => [l.deliveryId, 'delivered', 1]),
      );
      expect(await store.deadLetters()).toEqual([]);
    });

    it('ends plans that fail as dead letters without a request, and replays them through the planner again', async () => {
      store = await open();
      const outcomes = collect(store);
      const skipped = publishEvent('rec-s', 1);
      const broken = publishEvent('rec-p', 1);
      let fixed = false;
      store.journal([skipped, broken].map((event) => ({ event, endpoints: [receiver.url()] })));
      const handlers = testHandlers({
        plan: async (delivery): Promise<RequestPlan> => {
          const base = { event: delivery.event, endpoint: delivery.endpoint, acceptedAt: delivery.acceptedAt, settledAt: Date.now() };
          if (delivery.event.eventId === skipped.eventId) return { kind: 'skipped', ...base, reason: 'restricted' };
          if (!fixed) throw new Error('payload function broke');
          const { plannedRequest } = await import('./handlers.js');
          return { kind: 'request', event: delivery.event, request: plannedRequest(delivery.event, delivery.endpoint), acceptedAt: delivery.acceptedAt };
        },
      });
      store.start(handlers);
      await store.drain();

      expect(
        outcomes.map((o) => [o.outcome.kind, o.outcome.kind === 'skipped' ? o.outcome.reason : o.outcome.kind === 'failed' ? o.outcome.reason : null]).sort(),
      ).toEqual([
        ['failed', 'payload'],
        ['skipped', 'restricted'],
      ]);
      const [letter] = await store.deadLetters();
      expect(letter?.request).toBeNull();
      expect(isPayloadError(letter?.error)).toBe(true);
      expect(letter?.error.message).toContain('payload function broke');
      expect(letter?.attempts).toBe(0);

      fixed = true;
      await store.requeue([letter?.deliveryId ?? '']);
      await store.drain();
      expect(outcomes.at(-1)?.outcome.kind).toBe('delivered');
      expect(receiver.requests.map((a) => a.deliveryId)).toEqual([deliveryIdOf(broken.eventId, receiver.url())]);
      expect(handlers.plans.get(letter?.deliveryId ?? '')).toBe(2);
    });

    it('fails a plan whose delivery id is not the journaled one', async () => {
      store = await open();
      const outcomes = collect(store);
      const event = publishEvent('rec-x', 1);
      store.journal([{ event, endpoints: [receiver.url()] }]);
      const { plannedRequest } = await import('./handlers.js');
      store.start(
        testHandlers({
          plan: async (delivery) => ({ kind: 'request', event: delivery.event, request: { ...plannedRequest(delivery.event, delivery.endpoint), deliveryId: 'other' }, acceptedAt: 0 }),
        }),
      );
      await store.drain();
      const [only] = outcomes;
      expect(only?.outcome.kind === 'failed' && only.outcome.error).toBeInstanceOf(PayloadError);
      expect(only?.outcome.kind === 'failed' && only.outcome.error.message).toBe(
        `Expected the planned request of ${receiver.url()} to have delivery id ${deliveryIdOf(event.eventId, receiver.url())}, got other`,
      );
    });

    // Every store bounds what it counts as pending: the local stores their unsettled
    // deliveries, the Redis store those this instance journaled and has not seen settled.
    it('refuses journals past maxQueue, all or none, and takes them again once there is room', async () => {
      store = await open({ maxQueue: 3 });
      const two = [publishEvent('rec-a', 1), publishEvent('rec-b', 1)].map((event) => ({ event, endpoints: [receiver.url()] }));
      expect(store.journal(two).kind).toBe('journaled');
      const result = store.journal([{ event: publishEvent('rec-c', 1), endpoints: [receiver.url(), `${receiver.url()}?2`] }]);
      expect(result.kind).toBe('overflow');
      expect(result.kind === 'overflow' && result.error.message).toBe(
        `Expected fewer than 3 deliveries pending in the ${store.kind} store (maxQueue), found 2; 2 deliveries of 1 event(s) were not accepted`,
      );
      expect(store.pending()).toBe(2);
      store.start(testHandlers());
      await store.drain();
      expect(store.journal([{ event: publishEvent('rec-c', 1), endpoints: [receiver.url(), `${receiver.url()}?2`] }]).kind).toBe('journaled');
      await store.drain();
      expect(receiver.requests).toHaveLength(4);
    });

    it('journals the same delivery once', async () => {
      store = await open();
      const event = publishEvent('rec-a', 1);
      store.journal([{ event, endpoints: [receiver.url()] }]);
      await store.flush();
      store.journal([{ event, endpoints: [receiver.url()] }]);
      store.start(testHandlers());
      await store.drain();
      expect(receiver.requests).toHaveLength(1);
    });

    it('discards dead letters', async () => {
      store = await open();
      status = () => 410;
      const event = publishEvent('rec-a', 1);
      store.journal([{ event, endpoints: [receiver.url()] }]);
      store.start(testHandlers());
      await store.drain();
      const id = deliveryIdOf(event.eventId, receiver.url());
      expect(await store.discard([id, 'unknown'])).toBe(1);
      expect(await store.deadLetters()).toEqual([]);
      expect(await store.requeue([id])).toEqual([]);
    });

    it('completes outcomes$ on close and refuses journals afterwards', async () => {
      store = await open();
      let completed = false;
      store.outcomes$.subscribe({ complete: () => (completed = true) });
      await store.close();
      expect(completed).toBe(true);
      const result = store.journal([{ event: publishEvent('rec-a', 1), endpoints: [receiver.url()] }]);
      expect(result.kind).toBe('error');
      expect(result.kind === 'error' && result.error.name).toBe('ClosedError');
      await expect(store.drain()).resolves.toBeUndefined();
    });
  });
}
