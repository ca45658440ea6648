/**
 * The PostgreSQL store's outcome table, read: every instance writes the outcomes it reaches
 * there (with a NOTIFY, see postgresSettler.ts) and reads the others' from it, so every
 * instance's `outcomes$` sees them all.
 * @internal
 * @packageDocumentation
 */
import type { DeliveryOutcome } from '../../events/outcomes.js';
import { messageOf } from '../../util/describeValue.js';
import { logger } from '../../util/log.js';
import { OneAtATime } from '../oneAtATime.js';
import { loadOutcome, storeOutcome, type StoredOutcome } from '../storedOutcome.js';
import type { PostgresContext } from './postgresContext.js';

const log = logger('delivery');

/** How long outcomes stay in the outcome table by default (`outcomeRetentionMs`). @internal */
export const OUTCOME_RETENTION_MS = 600_000;

/** An outcome as the outcome table holds it: whole, or naming the completed job that holds its event (`event` then empty). @internal */
export type OutcomeRow = StoredOutcome & { readonly eventJob?: string };

/** The row of an outcome whose job is completed: the event stays in the job. @internal */
export function outcomeRow<R>(outcome: DeliveryOutcome<R>, jobId: string): OutcomeRow {
  return { ...storeOutcome(outcome, ''), eventJob: jobId };
}

/** What the reader hands on: another instance's outcome, or only that a delivery settled (this instance's own, or unreadable). @internal */
export type OutcomeListener<R> = {
  settled(deliveryId: string): void;
  outcome(deliveryId: string, outcome: DeliveryOutcome<R>): void;
};

/**
 * Reads the outcome table from where it stood when the store opened (outcomes are hot, not
 * replayed), one read at a time, and prunes it.
 * @internal
 */
export class PostgresOutcomeTable<R> {
  readonly #context: PostgresContext;
  readonly #listener: OutcomeListener<R>;
  /** Outcomes read up to here (sequence of the outcome table), and those read beyond it while an earlier one was not committed yet. */
  #watermark = 0;
  #seenBeyond = new Set<number>();
  #gapSince: number | null = null;
  readonly #reads = new OneAtATime(() => this.#readOnce(), {
    goOn: () => !this.#closed,
    onError: (error) => log('store (postgres): reading outcomes failed: %s', messageOf(error)),
  });
  #closed = false;
  #timers: ReturnType<typeof setInterval>[] = [];

  constructor(context: PostgresContext, listener: OutcomeListener<R>) {
    this.#context = context;
    this.#listener = listener;
  }

  /** Starts reading from the table's end, every second and on `read()`; prunes it every minute. */
  async open(): Promise<void> {
    // The whole table's: every store of the schema takes its sequence numbers from one sequence.
    const { rows } = await this.#context.pool.query<{ seq: string | null }>(`SELECT max(seq)::text AS seq FROM ${this.#context.schema}.rap_outcome`);
    this.#watermark = Number(rows[0]?.seq ?? 0);
    const poll = setInterval(() => void this.read(), 1_000);
    poll.unref();
    const prune = setInterval(() => void this.#prune(), 60_000);
    prune.unref();
    this.#timers.push(poll, prune);
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
  }

  /** Reads the outcomes written since the last read (one read at a time; a request meanwhile reads again after it). */
  read(): Promise<void> {
    return this.#reads.run();
  }

  /**
   * Reads every store's rows (sequence numbers are shared: a gap is only what is not committed
   * yet), but only the outcomes of this store that other instances reached.
   */
  async #readOnce(): Promise<void> {
    const { pool, schema, queue, instance } = this.#context;
    let after = this.#watermark;
    for (;;) {
      // ORDER BY the column, not the text alias of the same name ('1000' < '401').
      // An outcome naming its completed job gets the event from there (the job's primary key: name, id).
      const { rows } = await pool.query<{ seq: string; delivery_id: string | null; outcome: OutcomeRow | null; job_event: string | null }>(
        `SELECT o.seq::text AS seq, CASE WHEN o.store = $1 THEN o.delivery_id END AS delivery_id, CASE WHEN o.store = $1 AND o.instance <> $3 THEN o.outcome END AS outcome,
           CASE WHEN o.store = $1 AND o.instance <> $3 AND o.outcome ? 'eventJob'
             THEN (SELECT j.data->>'event' FROM ${schema}.job j WHERE j.name = $1 AND j.id = (o.outcome->>'eventJob')::uuid) END AS job_event
         FROM ${schema}.rap_outcome o WHERE o.seq > $2 ORDER BY o.seq LIMIT 1000`,
        [queue, after, instance],
      );
      for (const row of rows) {
        const seq = Number(row.seq);
        after = Math.max(after, seq);
        if (this.#seenBeyond.has(seq) || seq <= this.#watermark) continue;
        this.#seenBeyond.add(seq);
        if (row.delivery_id === null) continue;
        this.#listener.settled(row.delivery_id);
        if (row.outcome === null) continue;
        try {
          this.#listener.outcome(row.delivery_id, loadOutcome<R>(withEvent(row.outcome, row.job_event)));
        } catch (error) {
          log('store (postgres): unreadable outcome %s from another instance: %s', row.delivery_id, messageOf(error));
        }
      }
      this.#advanceWatermark();
      if (rows.length < 1_000) return;
    }
  }

  /**
   * Sequence numbers are taken when a row is written, not when it commits: a row may appear
   * behind ones already read. The watermark stays below such a gap until it fills, or for 5 s
   * (a rolled-back write leaves a gap for good).
   */
  #advanceWatermark(): void {
    while (this.#seenBeyond.delete(this.#watermark + 1)) this.#watermark += 1;
    if (this.#seenBeyond.size === 0) {
      this.#gapSince = null;
      return;
    }
    const now = Date.now();
    this.#gapSince ??= now;
    if (now - this.#gapSince < 5_000) return;
    this.#watermark = Math.min(...this.#seenBeyond) - 1;
    this.#gapSince = null;
    this.#advanceWatermark();
  }

  async #prune(): Promise<void> {
    const retention = this.#context.options.outcomeRetentionMs ?? OUTCOME_RETENTION_MS;
    await this.#context.pool
      .query(`DELETE FROM ${this.#context.schema}.rap_outcome WHERE store = $1 AND settled_at < $2`, [this.#context.queue, Date.now() - retention])
      .catch((error: unknown) => log('store (postgres): pruning outcomes failed: %s', messageOf(error)));
  }
}

/** The outcome of a row, its event taken from its job when the row names one. */
function withEvent(row: OutcomeRow, jobEvent: string | null): StoredOutcome {
  if (row.eventJob === undefined) return row;
  if (jobEvent === null) throw new Error(`Expected job ${row.eventJob} to hold the outcome's event, found no such job`);
  return { ...row, event: jobEvent };
}
