import { ConfigError } from '../errors.js';
import { Fifo } from './fifo.js';

type Lane<T> = { readonly items: Fifo<T>; running: boolean };

/** Options of {@link KeyedQueue}. */
export type KeyedQueueOptions = {
  /** How many keys may run at the same time. @default 16 */
  readonly concurrency?: number;
  /** How many items may be accepted and not yet finished, running ones included. @default 10000 */
  readonly maxQueue?: number;
};

/** Default of {@link KeyedQueueOptions.concurrency}. */
export const DEFAULT_CONCURRENCY = 16;
/** Default of {@link KeyedQueueOptions.maxQueue}. */
export const DEFAULT_MAX_QUEUE = 10_000;

/**
 * The scheduling state of ordered delivery: items with the same key run one at a time in
 * the order they were offered; items of different keys run concurrently, up to
 * `concurrency`, keys taking turns in the order they became ready. The state of a key is
 * deleted as soon as it has nothing queued or running, so memory follows the work in
 * flight, not the number of keys ever seen. It holds no timers and runs nothing itself:
 * the caller `take`s the next runnable item and calls `finish` when it is done.
 *
 * @example
 * ```ts
 * const queue = new KeyedQueue<string>({ concurrency: 2, maxQueue: 100 });
 * queue.offer('record-a', 'publish');
 * queue.offer('record-a', 'delete');
 * queue.take(); // { key: 'record-a', item: 'publish' }
 * queue.take(); // undefined: 'delete' waits for 'publish'
 * queue.finish('record-a');
 * queue.take(); // { key: 'record-a', item: 'delete' }
 * ```
 */
export class KeyedQueue<T> {
  readonly concurrency: number;
  readonly maxQueue: number;
  readonly #lanes = new Map<string, Lane<T>>();
  readonly #ready = new Fifo<string>();
  #running = 0;
  #size = 0;

  constructor(options: KeyedQueueOptions = {}) {
    this.concurrency = positiveInteger('concurrency', options.concurrency ?? DEFAULT_CONCURRENCY);
    this.maxQueue = positiveInteger('maxQueue', options.maxQueue ?? DEFAULT_MAX_QUEUE);
  }

  /** Items accepted and not yet finished (queued or running). */
  get size(): number {
    return this.#size;
  }

  /** Items running now. */
  get running(): number {
    return this.#running;
  }

  /** Keys with something queued or running: the state held. */
  get keyCount(): number {
    return this.#lanes.size;
  }

  /** Queues `item` under `key`; `false` (and nothing queued) when `maxQueue` items are pending. */
  offer(key: string, item: T): boolean {
    if (this.#size >= this.maxQueue) return false;
    this.#size += 1;
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = { items: new Fifo<T>(), running: false };
      this.#lanes.set(key, lane);
    }
    lane.items.push(item);
    if (!lane.running && lane.items.length === 1) this.#ready.push(key);
    return true;
  }

  /** The next item that may run now, marking its key as running; `undefined` when none may. */
  take(): { readonly key: string; readonly item: T } | undefined {
    if (this.#running >= this.concurrency) return undefined;
    const key = this.#ready.shift();
    if (key === undefined) return undefined;
    const lane = this.#lanes.get(key);
    const item = lane?.items.shift();
    if (lane === undefined || item === undefined) return undefined;
    lane.running = true;
    this.#running += 1;
    return { key, item };
  }

  /** Marks the running item of `key` as done, letting the key's next item become ready. */
  finish(key: string): void {
    const lane = this.#lanes.get(key);
    if (lane === undefined || !lane.running) {
      throw new Error(`Expected key ${JSON.stringify(key)} to have a running item, found none`);
    }
    lane.running = false;
    this.#running -= 1;
    this.#size -= 1;
    if (lane.items.length > 0) this.#ready.push(key);
    else this.#lanes.delete(key);
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError([`${name}: expected a positive integer, got ${String(value)}`]);
  return value;
}
