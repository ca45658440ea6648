// What a store that instances share (Redis, PostgreSQL) owes on top of the delivery store
// contract, run against each: the work is shared between instances with order per record
// kept and every outcome seen by every instance, and secret headers never reach the shared
// state although the attempts get them back.
import { afterEach, describe, expect, it } from 'vitest';
import { deliveryIdOf } from '../../../src/events/deliveryId.js';
import type { DeliveryStore } from '../../../src/store/deliveryStore.js';
import { publishEvent } from '../../helpers/factories.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { collect } from './contract.js';
import { TEST_TOKEN, testHandlers } from './handlers.js';

/** How the suite reaches one kind of shared store. */
export type SharedStoreKind<O> = {
  /** Options of a new store name: every instance opened with them shares its work. */
  readonly options: () => O;
  readonly open: (options: O) => Promise<DeliveryStore>;
  /** Everything the store keeps for `options` (rows, hashes), as text. */
  readonly storedText: (options: O) => Promise<string>;
  /** Where the store keeps its state, for test names: 'Redis', 'the database'. */
  readonly where: string;
  /** How many outcomes the store has written for the other instances of `options` (stream entries, rows). */
  readonly outcomesWritten: (options: O) => Promise<number>;
  /** Forgets which instances of `options` are alive, as if none had been seen lately. */
  readonly forgetInstances: (options: O) => Promise<void>;
};

/** Waits until `condition` holds, checking every 10 ms. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`Expected ${what} within ${timeoutMs} ms, it did not happen`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function describeSharedStoreContract<O>(name: string, kind: SharedStoreKind<O>): void {
  describe(`${name} store: instances that share it`, () => {
    let receiver: Receiver | undefined;
    const open: DeliveryStore[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((store) => store.close()));
      await receiver?.close();
      receiver = undefined;
    });

    it('shares the work between instances: order per record holds, every instance sees every outcome', async () => {
      const at = await startReceiver({ delayMs: 3 });
      receiver = at;
      const shared = kind.options();
      // `app` only journals (no workers); `one` and `two` deliver.
      const [app, one, two] = await Promise.all([kind.open(shared), kind.open(shared), kind.open(shared)]);
      open.push(app, one, two);
      const seen = [app, one, two].map((store) => collect(store));
      one.start(testHandlers());
      two.start(testHandlers());
      const entries = [];
      for (let revision = 1; revision <= 10; revision += 1) {
        for (let record = 0; record < 8; record += 1) entries.push({ event: publishEvent(`rec-${record}`, revision), endpoints: [at.url()] });
      }
      app.journal(entries);
      await app.drain();
      await Promise.all([one.drain(), two.drain()]);
      await until(() => seen.every((outcomes) => outcomes.length >= 80), 'every instance to see 80 outcomes');

      for (let record = 0; record < 8; record += 1) {
        expect(at.requests.filter((x) => x.recordId === `rec-${record}`).map((x) => x.revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      }
      const ids = entries.map(({ event }) => deliveryIdOf(event.eventId, at.url())).sort();
      for (const outcomes of seen) expect(outcomes.map((o) => o.deliveryId).sort()).toEqual(ids);
      const [atApp = [], atOne = [], atTwo = []] = seen;
      expect(atApp.filter((o) => o.local)).toEqual([]);
      const localOne = new Set(atOne.filter((o) => o.local).map((o) => o.deliveryId));
      const localTwo = new Set(atTwo.filter((o) => o.local).map((o) => o.deliveryId));
      expect(localOne.size + localTwo.size).toBe(80);
      expect([...localOne].filter((id) => localTwo.has(id))).toEqual([]);
      // Outcomes from another instance come back whole: event, request (without secrets) and response.
      const remote = atApp[0];
      expect(remote?.outcome.kind === 'delivered' && remote.outcome.response.status).toBe(200);
      expect(remote?.outcome.kind === 'delivered' && remote.outcome.request.deliveryId).toBe(remote?.deliveryId);
      expect(remote?.outcome.kind === 'delivered' && remote.outcome.request.headers).not.toHaveProperty('Authorization');
      expect(remote?.outcome.event.serviceType).toBe('rdm_record');
      expect(remote?.outcome.event).toEqual(entries.find(({ event }) => deliveryIdOf(event.eventId, at.url()) === remote?.deliveryId)?.event);
    });

    it("runs the event journaled in this instance as the hook gave it (no decoded copy), and another instance's from its job", async () => {
      const at = await startReceiver();
      receiver = at;
      const shared = kind.options();
      const [app, worker] = await Promise.all([kind.open(shared), kind.open(shared)]);
      open.push(app, worker);
      const planned = new Map<string, unknown>();
      const handlers = testHandlers();
      worker.start({
        ...handlers,
        plan: (delivery) => {
          planned.set(delivery.event.recordId ?? '', delivery.event);
          return handlers.plan(delivery);
        },
      });
      const here = publishEvent('rec-here', 1);
      const elsewhere = publishEvent('rec-elsewhere', 1);
      worker.journal([{ event: here, endpoints: [at.url()] }]);
      app.journal([{ event: elsewhere, endpoints: [at.url()] }]);
      await Promise.all([worker.drain(), app.drain()]);
      await at.waitFor(2, 10_000);
      expect(planned.get('rec-here')).toBe(here);
      expect(planned.get('rec-elsewhere')).not.toBe(elsewhere);
      expect(planned.get('rec-elsewhere')).toEqual(elsewhere);
      // Settled: the event is let go (a requeue, a takeover reads the job).
      expect(worker.pending()).toBe(0);
    });

    it('writes outcomes only for other instances: none alone, every one while another is alive, and always for a delivery journaled elsewhere', async () => {
      const at = await startReceiver();
      receiver = at;
      const shared = kind.options();
      const publish = (store: DeliveryStore, revision: number): void => {
        store.journal([{ event: publishEvent('rec-others', revision), endpoints: [at.url()] }]);
      };
      const worker = await kind.open(shared);
      open.push(worker);
      worker.start(testHandlers());
      publish(worker, 1);
      await worker.drain();
      expect(await kind.outcomesWritten(shared)).toBe(0);

      // Another instance alive: it sees the outcome.
      const other = await kind.open(shared);
      const seen = collect(other);
      publish(worker, 2);
      await worker.drain();
      await until(() => seen.length === 1, 'the other instance to see the outcome');
      expect(seen.map((outcome) => outcome.local)).toEqual([false]);
      expect(await kind.outcomesWritten(shared)).toBe(1);

      // Journaled by the other instance, not seen alive lately (a long pause): written all the same, and counted settled there.
      await kind.forgetInstances(shared);
      publish(other, 3);
      await other.flush();
      await until(() => other.pending() === 0, 'the other instance to count its delivery settled');
      expect(await kind.outcomesWritten(shared)).toBe(2);
      await other.close();

      // Alone again: nothing written.
      publish(worker, 4);
      await worker.drain();
      expect(await kind.outcomesWritten(shared)).toBe(2);
      expect(at.requests.map((arrival) => arrival.revision)).toEqual([1, 2, 3, 4]);
    });

    it(`never writes secret headers to ${kind.where}, and restores them for the attempt`, async () => {
      const at = await startReceiver({ status: () => 422 });
      receiver = at;
      const shared = kind.options();
      const store = await kind.open(shared);
      open.push(store);
      store.journal([{ event: publishEvent('rec-a', 1), endpoints: [at.url()] }]);
      store.start(testHandlers());
      await store.drain();
      expect(at.requests.map((request) => request.authorization)).toEqual([TEST_TOKEN]);
      const text = await kind.storedText(shared);
      expect(text).toContain('Idempotency-Key');
      expect(text).not.toContain(TEST_TOKEN.slice('Bearer '.length));
      // The receiver's session cookie either.
      expect(text).not.toContain('session=abc');
    });
  });
}
