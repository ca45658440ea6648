import { describe, expect, it } from 'vitest';
import { KeyedQueue } from '../../src/delivery/keyedQueue.js';

describe('KeyedQueue', () => {
  it('runs one item per key at a time, in offer order', () => {
    const queue = new KeyedQueue<string>({ concurrency: 4 });
    queue.offer('A', 'a1');
    queue.offer('A', 'a2');
    queue.offer('B', 'b1');
    expect(queue.take()).toEqual({ key: 'A', item: 'a1' });
    expect(queue.take()).toEqual({ key: 'B', item: 'b1' });
    expect(queue.take()).toBeUndefined();
    queue.finish('A');
    expect(queue.take()).toEqual({ key: 'A', item: 'a2' });
  });

  it('runs at most `concurrency` keys, letting waiting keys go in the order they became ready', () => {
    const queue = new KeyedQueue<string>({ concurrency: 1 });
    queue.offer('A', 'a1');
    queue.offer('B', 'b1');
    queue.offer('A', 'a2');
    expect(queue.take()?.item).toBe('a1');
    expect(queue.take()).toBeUndefined();
    queue.finish('A');
    expect(queue.take()?.item).toBe('b1');
    queue.finish('B');
    expect(queue.take()?.item).toBe('a2');
  });

  it('refuses items past maxQueue, counting running ones', () => {
    const queue = new KeyedQueue<number>({ maxQueue: 2 });
    expect(queue.offer('A', 1)).toBe(true);
    queue.take();
    expect(queue.offer('B', 2)).toBe(true);
    expect(queue.offer('C', 3)).toBe(false);
    expect(queue.size).toBe(2);
    queue.finish('A');
    expect(queue.offer('C', 3)).toBe(true);
  });

  it('holds no state for keys with nothing queued or running, after a million distinct keys', () => {
    const queue = new KeyedQueue<number>({ concurrency: 16, maxQueue: 1000 });
    let offered = 0;
    let peakKeys = 0;
    while (offered < 1_000_000) {
      while (offered < 1_000_000 && queue.offer(`record-${offered}`, offered)) offered += 1;
      peakKeys = Math.max(peakKeys, queue.keyCount);
      for (let next = queue.take(); next !== undefined; next = queue.take()) queue.finish(next.key);
    }
    expect(peakKeys).toBeLessThanOrEqual(1000);
    expect({ keys: queue.keyCount, size: queue.size, running: queue.running }).toEqual({ keys: 0, size: 0, running: 0 });
  });

  it('rejects a concurrency or maxQueue that is not a positive integer', () => {
    expect(() => new KeyedQueue({ concurrency: 0 })).toThrow('concurrency: expected a positive integer, got 0');
    expect(() => new KeyedQueue({ maxQueue: 1.5 })).toThrow('maxQueue: expected a positive integer, got 1.5');
  });
});
