// Ordered re-emission on its own, in virtual time: values of one key come out in input order
// however long each takes to build; other keys never wait; completion waits for the last value.
import { NEVER, map, takeUntil, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { inKeyOrder, type KeyedValue } from '../../src/planning/inKeyOrder.js';

/** An input `<key><name>` becomes the value NAME of that key, built after `delays[name]` frames (at once without one). */
function valuesOf(delays: Readonly<Record<string, number>>, scheduler: TestScheduler): (input: string) => readonly KeyedValue<string>[] {
  return (input) => {
    const key = input.charAt(0);
    const name = input.slice(1);
    const delay = delays[name];
    const value = delay === undefined ? name.toUpperCase() : timer(delay, scheduler).pipe(map(() => name.toUpperCase()));
    return [{ key, value, ifNone: () => `${name}?` }];
  };
}

const testScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('inKeyOrder', () => {
  it('holds a value behind a slower one of the same key, and lets other keys through', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      // a: key k, built in 4 frames; b: key k, at once; c: key j, at once.
      const source = cold('-a-bc----|', { a: 'ka', b: 'kb', c: 'jc' });
      const expected = '   ----C(AB)|';
      expectObservable(source.pipe(inKeyOrder(valuesOf({ a: 4 }, scheduler)))).toBe(expected);
    });
  });

  it('completes only when the last value being built has come out', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-a|', { a: 'ka' });
      const expected = '   ----(A|)';
      expectObservable(source.pipe(inKeyOrder(valuesOf({ a: 3 }, scheduler)))).toBe(expected);
    });
  });

  it('emits the fallback of a value that completes without one, so later values of its key still come out', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('-ab|', { a: 'ka', b: 'kb' });
      const empty = (input: string): readonly KeyedValue<string>[] =>
        input === 'ka' ? [{ key: 'k', value: NEVER.pipe(takeUntil(timer(2, scheduler))), ifNone: () => 'A?' }] : [{ key: 'k', value: 'B', ifNone: () => 'B?' }];
      expectObservable(source.pipe(inKeyOrder(empty))).toBe('---(xB|)', { x: 'A?', B: 'B' });
    });
  });
});
