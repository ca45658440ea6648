// The PostgreSQL worker's fetched deliveries waiting for a slot: one list per endpoint, in fetch
// order, counted without walking the others.
import { describe, expect, it } from 'vitest';
import { ReadyDeliveries } from '../../src/store/postgres/readyDeliveries.js';

type Fetched = { readonly endpoint: string; readonly id: number };

describe('ReadyDeliveries', () => {
  it('hands out each endpoint\'s deliveries in fetch order and counts them per endpoint', () => {
    const ready = new ReadyDeliveries<Fetched>((item) => item.endpoint);
    for (const [endpoint, id] of [['a', 1], ['b', 2], ['a', 3], ['b', 4], ['a', 5]] as const) ready.push({ endpoint, id });
    expect(ready.endpoints()).toEqual(['a', 'b']);
    expect([ready.count('a'), ready.count('b'), ready.count('c')]).toEqual([3, 2, 0]);
    expect(ready.shift('a')?.id).toBe(1);
    expect(ready.shift('a')?.id).toBe(3);
    expect(ready.shift('b')?.id).toBe(2);
    expect(ready.shift('c')).toBeUndefined();
    expect(ready.count('a')).toBe(1);
  });

  it('forgets an endpoint once its list is empty, and gives everything back at once', () => {
    const ready = new ReadyDeliveries<Fetched>((item) => item.endpoint);
    ready.push({ endpoint: 'a', id: 1 });
    ready.shift('a');
    expect(ready.endpoints()).toEqual([]);
    ready.push({ endpoint: 'a', id: 2 });
    ready.push({ endpoint: 'b', id: 3 });
    ready.push({ endpoint: 'a', id: 4 });
    expect(ready.takeAll().map((item) => item.id)).toEqual([2, 4, 3]);
    expect(ready.endpoints()).toEqual([]);
    expect(ready.count('a')).toBe(0);
  });
});
