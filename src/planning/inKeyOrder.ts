/**
 * Ordered re-emission: values built now or later come out in the order their events came in,
 * per key, without holding back values of other keys.
 * @internal
 * @packageDocumentation
 */
import { Observable, Subscription, isObservable, type OperatorFunction } from 'rxjs';
import type { Eventually } from './eventually.js';

/**
 * One value to emit for an input: its ordering key, the value now or to come, and the value
 * to emit if the Observable completes without one.
 * @internal
 */
export type KeyedValue<T> = {
  readonly key: string;
  readonly value: Eventually<T>;
  readonly ifNone: () => T;
};

/**
 * An operator that maps each input to values (`valuesOf`) and emits each value once every
 * value before it with the same key has been emitted. A value at hand with nothing of its key
 * pending goes straight out (the usual case, no buffering); values of other keys never wait.
 * Completes when the source has and every value has been emitted.
 *
 * ```
 * source:  -a-b-----|         a: key k, built in 4 frames; b: key k, built at once
 * output:  -----AB--|         B waits for A, as A came first
 * ```
 *
 * @example
 * ```ts
 * events$.pipe(inKeyOrder((event) => [{ key: event.recordId, value: planOf(event), ifNone: () => failedPlanOf(event) }]));
 * ```
 * @internal
 */
export function inKeyOrder<E, T>(valuesOf: (input: E) => readonly KeyedValue<T>[]): OperatorFunction<E, T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      // One FIFO of slots per key: a value goes out once every value before it has.
      const lanes = new Map<string, { value: T | undefined; ready: boolean }[]>();
      const builds = new Subscription();
      let building = 0;
      let sourceDone = false;

      const flush = (key: string): void => {
        const lane = lanes.get(key);
        if (lane === undefined) return;
        while (lane.length > 0 && lane[0]?.ready === true) {
          const slot = lane.shift();
          if (slot !== undefined) subscriber.next(slot.value as T);
        }
        if (lane.length === 0) lanes.delete(key);
      };
      const completeWhenDone = (): void => {
        if (sourceDone && building === 0) subscriber.complete();
      };

      const sourceSubscription = source.subscribe({
        next: (input) => {
          for (const { key, value, ifNone } of valuesOf(input)) {
            const lane = lanes.get(key);
            if (!isObservable(value) && lane === undefined) {
              subscriber.next(value);
              continue;
            }
            const slot: { value: T | undefined; ready: boolean } = isObservable(value) ? { value: undefined, ready: false } : { value, ready: true };
            if (lane === undefined) lanes.set(key, [slot]);
            else lane.push(slot);
            if (!isObservable(value)) continue;
            building += 1;
            builds.add(
              value.subscribe({
                next: (built) => {
                  slot.value = built;
                  slot.ready = true;
                },
                error: (error: unknown) => subscriber.error(error),
                complete: () => {
                  building -= 1;
                  if (!slot.ready) {
                    slot.value = ifNone();
                    slot.ready = true;
                  }
                  flush(key);
                  completeWhenDone();
                },
              }),
            );
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          completeWhenDone();
        },
      });

      return () => {
        sourceSubscription.unsubscribe();
        builds.unsubscribe();
      };
    });
}
