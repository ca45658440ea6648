import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { ProvisionerError } from '../errors.js';
import type { DeliveryOutcome, FailureReason } from '../events/outcomes.js';
import type { RequestDescriptor } from '../events/request.js';
import type { AppRecord } from '../events/serviceEvent.js';
import { logger, redactText } from '../log.js';
import { decodeError, decodeEvent, decodeRequest, decodeResponse, encodeError, encodeEvent, encodeRequest, encodeResponse } from './codec.js';
import { DEFAULT_DEAD_LETTER_LIMIT, type AttemptResult, type DeadLetter, type DeadLetterFilter, type DeliveryStore } from './deliveryStore.js';
import { LocalStore } from './localStore.js';
import type { NewDelivery, PersistedDelivery, Persistence } from './persistence.js';
import { positiveInteger } from './memoryStore.js';

const log = logger('delivery');

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
  /** The database file (created when missing). One process at a time may open it. */
  readonly path: string;
  /**
   * `normal`: a journaled event survives a crash of the process (SQLite's WAL is written
   * before `journal` returns); the last ones may be lost if the machine loses power.
   * `full`: they survive that too, at the cost of an fsync on every journal.
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

/** The schema version this code writes (`PRAGMA user_version`). */
const SCHEMA_VERSION = 1;

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
 * The embedded durable store, on SQLite (better-sqlite3 12, an optional dependency to
 * install beside this library). `journal` writes the event and its deliveries in one
 * transaction before it returns (WAL mode); plans, attempts and outcomes are recorded as
 * they happen; failed deliveries are kept as dead letters. When the file is opened again,
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
  const maxQueue = positiveInteger('maxQueue', options.maxQueue ?? DEFAULT_SQLITE_MAX_QUEUE);
  const maxInMemory = positiveInteger('maxInMemory', options.maxInMemory ?? DEFAULT_SQLITE_MAX_IN_MEMORY);
  const persistence = new SqlitePersistence<R>(openDatabase(options));
  return new LocalStore<R>({ kind: 'sqlite', persistence, maxQueue, maxInMemory, failOnClose: false });
}

function loadBetterSqlite3(): DatabaseConstructor {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as DatabaseConstructor;
  } catch (error) {
    throw new ProvisionerError(
      `Expected the optional dependency better-sqlite3 (12.x) to be installed for the SQLite store, but loading it failed: ${error instanceof Error ? error.message : String(error)}`,
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
    throw new ProvisionerError(
      `Expected to open the SQLite store ${where} with better-sqlite3 on Node.js ${process.version}, but it failed (an addon built for another Node.js version needs \`npm rebuild better-sqlite3\`): ${messageOf(error)}`,
      { cause: error },
    );
  }
  try {
    // Exclusive locking: the file is held from the first transaction until close, so a second
    // process cannot interleave its deliveries with ours (and WAL needs no shared memory file).
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
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
  if (version === SCHEMA_VERSION) return;
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
    PRAGMA user_version = ${SCHEMA_VERSION};
    COMMIT;
  `);
}

type DeliveryRow = {
  readonly seq: number;
  readonly delivery_id: string;
  readonly endpoint: string;
  readonly key: string;
  readonly accepted_at: number;
  readonly request: string | null;
  readonly stripped_headers: string | null;
  readonly attempts: number;
  readonly next_attempt_at: number;
  readonly event: Buffer;
};

type DeadLetterRow = {
  readonly delivery_id: string;
  readonly event_id: string;
  readonly endpoint: string;
  readonly key: string;
  readonly reason: string;
  readonly error_name: string;
  readonly error_message: string;
  readonly attempts: number;
  readonly response: string | null;
  readonly request: string | null;
  readonly stripped_headers: string | null;
  readonly accepted_at: number;
  readonly failed_at: number;
  readonly event: Buffer;
};

/** The SQLite tables behind a {@link LocalStore}. */
class SqlitePersistence<R> implements Persistence<R> {
  readonly found: { readonly count: number; readonly lastSeq: number };
  readonly #db: Database;
  readonly #insert: (deliveries: readonly NewDelivery<R>[]) => { deliveryId: string; seq: number }[];
  readonly #startAttempt: (deliveryId: string, attempt: number, at: number) => void;
  readonly #retryLater: (deliveryId: string, attempt: number, result: Extract<AttemptResult, { kind: 'retry' }>, at: number, nextAttemptAt: number) => void;
  readonly #settle: (deliveryId: string, outcome: DeliveryOutcome<R>, stripped: readonly string[]) => void;
  readonly #requeue: (deliveryIds: readonly string[]) => PersistedDelivery<R>[];
  readonly #discard: (deliveryIds: readonly string[]) => number;
  readonly #load: BetterSqlite3.Statement<[number, number], DeliveryRow>;
  readonly #savePlan: BetterSqlite3.Statement<[string | null, string, string]>;

  constructor(db: Database) {
    this.#db = db;
    this.found = db.prepare('SELECT count(*) AS count, coalesce(max(seq), 0) AS lastSeq FROM deliveries').get() as { count: number; lastSeq: number };

    const insertDelivery = db.prepare<[string, string, string, string, number, Buffer, string | null, string | null]>(
      `INSERT OR IGNORE INTO deliveries (delivery_id, event_id, endpoint, key, accepted_at, event, request, stripped_headers)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const deleteDelivery = db.prepare<[string]>('DELETE FROM deliveries WHERE delivery_id = ?');
    const deleteAttempts = db.prepare<[string]>('DELETE FROM attempts WHERE delivery_id = ?');
    const setAttempts = db.prepare<[number, string]>('UPDATE deliveries SET attempts = ? WHERE delivery_id = ?');
    const insertAttempt = db.prepare<[string, number, number]>('INSERT OR REPLACE INTO attempts (delivery_id, attempt, started_at) VALUES (?, ?, ?)');
    const finishAttempt = db.prepare<[number, string, string, number | null, string, number | null, string, number]>(
      `UPDATE attempts SET finished_at = ?, result = ?, reason = ?, status = ?, error = ?, next_attempt_at = ?
       WHERE delivery_id = ? AND attempt = ?`,
    );
    const setNextAttempt = db.prepare<[number, string]>('UPDATE deliveries SET next_attempt_at = ? WHERE delivery_id = ?');
    // The dead letter takes the delivery's row (its event bytes included) with the failure added.
    const moveToDeadLetters = db.prepare<
      [string, string, string | null, string, string, string, number, string | null, string | null, string | null, number, string]
    >(
      `INSERT OR REPLACE INTO dead_letters (delivery_id, event_id, endpoint, key, service_type, service_method, record_id, reason, error_name,
         error_message, attempts, response, request, stripped_headers, accepted_at, failed_at, event)
       SELECT delivery_id, event_id, endpoint, key, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, accepted_at, ?, event
       FROM deliveries WHERE delivery_id = ?`,
    );
    const selectDeadLetter = db.prepare<[string], DeadLetterRow>('SELECT * FROM dead_letters WHERE delivery_id = ?');
    const deleteDeadLetter = db.prepare<[string]>('DELETE FROM dead_letters WHERE delivery_id = ?');

    this.#load = db.prepare<[number, number], DeliveryRow>(
      `SELECT seq, delivery_id, endpoint, key, accepted_at, event, request, stripped_headers, attempts, next_attempt_at
       FROM deliveries WHERE seq > ? ORDER BY seq LIMIT ?`,
    );
    this.#savePlan = db.prepare<[string | null, string, string]>('UPDATE deliveries SET request = ?, stripped_headers = ? WHERE delivery_id = ?');

    this.#insert = db.transaction((deliveries: readonly NewDelivery<R>[]) => {
      const inserted: { deliveryId: string; seq: number }[] = [];
      const encoded = new Map<string, Buffer>();
      for (const delivery of deliveries) {
        const { event } = delivery;
        let bytes = encoded.get(event.eventId);
        if (bytes === undefined) {
          bytes = encodeEvent(event);
          encoded.set(event.eventId, bytes);
        }
        const request = delivery.request === null ? null : encodeRequest(delivery.request);
        const result = insertDelivery.run(
          delivery.deliveryId,
          event.eventId,
          delivery.endpoint,
          delivery.key,
          delivery.acceptedAt,
          bytes,
          request?.json ?? null,
          request === null ? null : JSON.stringify(request.stripped),
        );
        if (result.changes > 0) inserted.push({ deliveryId: delivery.deliveryId, seq: Number(result.lastInsertRowid) });
      }
      return inserted;
    });

    this.#startAttempt = db.transaction((deliveryId: string, attempt: number, at: number) => {
      setAttempts.run(attempt, deliveryId);
      insertAttempt.run(deliveryId, attempt, at);
    });

    this.#retryLater = db.transaction((deliveryId: string, attempt: number, result: Extract<AttemptResult, { kind: 'retry' }>, at: number, nextAttemptAt: number) => {
      finishAttempt.run(at, 'retry', result.reason, result.response?.status ?? null, redactText(result.error.message), nextAttemptAt, deliveryId, attempt);
      setNextAttempt.run(nextAttemptAt, deliveryId);
    });

    this.#settle = db.transaction((deliveryId: string, outcome: DeliveryOutcome<R>, stripped: readonly string[]) => {
      if (outcome.kind === 'failed') {
        const { event } = outcome;
        const error = encodeError(outcome.error);
        if (outcome.attempts > 0) {
          finishAttempt.run(outcome.settledAt, 'failed', outcome.reason, outcome.response?.status ?? null, error.message, null, deliveryId, outcome.attempts);
        }
        const request = outcome.request === null ? null : encodeRequest(outcome.request);
        moveToDeadLetters.run(
          event.serviceType,
          event.method,
          event.recordId,
          outcome.reason,
          error.name,
          error.message,
          outcome.attempts,
          outcome.response === null ? null : encodeResponse(outcome.response),
          request?.json ?? null,
          request === null ? null : JSON.stringify([...new Set([...request.stripped, ...stripped])]),
          outcome.settledAt,
          deliveryId,
        );
      } else {
        deleteAttempts.run(deliveryId);
      }
      deleteDelivery.run(deliveryId);
    });

    this.#requeue = db.transaction((deliveryIds: readonly string[]) => {
      const rows: PersistedDelivery<R>[] = [];
      for (const deliveryId of deliveryIds) {
        const letter = selectDeadLetter.get(deliveryId);
        if (letter === undefined) continue;
        deleteDeadLetter.run(deliveryId);
        deleteAttempts.run(deliveryId);
        const result = insertDelivery.run(deliveryId, letter.event_id, letter.endpoint, letter.key, letter.accepted_at, letter.event, letter.request, letter.stripped_headers);
        rows.push({
          seq: Number(result.lastInsertRowid),
          deliveryId,
          event: decodeEvent<R>(letter.event),
          endpoint: letter.endpoint,
          key: letter.key,
          acceptedAt: letter.accepted_at,
          request: letter.request === null ? null : decodeRequest(letter.request),
          stripped: parseNames(letter.stripped_headers),
          attempts: 0,
          nextAttemptAt: 0,
        });
      }
      return rows;
    });

    this.#discard = db.transaction((deliveryIds: readonly string[]) => {
      let discarded = 0;
      for (const deliveryId of deliveryIds) {
        const { changes } = deleteDeadLetter.run(deliveryId);
        if (changes === 0) continue;
        discarded += changes;
        deleteAttempts.run(deliveryId);
      }
      return discarded;
    });
  }

  insert(deliveries: readonly NewDelivery<R>[]): readonly { readonly deliveryId: string; readonly seq: number }[] {
    return this.#insert(deliveries);
  }

  load(afterSeq: number, limit: number): readonly PersistedDelivery<R>[] {
    return this.#load.all(afterSeq, limit).map((row) => ({
      seq: row.seq,
      deliveryId: row.delivery_id,
      event: decodeEvent<R>(row.event),
      endpoint: row.endpoint,
      key: row.key,
      acceptedAt: row.accepted_at,
      request: row.request === null ? null : decodeRequest(row.request),
      stripped: parseNames(row.stripped_headers),
      attempts: row.attempts,
      nextAttemptAt: row.next_attempt_at,
    }));
  }

  savePlan(deliveryId: string, request: RequestDescriptor): void {
    const stored = encodeRequest(request);
    this.#savePlan.run(stored.json, JSON.stringify(stored.stripped), deliveryId);
  }

  startAttempt(deliveryId: string, attempt: number, at: number): void {
    this.#startAttempt(deliveryId, attempt, at);
  }

  retryLater(deliveryId: string, attempt: number, result: Extract<AttemptResult, { kind: 'retry' }>, at: number, nextAttemptAt: number): void {
    this.#retryLater(deliveryId, attempt, result, at, nextAttemptAt);
  }

  settle(deliveryId: string, outcome: DeliveryOutcome<R>, stripped: readonly string[]): void {
    this.#settle(deliveryId, outcome, stripped);
  }

  deadLetters(filter: DeadLetterFilter): readonly DeadLetter<R>[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (clause: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      where.push(clause);
      params.push(value);
    };
    if (filter.deliveryIds !== undefined) add('delivery_id IN (SELECT value FROM json_each(?))', JSON.stringify(filter.deliveryIds));
    add('endpoint = ?', filter.endpoint);
    add('service_type = ?', filter.serviceType);
    add('service_method = ?', filter.serviceMethod);
    add('record_id = ?', filter.recordId);
    add('reason = ?', filter.reason);
    add('failed_at >= ?', filter.failedAfter);
    add('failed_at < ?', filter.failedBefore);
    params.push(filter.limit ?? DEFAULT_DEAD_LETTER_LIMIT);
    const rows = this.#db
      .prepare<(string | number)[], DeadLetterRow>(
        `SELECT * FROM dead_letters ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY failed_at, delivery_id LIMIT ?`,
      )
      .all(...params);
    return rows.map((row) => toDeadLetter<R>(row));
  }

  requeue(deliveryIds: readonly string[]): readonly PersistedDelivery<R>[] {
    return this.#requeue(deliveryIds);
  }

  discard(deliveryIds: readonly string[]): number {
    return this.#discard(deliveryIds);
  }

  close(): void {
    if (this.#db.open) {
      this.#db.close();
      log('store (sqlite): closed');
    }
  }
}

function toDeadLetter<R>(row: DeadLetterRow): DeadLetter<R> {
  const response = row.response === null ? null : decodeResponse(row.response);
  return {
    kind: 'failed',
    deliveryId: row.delivery_id,
    event: decodeEvent<R>(row.event),
    endpoint: row.endpoint,
    request: row.request === null ? null : decodeRequest(row.request),
    reason: row.reason as FailureReason,
    error: decodeError({ name: row.error_name, message: row.error_message }, response),
    attempts: row.attempts,
    response,
    acceptedAt: row.accepted_at,
    settledAt: row.failed_at,
  };
}

function parseNames(json: string | null): readonly string[] {
  if (json === null) return [];
  const names: unknown = JSON.parse(json);
  return Array.isArray(names) ? names.filter((name): name is string => typeof name === 'string') : [];
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
