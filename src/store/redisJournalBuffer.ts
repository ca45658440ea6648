import { logger } from '../util/log.js';
import { nextBatch } from './journalBatch.js';
import { bufferedBytes, REDIS_BATCH, type Buffered } from './redisJob.js';

const log = logger('delivery');

/** Options of {@link RedisJournalBuffer}. @internal */
export type RedisJournalBufferOptions = {
  /** Writes one batch to Redis; a rejection keeps the batch for the next try. */
  readonly write: (batch: readonly Buffered[]) => Promise<void>;
  /** Whether the store is closing: the buffer then gives up after a few failed tries. */
  readonly isClosed: () => boolean;
};

/**
 * The Redis store's journal buffer: `journal` cannot wait for Redis, so its jobs wait here
 * and go out in batches, at once, in order; a failed write is tried again with a backoff.
 * `flush()` resolves when everything pushed so far is acknowledged.
 *
 * @example
 * ```ts
 * const buffer = new RedisJournalBuffer({ write: (batch) => addJobs(batch), isClosed: () => closed });
 * buffer.push(jobs);
 * await buffer.flush();
 * ```
 * @internal
 */
export class RedisJournalBuffer {
  readonly #options: RedisJournalBufferOptions;
  #buffer: Buffered[] = [];
  #pushed = 0;
  #acknowledged = 0;
  #waiters: { readonly target: number; readonly resolve: () => void }[] = [];
  #writing = false;

  constructor(options: RedisJournalBufferOptions) {
    this.#options = options;
  }

  /** Jobs not yet acknowledged by Redis. */
  get length(): number {
    return this.#buffer.length;
  }

  /** Queues jobs and starts writing them (in a microtask: the hook returns first). */
  push(jobs: readonly Buffered[]): void {
    this.#buffer.push(...jobs);
    this.#pushed += jobs.length;
    queueMicrotask(() => void this.#writeLoop());
  }

  /** Resolves when every job pushed so far is acknowledged. */
  flush(): Promise<void> {
    if (this.#acknowledged >= this.#pushed) return Promise.resolve();
    const target = this.#pushed;
    return new Promise((resolve) => this.#waiters.push({ target, resolve }));
  }

  /** Resolves every `flush()` still waiting (the store is closed: nothing more will be acknowledged). */
  release(): void {
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters = [];
  }

  async #writeLoop(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      let failures = 0;
      while (this.#buffer.length > 0) {
        const batch = nextBatch(this.#buffer, bufferedBytes, REDIS_BATCH);
        try {
          await this.#options.write(batch);
          this.#buffer.splice(0, batch.length);
          this.#acknowledged += batch.length;
          failures = 0;
          const waiters = this.#waiters;
          this.#waiters = waiters.filter((waiter) => waiter.target > this.#acknowledged);
          for (const waiter of waiters) if (waiter.target <= this.#acknowledged) waiter.resolve();
        } catch (error) {
          failures += 1;
          log('store (redis): journal write failed (%d in a row), trying again: %s', failures, error instanceof Error ? error.message : String(error));
          if (this.#options.isClosed() && failures > 3) return;
          await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 2_000)));
        }
      }
    } finally {
      this.#writing = false;
    }
  }
}
