import { closeSync, fsync, fsyncSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
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

/** A checkpoint whose file syncs run on libuv's threads: `wal` before the copy, `db` after it. A sync that ends after its checkpoint was settled inline or stopped finds another one (or none) in place, and does nothing. */
type Background = { stage: 'wal' | 'db'; readonly rows: number; readonly started: number };

/**
 * When and how the SQLite store copies its WAL back into the database file (automatic
 * checkpoints are off, see `openDatabase`): once enough rows have gathered, after the caller's
 * turn, so that no hook call pays for it. A commit is durable in the WAL already:
 * checkpointing later changes where it is read from, not what survives a crash.
 *
 * The fsyncs of a checkpoint (most of its time: tens of milliseconds on a disk) do not block
 * the event loop. SQLite's own order is kept: the WAL is synced, its pages are copied
 * (`synchronous = OFF` for the copy alone: SQLite would sync inline), then the database file
 * is synced. Until that last sync ends, nothing is written (the next write would start the WAL
 * over and overwrite frames whose pages may not be on disk yet): the store's commits wait
 * for {@link writable} (the callback given here runs them), and a write that cannot wait
 * calls {@link settleNow}, which finishes the checkpoint inline. A caller that never yields
 * gets a checkpoint inline now and then, so that the WAL stays bounded. A database in memory
 * has no files to sync: its checkpoints are inline.
 *
 * @example
 * ```ts
 * const checkpoints = new SqliteCheckpoints(db, () => persistence.commit());
 * if (checkpoints.writable) commitNow();
 * checkpoints.committed(1);
 * ```
 * @internal
 */
export class SqliteCheckpoints {
  readonly #db: BetterSqlite3.Database;
  readonly #onWritable: () => void;
  /** The database file, resolved when the store opened it; null for a database in memory. */
  readonly #path: string | null;
  /** Rows written since the last checkpoint, and the checkpoint waiting for the caller's turn to end. */
  #rows = 0;
  #due: NodeJS.Immediate | null = null;
  #background: Background | null = null;
  /** The WAL's and the database file's descriptors, for the syncs; opened at the first checkpoint, kept until close (see {@link close}). */
  #files: { readonly wal: number; readonly db: number } | null = null;
  /** The store's `synchronous` setting, restored after each copy. */
  readonly #synchronous: number;

  /** `onWritable` runs when a background checkpoint has ended and writes may go on. */
  constructor(db: BetterSqlite3.Database, onWritable: () => void) {
    this.#db = db;
    this.#onWritable = onWritable;
    this.#path = db.memory ? null : resolve(db.name);
    this.#synchronous = db.pragma('synchronous', { simple: true }) as number;
  }

  /** Whether the store may write now: no checkpoint waits for a file sync. */
  get writable(): boolean {
    return this.#background === null;
  }

  /** A transaction that wrote `rows` rows was committed. */
  committed(rows: number): void {
    this.#rows += rows;
    // During a checkpoint's syncs the rows wait for the next commit after it.
    if (this.#background !== null) return;
    if (this.#rows >= CHECKPOINT_INLINE_ROWS) {
      this.#run(true);
    } else if (this.#rows >= CHECKPOINT_ROWS && this.#due === null) {
      this.#due = setImmediate(() => this.#run(false));
    }
  }

  /** Runs a transaction that cannot wait for a checkpoint's syncs (a requeue, a discard) after finishing them here, and counts its rows. */
  written<T>(write: () => T, rows: (result: T) => number): T {
    this.settleNow();
    const result = write();
    this.committed(rows(result));
    return result;
  }

  /** Finishes a checkpoint whose syncs run in the background now, on this thread: for a write that cannot wait. */
  settleNow(): void {
    const background = this.#background;
    if (background === null) return;
    this.#background = null;
    const files = this.#files as { wal: number; db: number };
    try {
      if (background.stage === 'wal') {
        fsyncSync(files.wal);
        this.#copy();
      }
      fsyncSync(files.db);
    } catch (error) {
      log('store (sqlite): checkpoint failed: %s', messageOf(error));
    }
    this.#ended(background, 'inline');
  }

  /** No checkpoint after this (the database is closing): one in the background is finished first. */
  stop(): void {
    this.settleNow();
    if (this.#due !== null) clearImmediate(this.#due);
    this.#due = null;
  }

  /**
   * Closes the descriptors, once the database is closed: closing any descriptor of a file
   * drops the POSIX locks the process holds on it, SQLite's exclusive lock among them.
   */
  close(): void {
    if (this.#files === null) return;
    closeSync(this.#files.wal);
    closeSync(this.#files.db);
    this.#files = null;
  }

  #run(inline: boolean): void {
    if (this.#due !== null) clearImmediate(this.#due);
    this.#due = null;
    if (!this.#db.open) return;
    const rows = this.#rows;
    this.#rows = 0;
    const files = inline ? null : this.#openFiles();
    if (files === null) {
      this.#inline(rows);
      return;
    }
    const background: Background = { stage: 'wal', rows, started: performance.now() };
    this.#background = background;
    fsync(files.wal, (error) => this.#walSynced(background, files.db, error));
  }

  #walSynced(background: Background, db: number, error: unknown): void {
    if (this.#background !== background) return;
    if (error === null) {
      try {
        this.#copy();
        background.stage = 'db';
        fsync(db, (syncError) => {
          if (this.#background === background) this.#finish(background, syncError);
        });
        return;
      } catch (copyError) {
        error = copyError;
      }
    }
    this.#finish(background, error);
  }

  /** The background checkpoint ended (`error` null) or failed: writes go on. */
  #finish(background: Background, error: unknown): void {
    this.#background = null;
    if (error === null) this.#ended(background, 'background');
    else log('store (sqlite): checkpoint failed: %s', messageOf(error));
    this.#onWritable();
  }

  /** Copies the WAL's pages into the database file without SQLite's own syncs (the caller makes them). */
  #copy(): void {
    this.#db.pragma('synchronous = OFF');
    try {
      this.#db.pragma('wal_checkpoint(PASSIVE)');
    } finally {
      this.#db.pragma(`synchronous = ${this.#synchronous}`);
    }
  }

  /** A checkpoint with SQLite's own syncs, on this thread (a database in memory, a caller that never yields, files that cannot be opened). */
  #inline(rows: number): void {
    try {
      const started = performance.now();
      this.#db.pragma('wal_checkpoint(PASSIVE)');
      log('store (sqlite): checkpoint after %d rows took %d ms, inline', rows, Math.round(performance.now() - started));
    } catch (error) {
      // The WAL keeps every commit; the next checkpoint tries again.
      log('store (sqlite): checkpoint failed: %s', messageOf(error));
    }
  }

  #ended(background: Background, how: string): void {
    log('store (sqlite): checkpoint after %d rows took %d ms, syncs %s', background.rows, Math.round(performance.now() - background.started), how);
  }

  #openFiles(): { readonly wal: number; readonly db: number } | null {
    if (this.#files !== null || this.#path === null) return this.#files;
    let wal: number | null = null;
    try {
      wal = openSync(`${this.#path}-wal`, 'r+');
      this.#files = { wal, db: openSync(this.#path, 'r+') };
    } catch (error) {
      if (wal !== null) closeSync(wal);
      log('store (sqlite): checkpoints run inline, the files could not be opened for their syncs: %s', messageOf(error));
    }
    return this.#files;
  }
}
