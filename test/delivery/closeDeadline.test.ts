// close()'s deadline on its own, in fake time: a drain that settles in time, one that does not,
// the timer never left behind, and the outcome given to a callback still running at the deadline.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closedCallbackOutcome, drainedWithin } from '../../src/delivery/closeDeadline.js';
import { ClosedError, isClosedError } from '../../src/index.js';
import { deliveredOutcome, deliveryRequest } from '../helpers/factories.js';

/** A promise settled by hand. */
function pending<T>(): { readonly promise: Promise<T>; resolve(value: T): void; reject(error: Error): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('drainedWithin', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("says 'drained' when the work settles before the deadline, and leaves no timer behind", async () => {
    const work = pending<void>();
    const result = drainedWithin(work.promise, 1_000);
    await vi.advanceTimersByTimeAsync(999);
    work.resolve();
    await expect(result).resolves.toBe('drained');
    expect(vi.getTimerCount()).toBe(0);
  });

  it("says 'deadline' when the work is still running at the deadline, and leaves no timer behind", async () => {
    const work = pending<void>();
    const result = drainedWithin(work.promise, 1_000);
    let settled: string | undefined;
    void result.then((value) => (settled = value));
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBe('deadline');
    expect(vi.getTimerCount()).toBe(0);
    // Work that settles later changes nothing.
    work.resolve();
    await expect(result).resolves.toBe('deadline');
  });

  it("says 'drained' for work already settled, even with a deadline of 0", async () => {
    await expect(drainedWithin(Promise.resolve(), 0)).resolves.toBe('drained');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('passes on the failure of the work, and clears its timer', async () => {
    const work = pending<void>();
    const result = drainedWithin(work.promise, 1_000);
    work.reject(new Error('store gone'));
    await expect(result).rejects.toThrow('store gone');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('closedCallbackOutcome', () => {
  it('is an error outcome of the delivery, a ClosedError naming the delivery and the deadline, timed from the settling', () => {
    const delivery = deliveredOutcome(deliveryRequest('http://127.0.0.1:9/documents', { deliveryId: 'd-42' }), { settledAt: 10_000 });
    const outcome = closedCallbackOutcome(delivery, 2_000, 12_500);
    expect(outcome).toMatchObject({ kind: 'error', delivery, durationMs: 2_500 });
    if (outcome.kind !== 'error') throw new Error(`Expected an error outcome, got ${outcome.kind}`);
    expect(outcome.error).toBeInstanceOf(ClosedError);
    expect(isClosedError(outcome.error)).toBe(true);
    expect(outcome.error.message).toBe("Expected the callback of delivery d-42 to settle within close()'s 2000 ms, it did not");
  });
});
