import type BetterSqlite3 from 'better-sqlite3';
import { messageOf } from '../util/describeValue.js';
import { logger } from '../util/log.js';

const log = logger('delivery');

/**
 * Commits after which a checkpoint is due: each one syncs the WAL and the database file, and
 * copies each page once however often it was rewritten (rows come and go on the same pages),
 * so fewer, larger ones cost less than SQLite's own every 1,000 pages (measured).
 */
const CHECKPOINT_COMMITS = 2_048;
/** Commits after which a checkpoint runs inline, when the caller has not yielded since one was due. */
const CHECKPOINT_INLINE_COMMITS = 16_384;

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
 * checkpoints.committed();
 * ```
 * @internal
 */
export class SqliteCheckpoints {
  readonly #db: BetterSqlite3.Database;
  /** Commits since the last checkpoint, and the checkpoint waiting for the caller's turn to end. */
  #commits = 0;
  #due: NodeJS.Immediate | null = null;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  /** A transaction was committed. */
  committed(): void {
    this.#commits += 1;
    if (this.#commits >= CHECKPOINT_INLINE_COMMITS) {
      this.#run();
    } else if (this.#commits >= CHECKPOINT_COMMITS && this.#due === null) {
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
    const commits = this.#commits;
    this.#commits = 0;
    if (!this.#db.open) return;
    try {
      const started = performance.now();
      const cpu = process.cpuUsage();
      this.#db.pragma('wal_checkpoint(PASSIVE)');
      const used = process.cpuUsage(cpu);
      // The wall time is mostly the WAL's and the file's fsync, which the event loop waits for.
      log('store (sqlite): checkpoint of %d commits took %d ms (%d ms cpu)', commits, Math.round(performance.now() - started), Math.round((used.user + used.system) / 1000));
    } catch (error) {
      // The WAL keeps every commit; the next checkpoint tries again.
      log('store (sqlite): checkpoint failed: %s', messageOf(error));
    }
  }
}
