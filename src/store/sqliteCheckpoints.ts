import type BetterSqlite3 from 'better-sqlite3';
import { messageOf } from '../util/describeValue.js';
import { logger } from '../util/log.js';

const log = logger('delivery');

/**
 * Rows written (inserted, changed, deleted) after which a checkpoint is due: each one syncs
 * the WAL and the database file, and copies each page once however often it was rewritten
 * (rows come and go on the same pages), so fewer, larger ones cost less than SQLite's own
 * every 1,000 pages (measured). Rows, not commits: a commit carries one delivery's progress or
 * a thousand deliveries'; the WAL grows with the rows (a few KiB each at most).
 */
const CHECKPOINT_ROWS = 8_192;
/** Rows after which a checkpoint runs inline, when the caller has not yielded since one was due. */
const CHECKPOINT_INLINE_ROWS = 65_536;

/**
 * When the SQLite store copies its WAL back into the database file (automatic checkpoints are
 * off, see `openDatabase`): once enough commits have gathered, after the caller's turn, so
 * that no hook call pays for it. A commit is durable in the WAL already: checkpointing later
 * changes where it is read from, not what survives a crash. A caller that never yields (one
 * long loop of hook calls) gets a checkpoint inline now and then, so that the WAL stays bounded.
 *
 * @example
 * ```ts
 * const checkpoints = new SqliteCheckpoints(db);
 * insert.run(...);
 * checkpoints.committed(1);
 * ```
 * @internal
 */
export class SqliteCheckpoints {
  readonly #db: BetterSqlite3.Database;
  /** Rows written since the last checkpoint, and the checkpoint waiting for the caller's turn to end. */
  #rows = 0;
  #due: NodeJS.Immediate | null = null;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  /** A transaction that wrote `rows` rows was committed. */
  committed(rows: number): void {
    this.#rows += rows;
    if (this.#rows >= CHECKPOINT_INLINE_ROWS) {
      this.#run();
    } else if (this.#rows >= CHECKPOINT_ROWS && this.#due === null) {
      this.#due = setImmediate(() => this.#run());
    }
  }

  /** No checkpoint after this (the database is closing). */
  stop(): void {
    if (this.#due !== null) clearImmediate(this.#due);
    this.#due = null;
  }

  #run(): void {
    this.stop();
    const rows = this.#rows;
    this.#rows = 0;
    if (!this.#db.open) return;
    try {
      const started = performance.now();
      const cpu = process.cpuUsage();
      this.#db.pragma('wal_checkpoint(PASSIVE)');
      const used = process.cpuUsage(cpu);
      // The wall time is mostly the WAL's and the file's fsync, which the event loop waits for.
      log('store (sqlite): checkpoint after %d rows took %d ms (%d ms cpu)', rows, Math.round(performance.now() - started), Math.round((used.user + used.system) / 1000));
    } catch (error) {
      // The WAL keeps every commit; the next checkpoint tries again.
      log('store (sqlite): checkpoint failed: %s', messageOf(error));
    }
  }
}

