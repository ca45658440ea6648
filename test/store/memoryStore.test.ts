import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/store/memoryStore.js';
import { deliveryIdOf } from '../../src/events/deliveryId.js';
import { collect, describeStoreContract } from './helpers/contract.js';
import { publishEvent } from '../helpers/factories.js';
import { testHandlers } from './helpers/handlers.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

describeStoreContract('memory', (options) => createMemoryStore(options));

describe('memory store', () => {
  let receiver: Receiver | undefined;
  afterEach(async () => {
    await receiver?.close();
  });

  it('ends what is unsettled as failed with reason `closed` when it closes, in flight or waiting', async () => {
    receiver = await startReceiver({ delayMs: 5_000 });
    const store = createMemoryStore();
    const outcomes = collect(store);
    const events = [publishEvent('rec-a', 1), publishEvent('rec-a', 2)];
    store.journal(events.map((event) => ({ event, endpoints: [receiver!.url()] })));
    store.start(testHandlers());
    await receiver.waitFor(1);
    await store.close();

    expect(outcomes.map((o) => [o.deliveryId, o.outcome.kind, o.outcome.kind === 'failed' ? o.outcome.reason : null])).toEqual(
      events.map((event) => [deliveryIdOf(event.eventId, receiver!.url()), 'failed', 'closed']),
    );
    expect(outcomes[0]?.outcome.kind === 'failed' && outcomes[0].outcome.attempts).toBe(1);
    expect(store.pending()).toBe(0);
  });

  it('keeps at most maxDeadLetters, forgetting the oldest', async () => {
    receiver = await startReceiver({ status: () => 400 });
    const store = createMemoryStore({ maxDeadLetters: 2 });
    const events = [1, 2, 3].map((revision) => publishEvent(`rec-${revision}`, revision));
    store.journal(events.map((event) => ({ event, endpoints: [receiver!.url()] })));
    store.start(testHandlers({ concurrency: 1 }));
    await store.drain();
    expect((await store.deadLetters()).map((letter) => letter.event.eventId)).toEqual([events[1]?.eventId, events[2]?.eventId]);
    await store.close();
  });

  it('rejects options out of range', () => {
    expect(() => createMemoryStore({ maxQueue: 0 })).toThrow('maxQueue: expected an integer >= 1, got 0');
    expect(() => createMemoryStore({ maxDeadLetters: 1.5 })).toThrow('maxDeadLetters: expected an integer >= 1, got 1.5');
  });
});
