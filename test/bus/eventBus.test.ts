import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { createEventBus, createHooks } from '../../src/index.js';
import type { ServiceEvent } from '../../src/index.js';
import { community, identity, rdmRecord } from '../helpers/factories.js';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Real events, made by real hooks. */
function sampleEvents(): Record<'a' | 'b' | 'c', ServiceEvent> {
  const made: ServiceEvent[] = [];
  const rdm = createHooks('rdm_record', (event) => made.push(event));
  const communities = createHooks('community', (event) => made.push(event));
  rdm.publish({ identity, record: rdmRecord() });
  communities.rename({ identity, record: community(), old_slug: 'old', slug: 'new' });
  rdm.delete_record({ identity, record: rdmRecord() });
  const [a, b, c] = made;
  if (a === undefined || b === undefined || c === undefined) throw new Error('expected three sample events');
  return { a, b, c };
}

describe('createEventBus', () => {
  it('pushes every event emitted on the bus to events$, in order, and completes on complete()', () => {
    newScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const values = sampleEvents();
      const bus = createEventBus();
      const app = hot('-a-b--c-|', values);
      app.subscribe({ next: (event) => bus.emit(event), complete: () => bus.complete() });

      expectObservable(bus.events$).toBe('-a-b--c-|', values);
      expectSubscriptions(app.subscriptions).toBe('^-------!');
    });
  });

  it('does not replay events emitted before a subscriber came', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const values = sampleEvents();
      const bus = createEventBus();
      hot('-a-b--c-|', values).subscribe({ next: (event) => bus.emit(event), complete: () => bus.complete() });

      expectObservable(bus.events$, '----^').toBe('------c-|', values);
      expectObservable(bus.events$, '^-----!').toBe('-a-b---', values);
    });
  });

  it('feeds events$ from events the app emits on the mitt emitter itself, and lets the app listen there', () => {
    const values = sampleEvents();
    const seenByApp: ServiceEvent[] = [];
    newScheduler().run(({ hot, expectObservable }) => {
      const bus = createEventBus();
      bus.emitter.on('event', (event) => seenByApp.push(event));
      hot('-a-b-|', values).subscribe({ next: (event) => bus.emitter.emit('event', event), complete: () => bus.complete() });

      expectObservable(bus.events$).toBe('-a-b-|', values);
    });
    expect(seenByApp).toEqual([values.a, values.b]);
  });

  it('shares one stream between subscribers', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const values = sampleEvents();
      const bus = createEventBus();
      hot('-a-b-c|', values).subscribe({ next: (event) => bus.emit(event), complete: () => bus.complete() });

      expectObservable(bus.events$).toBe('-a-b-c|', values);
      expectObservable(bus.events$, '--^').toBe('---b-c|', values);
    });
  });

  it('drops events emitted after complete() instead of throwing', () => {
    const { a, b } = sampleEvents();
    const bus = createEventBus();
    const received: ServiceEvent[] = [];
    let completed = false;
    bus.events$.subscribe({ next: (event) => received.push(event), complete: () => (completed = true) });

    bus.emit(a);
    bus.complete();
    bus.complete();
    expect(() => bus.emit(b)).not.toThrow();
    bus.emitter.emit('event', b);

    expect(received).toEqual([a]);
    expect(completed).toBe(true);
    expect(bus.completed).toBe(true);
  });

  it('carries hook events to events$ when the hooks emit on the bus', () => {
    const bus = createEventBus();
    const received: ServiceEvent[] = [];
    bus.events$.subscribe((event) => received.push(event));
    const hooks = createHooks('rdm_record', bus.emit);

    hooks.publish({ identity, record: rdmRecord() });

    expect(received.map((event) => [event.serviceType, event.method, event.recordId])).toEqual([
      ['rdm_record', 'publish', 'q1k7x-8mz42'],
    ]);
  });
});
