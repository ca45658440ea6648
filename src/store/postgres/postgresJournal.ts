/**
 * How the PostgreSQL store writes jobs: through pg-boss's insert with this store's NOTIFY in
 * the same statement, and, outside an app's transaction, from a buffer (`journal` cannot wait
 * for the database) in batches, in order, tried again while the database fails.
 * @internal
 * @packageDocumentation
 */
import { NetworkError, type ProvisionerError } from '../../errors.js';
import type { FailureReason } from '../../events/outcomes.js';
import { messageOf } from '../../util/describeValue.js';
import { logger } from '../../util/log.js';
import { sleep } from '../waits.js';
import type { BossExecutor, PostgresContext } from './postgresContext.js';
import { nextBatch } from '../journalBatch.js';
import { FIRST_INSERT_BATCH, INSERT_BATCH, journalPayload, type NewJob } from './postgresJob.js';

const log = logger('delivery');

/** What becomes of jobs that will never be written: their deliveries end as `failed`. */
type OnUnwritten = (jobs: readonly NewJob[], error: ProvisionerError, reason: FailureReason) => void;

/**
 * The store's job writer. `push` buffers jobs journaled outside a transaction and writes them
 * at once; `flush()` resolves when every job pushed so far is written; `insert` writes jobs
 * through a given executor (the app's transaction, a requeue's).
 * @internal
 */
export class PostgresJournal {
  readonly #context: PostgresContext;
  readonly #onUnwritten: OnUnwritten;
  readonly #isClosed: () => boolean;
  readonly #beforeWrite: () => Promise<void>;
  #buffer: NewJob[] = [];
  #pushed = 0;
  #written = 0;
  #waiters: { readonly target: number; readonly resolve: () => void }[] = [];
  #writing = false;
  #insertedSinceAnalyze = 0;
  #analyzedAt = 0;
  #analyzing = false;

  /** `beforeWrite` runs before each buffered write: the outbox rows this instance committed go into pg-boss first, so a lane keeps its order. */
  constructor(context: PostgresContext, options: { readonly onUnwritten: OnUnwritten; readonly isClosed: () => boolean; readonly beforeWrite: () => Promise<void> }) {
    this.#context = context;
    this.#beforeWrite = options.beforeWrite;
    this.#onUnwritten = options.onUnwritten;
    this.#isClosed = options.isClosed;
  }

  /** Jobs not written yet. */
  get length(): number {
    return this.#buffer.length;
  }

  /** Buffers jobs and starts writing them (in a microtask: the hook returns first). */
  push(jobs: readonly NewJob[]): void {
    this.#buffer.push(...jobs);
    this.#pushed += jobs.length;
    queueMicrotask(() => void this.#writeLoop());
  }

  /** Resolves when every job pushed so far is written (or failed for good). */
  flush(): Promise<void> {
    if (this.#written >= this.#pushed) return Promise.resolve();
    const target = this.#pushed;
    return new Promise((resolve) => this.#waiters.push({ target, resolve }));
  }

  /**
   * Writes `jobs` in one statement through `db`: pg-boss's insert (every job of it stamped with
   * the transaction's time; the ids keep their order), with the NOTIFY that wakes every
   * instance at its COMMIT in the same round trip.
   */
  async insert(jobs: readonly NewJob[], db: BossExecutor): Promise<void> {
    if (jobs.length === 0) return;
    await this.#context.boss.insert(this.#context.queue, jobs as NewJob[], { db: notifying(db, this.#context.channel, journalPayload(jobs)) });
    this.#analyzeAfter(jobs.length);
  }

  /** Jobs were inserted in a statement of another part (the outbox's move inside the database). */
  inserted(count: number): void {
    this.#analyzeAfter(count);
  }

  /** Ends every buffered job: it never reached the database. */
  failBuffered(error: ProvisionerError, reason: FailureReason): void {
    const jobs = this.#buffer.splice(0);
    if (jobs.length === 0) return;
    this.#onUnwritten(jobs, error, reason);
    this.#wrote(jobs.length);
  }

  async #writeLoop(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    let failingSince: number | null = null;
    // The first write of a burst is small: its deliveries can start while the rest is written.
    let limits: { readonly maxJobs: number; readonly maxBytes: number } = FIRST_INSERT_BATCH;
    try {
      while (this.#buffer.length > 0) {
        const batch = nextBatch(this.#buffer, (job) => job.data.event.length, limits);
        try {
          await this.#beforeWrite();
          await this.insert(batch, this.#context.boss.getDb());
          failingSince = null;
          this.#buffer.splice(0, batch.length);
          this.#wrote(batch.length);
          limits = INSERT_BATCH;
        } catch (error) {
          failingSince ??= Date.now();
          const retryMs = this.#context.options.journalRetryMs ?? 30_000;
          log('store (postgres): journal write failed, trying again: %s', messageOf(error));
          if (this.#isClosed() || Date.now() - failingSince >= retryMs) {
            this.failBuffered(
              new NetworkError(`Expected PostgreSQL to take ${this.#buffer.length} journaled deliveries, it did not within ${retryMs} ms: ${messageOf(error)}`, { cause: error }),
              'network',
            );
            return;
          }
          await sleep(Math.min(100 * 2 ** Math.min(5, Math.floor((Date.now() - failingSince) / 500)), 2_000));
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  #wrote(count: number): void {
    this.#written += count;
    const waiters = this.#waiters;
    this.#waiters = waiters.filter((waiter) => waiter.target > this.#written);
    for (const waiter of waiters) if (waiter.target <= this.#written) waiter.resolve();
  }

  /**
   * Refreshes the planner's statistics of the job table after many inserts. pg-boss's fetch
   * of a key_strict_fifo queue joins the queued jobs with their lanes' heads: planned on the
   * counts of an empty table (autovacuum lags behind a burst), it took half a second with
   * 5,000 jobs queued, and 20 ms once analyzed.
   */
  #analyzeAfter(inserted: number): void {
    this.#insertedSinceAnalyze += inserted;
    if (this.#insertedSinceAnalyze < 1_000 || this.#analyzing || Date.now() - this.#analyzedAt < 30_000) return;
    this.#analyzing = true;
    this.#insertedSinceAnalyze = 0;
    this.#analyzedAt = Date.now();
    this.#context.pool
      .query(`ANALYZE ${this.#context.schema}.job`)
      .catch((error: unknown) => log('store (postgres): analyzing the job table failed: %s', messageOf(error)))
      .finally(() => {
        this.#analyzing = false;
      });
  }
}

/**
 * `db` with this store's NOTIFY added to pg-boss's insert statement (a single INSERT of its
 * jobs), so writing jobs in the app's transaction is one round trip. Should pg-boss's insert
 * ever take another shape, the NOTIFY goes as a statement of its own after it.
 */
function notifying(db: BossExecutor, channel: string, payload: string): BossExecutor {
  return {
    executeSql: async (text, values = []) => {
      if (/^\s*INSERT\s/i.test(text) && !/;\s*\S/.test(text)) {
        return db.executeSql(`WITH inserted AS (${text}) SELECT pg_notify($${values.length + 1}, $${values.length + 2})`, [...values, channel, payload]);
      }
      const result = await db.executeSql(text, values);
      await db.executeSql('SELECT pg_notify($1, $2)', [channel, payload]);
      return result;
    },
  };
}
