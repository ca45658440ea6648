import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { ConfigError, ProvisionerError } from '../errors.js';
import type { AppRecord } from '../events/serviceEvent.js';
import { redactText } from '../util/redact.js';
import type { DeliveryStore } from './deliveryStore.js';
import { LocalStore } from './localStore.js';
import { positiveInteger } from './memoryStore.js';
import { SqlitePersistence } from './sqlitePersistence.js';
import { messageOf } from '../util/describeValue.js';

/**
 * Options of {@link createSqliteStore}.
 *
 * @example
 * ```ts
 * const options: SqliteStoreOptions = { path: 'var/provisioner.db', synchronous: 'full' };
 * createProvisioner({ events, store: createSqliteStore(options) });
 * ```
 */
export type SqliteStoreOptions = {
  /** The database file (created when missing), with `<path>-wal` and `<path>-intake` beside it. One process at a time may open it. */
  readonly path: string;
  /**
   * `normal`: a journaled event survives a crash of the process (`journal` writes it to the
   * intake log, `<path>-intake`, before it returns); the last ones may be lost if the machine
   * loses power. `full`: they survive that too, at the cost of an fsync on every journal.
   * @default 'normal'
   */
  readonly synchronous?: 'normal' | 'full';
  /** Unsettled deliveries stored at most; past it `journal` answers `overflow`. @default 1000000 */
  readonly maxQueue?: number;
  /** Deliveries held in memory at most; the rest wait on disk and are loaded in order. @default 10000 */
  readonly maxInMemory?: number;
  /** How long opening waits for another process to let go of the file. @default 2000 */
  readonly busyTimeoutMs?: number;
};

/** Default of {@link SqliteStoreOptions.maxQueue}. */
export const DEFAULT_SQLITE_MAX_QUEUE = 1_000_000;
/** Default of {@link SqliteStoreOptions.maxInMemory}. */
export const DEFAULT_SQLITE_MAX_IN_MEMORY = 10_000;

/** Bytes the WAL file is cut back to after a checkpoint. */
const WAL_SIZE_LIMIT = 64 * 1024 * 1024;

/** The schema version this code writes (`PRAGMA user_version`). */
const SCHEMA_VERSION = 2;

type Database = BetterSqlite3.Database;
type DatabaseConstructor = typeof BetterSqlite3;

/**
 * Whether the SQLite store can run here: better-sqlite3 is installed and its native addon
 * loads in this Node.js (an addon built for another Node.js version does not). `reason`
 * says why not.
 *
 * @example
 * ```ts
 * const store = sqliteStoreAvailability().available ? createSqliteStore({ path: 'var/provisioner.db' }) : createMemoryStore();
 * ```
 */
export function sqliteStoreAvailability(): { readonly available: true; readonly reason: null } | { readonly available: false; readonly reason: string } {
  try {
    const db = new (loadBetterSqlite3())(':memory:');
    db.close();
    return { available: true, reason: null };
  } catch (error) {
    return { available: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The embedded durable store, on SQLite (better-sqlite3 13, an optional dependency to
 * install beside this library). `journal` appends the event's deliveries to the intake log
 * (`<path>-intake`) before it returns, and the database (WAL mode) takes them in with the
 * next commit, after the caller's turn; plans and attempts are recorded before the request
 * is sent and outcomes before they are emitted (the deliveries answered in one turn of the event
 * loop share one transaction); failed deliveries are kept as dead letters. When the file is opened again,
 * unsettled deliveries resume, in order, with the same delivery ids, their request as it was
 * planned (payload functions do not run again) and their attempts counted. One process at a
 * time: a second one is refused while the first holds the file.
 *
 * @throws {@link ProvisionerError} when better-sqlite3 cannot be loaded, when another process holds
 *   the file, or when the file was written by a newer version of this library.
 *
 * @example
 * ```ts
 * const store = createSqliteStore({ path: 'var/provisioner.db' });
 * store.start({ plan: planOne, attempt: sendOnce });
 * ```
 */
export function createSqliteStore<R = AppRecord>(options: SqliteStoreOptions): DeliveryStore<R> {
  if (typeof options !== 'object' || options === null || typeof options.path !== 'string' || options.path === '') {
    const path = typeof options === 'object' && options !== null ? (options as { readonly path?: unknown }).path : undefined;
    throw new ConfigError([`path: expected the database file's path, got ${path === '' ? 'an empty string' : typeof path}`]);
  }
  const maxQueue = positiveInteger('maxQueue', options.maxQueue ?? DEFAULT_SQLITE_MAX_QUEUE);
  const maxInMemory = positiveInteger('maxInMemory', options.maxInMemory ?? DEFAULT_SQLITE_MAX_IN_MEMORY);
  if (options.busyTimeoutMs !== undefined) positiveInteger('busyTimeoutMs', options.busyTimeoutMs);
  // A power-loss guarantee asked for with another spelling must not quietly become 'normal'.
  if (options.synchronous !== undefined && options.synchronous !== 'normal' && options.synchronous !== 'full') {
    throw new ConfigError([`synchronous: expected 'normal' or 'full', got ${JSON.stringify(options.synchronous) ?? String(options.synchronous)}`]);
  }
  const persistence = new SqlitePersistence<R>(openDatabase(options), intakePathOf(options.path), options.synchronous === 'full');
  return new LocalStore<R>({ kind: 'sqlite', persistence, maxQueue, maxInMemory, failOnClose: false });
}

function loadBetterSqlite3(): DatabaseConstructor {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as DatabaseConstructor;
  } catch (error) {
    throw new ProvisionerError(
      `Expected the optional dependency better-sqlite3 (13.x) to be installed for the SQLite store, but loading it failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

function openDatabase(options: SqliteStoreOptions): Database {
  const Database = loadBetterSqlite3();
  const where = redactText(options.path);
  let db: Database;
  try {
    db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 2_000 });
  } catch (error) {
    // The rebuild hint only for an addon built for another Node.js (its ABI), not for a missing directory.
    const otherNode = /NODE_MODULE_VERSION|compiled against a different Node\.js version/.test(messageOf(error));
    throw new ProvisionerError(
      `Expected to open the SQLite store ${where} with better-sqlite3 on Node.js ${process.version}, but it failed${otherNode ? ' (an addon built for another Node.js version needs `npm rebuild better-sqlite3`)' : ''}: ${messageOf(error)}`,
      { cause: error },
    );
  }
  try {
    // Exclusive locking: the file is held from the first transaction until close, so a second
    // process cannot interleave its deliveries with ours (and WAL needs no shared memory file).
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // Checkpoints run after the caller's turn (SqlitePersistence), not inside the commit of a
    // hook call that happens to pass SQLite's threshold; the WAL file is cut back after them.
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    migrate(db, where);
  } catch (error) {
    db.close();
    if (error instanceof ProvisionerError) throw error;
    if (isBusy(error)) {
      throw new ProvisionerError(
        `Expected to be the only process using the SQLite store ${where}, but another process holds it: run one process per store file, or use the Redis store to share work between instances`,
        { cause: error },
      );
    }
    throw new ProvisionerError(`Expected to open the SQLite store ${where}, but it failed: ${messageOf(error)}`, { cause: error });
  }
  return db;
}

function migrate(db: Database, where: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new ProvisionerError(`Expected the SQLite store ${where} to have schema version ${SCHEMA_VERSION} or lower, found ${version} (written by a newer version of this library)`);
  }
  if (version < 1) createTables(db);
  // 2: the intake log. Which log is this file's own, and the highest sequence number taken in from it.
  if (version < 2) {
    db.exec(`
      BEGIN;
      CREATE TABLE store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      INSERT INTO store_meta (name, value) VALUES ('store_id', '${randomBytes(16).toString('hex')}'), ('applied_seq', '0');
      PRAGMA user_version = 2;
      COMMIT;
    `);
  }
}

/** Version 1: deliveries, their attempts, dead letters. */
function createTables(db: Database): void {
  // One row per delivery, with its event inline: the hook's journal writes one b-tree row per
  // delivery (an events table of its own doubled the cost measured on the hook's path; events
  // with several endpoints are stored once per endpoint). `seq` (the rowid) orders everything:
  // a key's deliveries run in seq order, so no (key, seq) index is needed on that write path.
  db.exec(`
    BEGIN;
    CREATE TABLE deliveries (
      seq              INTEGER PRIMARY KEY,
      delivery_id      TEXT NOT NULL UNIQUE,
      event_id         TEXT NOT NULL,
      endpoint         TEXT NOT NULL,
      key              TEXT NOT NULL,
      accepted_at      INTEGER NOT NULL,
      event            BLOB NOT NULL,
      request          TEXT,
      stripped_headers TEXT,
      attempts         INTEGER NOT NULL DEFAULT 0,
      next_attempt_at  INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE attempts (
      delivery_id     TEXT NOT NULL,
      attempt         INTEGER NOT NULL,
      started_at      INTEGER NOT NULL,
      finished_at     INTEGER,
      result          TEXT,
      reason          TEXT,
      status          INTEGER,
      error           TEXT,
      next_attempt_at INTEGER,
      PRIMARY KEY (delivery_id, attempt)
    ) WITHOUT ROWID;
    CREATE TABLE dead_letters (
      delivery_id      TEXT PRIMARY KEY,
      event_id         TEXT NOT NULL,
      endpoint         TEXT NOT NULL,
      key              TEXT NOT NULL,
      service_type     TEXT NOT NULL,
      service_method   TEXT NOT NULL,
      record_id        TEXT,
      reason           TEXT NOT NULL,
      error_name       TEXT NOT NULL,
      error_message    TEXT NOT NULL,
      attempts         INTEGER NOT NULL,
      response         TEXT,
      request          TEXT,
      stripped_headers TEXT,
      accepted_at      INTEGER NOT NULL,
      failed_at        INTEGER NOT NULL,
      event            BLOB NOT NULL
    );
    CREATE INDEX dead_letters_by_time ON dead_letters (failed_at);
    PRAGMA user_version = 1;
    COMMIT;
  `);
}

/** The intake log beside the database file (`<path>-intake`); none for a database in memory. */
function intakePathOf(path: string): string | null {
  return path === '' || path === ':memory:' || path.startsWith('file::memory:') ? null : `${path}-intake`;
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}
