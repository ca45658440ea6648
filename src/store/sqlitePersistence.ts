import type BetterSqlite3 from 'better-sqlite3';
import type { DeliveryOutcome, FailureReason } from '../events/outcomes.js';
import type { RequestDescriptor } from '../events/request.js';
import { messageOf } from '../util/describeValue.js';
import { logger } from '../util/log.js';
import { redactText } from '../util/redact.js';
import { decodeError, decodeEvent, decodeRequest, decodeResponse, encodeError, encodeEvent, encodeRequest, encodeResponse } from './codec.js';
import { DEFAULT_DEAD_LETTER_LIMIT, type AttemptResult, type DeadLetter, type DeadLetterFilter } from './deliveryStore.js';
import type { NewDelivery, PersistedDelivery, Persistence } from './persistence.js';
import { SqliteCheckpoints } from './sqliteCheckpoints.js';
import { IntakeLog, readIntakeMark, type IntakeRecord } from './sqliteIntakeLog.js';
import { parseNames, selectDeadLetters, type DeadLetterRow } from './sqliteDeadLetters.js';

const log = logger('delivery');

type Database = BetterSqlite3.Database;
/** A delivery's progress, encoded, waiting for the next commit. */
type Write = () => void;

/** Journaled deliveries not yet in the database after which they are moved in at once (a caller that never yields). */
const MAX_UNAPPLIED = 1_024;
/** Intake log bytes past which it is cut back after a commit (each cut is a system call). */
const INTAKE_RESET_BYTES = 1024 * 1024;

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

/**
 * The SQLite tables behind a {@link LocalStore} (deliveries, attempts, dead letters) and its intake log.
 * @internal
 */
export class SqlitePersistence<R> implements Persistence<R> {
  readonly found: { readonly count: number; readonly lastSeq: number };
  readonly #db: Database;
  /** What hook calls journal reaches the intake log first, the database with the next commit. */
  readonly #intake: IntakeLog;
  /** Journaled deliveries in the intake log and not yet in the database, oldest first, and their ids. */
  #unapplied: IntakeRecord[] = [];
  readonly #unappliedIds = new Set<string>();
  /** The highest sequence number given out: new deliveries take the next ones. */
  #lastSeq: number;
  readonly #recorded: (deliveryId: string) => boolean;
  /** Moves the unapplied deliveries into the database (inside a transaction). */
  readonly #applyInserts: (records: readonly IntakeRecord[]) => void;
  /** One delivery's progress, encoded now (what cannot be encoded fails its caller, not a commit), written at the next commit. */
  readonly #startAttempt: (deliveryId: string, attempt: number, at: number, planned: RequestDescriptor | null) => Write;
  readonly #retryLater: (deliveryId: string, attempt: number, result: Extract<AttemptResult, { kind: 'retry' }>, at: number, nextAttemptAt: number) => Write;
  readonly #settle: (deliveryId: string, outcome: DeliveryOutcome<R>, stripped: readonly string[]) => Write;
  readonly #inTransaction: (inserts: readonly IntakeRecord[], writes: readonly Write[]) => void;
  /** Writes waiting for the next commit, and the callbacks waiting for it. */
  #writes: Write[] = [];
  #waiting: ((error: unknown) => void)[] = [];
  /** When each attempt in flight started, for its row when it ends without delivering. */
  readonly #startedAt = new Map<string, number>();
  readonly #requeue: (deliveryIds: readonly string[]) => PersistedDelivery<R>[];
  readonly #discard: (deliveryIds: readonly string[]) => number;
  readonly #load: BetterSqlite3.Statement<[number, number], DeliveryRow>;
  readonly #checkpoints: SqliteCheckpoints;

  /**
   * @param intakePath the intake log's file (null: a database in memory).
   * @param sync whether every append to the intake log waits for the disk (`synchronous: 'full'`).
   */
  constructor(db: Database, intakePath: string | null, sync: boolean) {
    this.#db = db;
    // Writes wait while a checkpoint syncs its files: they go on when it has ended.
    this.#checkpoints = new SqliteCheckpoints(db, () => this.commit());

    const insertDelivery = db.prepare<[number, string, string, string, string, number, Buffer, string | null, string | null]>(
      `INSERT OR IGNORE INTO deliveries (seq, delivery_id, event_id, endpoint, key, accepted_at, event, request, stripped_headers)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const selectRecorded = db.prepare<[string], number>('SELECT 1 FROM deliveries WHERE delivery_id = ?').pluck();
    this.#recorded = (deliveryId) => selectRecorded.get(deliveryId) !== undefined;
    const setApplied = db.prepare<[string]>(`UPDATE store_meta SET value = ? WHERE name = 'applied_seq'`);
    this.#applyInserts = (records) => {
      for (const r of records) insertDelivery.run(r.seq, r.deliveryId, r.eventId, r.endpoint, r.key, r.acceptedAt, r.event, r.request, r.stripped);
      const last = records.at(-1);
      if (last !== undefined) setApplied.run(String(last.seq));
    };
    const deleteDelivery = db.prepare<[string]>('DELETE FROM deliveries WHERE delivery_id = ?');
    const deleteAttempts = db.prepare<[string]>('DELETE FROM attempts WHERE delivery_id = ?');
    const setAttempts = db.prepare<[number, string]>('UPDATE deliveries SET attempts = ? WHERE delivery_id = ?');
    // An attempt's row is written when it ends without delivering (a delivered one's would be
    // deleted with its delivery); the one in flight is counted on its delivery's row.
    const finishAttempt = db.prepare<[string, number, number, number, string, string, number | null, string, number | null]>(
      `INSERT OR REPLACE INTO attempts (delivery_id, attempt, started_at, finished_at, result, reason, status, error, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
    const savePlan = db.prepare<[string, string, number, string]>('UPDATE deliveries SET request = ?, stripped_headers = ?, attempts = ? WHERE delivery_id = ?');

    this.#startAttempt = (deliveryId, attempt, at, planned) => {
      const stored = planned === null ? null : encodeRequest(planned);
      this.#startedAt.set(deliveryId, at);
      return () => {
        if (stored === null) setAttempts.run(attempt, deliveryId);
        else savePlan.run(stored.json, JSON.stringify(stored.stripped), attempt, deliveryId);
      };
    };

    this.#retryLater = (deliveryId, attempt, result, at, nextAttemptAt) => {
      const error = redactText(result.error.message);
      const startedAt = this.#takeStartedAt(deliveryId, at);
      return () => {
        finishAttempt.run(deliveryId, attempt, startedAt, at, 'retry', result.reason, result.response?.status ?? null, error, nextAttemptAt);
        setNextAttempt.run(nextAttemptAt, deliveryId);
      };
    };

    this.#settle = (deliveryId, outcome, stripped) => {
      const startedAt = this.#takeStartedAt(deliveryId, outcome.settledAt);
      if (outcome.kind !== 'failed') {
        // Rows of attempts exist only for those that did not deliver: none when the first one did.
        const retried = outcome.kind === 'skipped' || outcome.attempts > 1;
        return () => {
          if (retried) deleteAttempts.run(deliveryId);
          deleteDelivery.run(deliveryId);
        };
      }
      const { event } = outcome;
      const error = encodeError(outcome.error);
      const request = outcome.request === null ? null : encodeRequest(outcome.request);
      const response = outcome.response === null ? null : encodeResponse(outcome.response);
      const strippedNames = request === null ? null : JSON.stringify([...new Set([...request.stripped, ...stripped])]);
      return () => {
        if (outcome.attempts > 0) {
          finishAttempt.run(deliveryId, outcome.attempts, startedAt, outcome.settledAt, 'failed', outcome.reason, outcome.response?.status ?? null, error.message, null);
        }
        moveToDeadLetters.run(
          event.serviceType,
          event.method,
          event.recordId,
          outcome.reason,
          error.name,
          error.message,
          outcome.attempts,
          response,
          request?.json ?? null,
          strippedNames,
          outcome.settledAt,
          deliveryId,
        );
        deleteDelivery.run(deliveryId);
      };
    };

    this.#inTransaction = db.transaction((inserts: readonly IntakeRecord[], writes: readonly Write[]) => {
      this.#applyInserts(inserts);
      for (const write of writes) write();
    });

    this.#requeue = db.transaction((deliveryIds: readonly string[]) => {
      const rows: PersistedDelivery<R>[] = [];
      for (const deliveryId of deliveryIds) {
        const letter = selectDeadLetter.get(deliveryId);
        if (letter === undefined) continue;
        deleteDeadLetter.run(deliveryId);
        deleteAttempts.run(deliveryId);
        // A sequence number of its own: deliveries still in the intake log hold the ones below.
        this.#lastSeq += 1;
        insertDelivery.run(this.#lastSeq, deliveryId, letter.event_id, letter.endpoint, letter.key, letter.accepted_at, letter.event, letter.request, letter.stripped_headers);
        rows.push({
          seq: this.#lastSeq,
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

    // What the intake log holds above the database's mark was journaled but not yet moved in.
    const meta = readIntakeMark(db);
    this.#intake = IntakeLog.open(intakePath, meta.storeId, sync);
    const recovered = this.#intake.takeRecords().filter((record) => record.seq > meta.appliedSeq);
    if (recovered.length > 0) {
      this.#db.transaction(() => this.#applyInserts(recovered))();
      log('store (sqlite): %d journaled deliveries moved in from the intake log', recovered.length);
    }
    this.#intake.reset();
    const found = db.prepare('SELECT count(*) AS count, coalesce(max(seq), 0) AS lastSeq FROM deliveries').get() as { count: number; lastSeq: number };
    this.found = found;
    this.#lastSeq = Math.max(found.lastSeq, meta.appliedSeq, recovered.at(-1)?.seq ?? 0);
  }

  /**
   * Appends the deliveries not recorded yet to the intake log with one write, and answers at
   * once: the database takes them in with the next commit (the store's, after the caller's
   * turn), or now when many have gathered without one.
   */
  insert(deliveries: readonly NewDelivery<R>[]): readonly { readonly deliveryId: string; readonly seq: number }[] {
    const records: IntakeRecord[] = [];
    const ids = new Set<string>();
    const encoded = new Map<string, Buffer>();
    let seq = this.#lastSeq;
    for (const delivery of deliveries) {
      const { deliveryId, event } = delivery;
      if (ids.has(deliveryId) || this.#unappliedIds.has(deliveryId) || this.#recorded(deliveryId)) continue;
      ids.add(deliveryId);
      let bytes = encoded.get(event.eventId);
      if (bytes === undefined) {
        bytes = encodeEvent(event);
        encoded.set(event.eventId, bytes);
      }
      const request = delivery.request === null ? null : encodeRequest(delivery.request);
      seq += 1;
      records.push({
        seq,
        deliveryId,
        eventId: event.eventId,
        endpoint: delivery.endpoint,
        key: delivery.key,
        acceptedAt: delivery.acceptedAt,
        event: bytes,
        request: request?.json ?? null,
        stripped: request === null ? null : JSON.stringify(request.stripped),
      });
    }
    if (records.length === 0) return [];
    this.#intake.append(records);
    this.#lastSeq = seq;
    for (const record of records) {
      this.#unapplied.push(record);
      this.#unappliedIds.add(record.deliveryId);
    }
    // Journaled already (the log has them): a database that cannot take them now gets them with the next commit.
    if (this.#unapplied.length >= MAX_UNAPPLIED) {
      try {
        this.#applyNow();
      } catch (error) {
        log('store (sqlite): %d journaled deliveries wait in the intake log: %s', this.#unapplied.length, messageOf(error));
      }
    }
    return records.map((record) => ({ deliveryId: record.deliveryId, seq: record.seq }));
  }

  /** When the attempt in flight of `deliveryId` started (`fallback`: it started before this process). */
  #takeStartedAt(deliveryId: string, fallback: number): number {
    const startedAt = this.#startedAt.get(deliveryId) ?? fallback;
    this.#startedAt.delete(deliveryId);
    return startedAt;
  }

  /** Moves the unapplied deliveries into the database on their own (no progress writes, no callbacks). */
  #applyNow(): void {
    if (this.#unapplied.length === 0) return;
    this.#checkpoints.settleNow();
    this.#db.transaction(() => this.#applyInserts(this.#unapplied))();
    this.#applied();
  }

  /** The unapplied deliveries and `writes` more are in the database: the intake log may be cut back. */
  #applied(writes = 0): void {
    this.#checkpoints.committed(this.#unapplied.length + writes);
    this.#unapplied = [];
    this.#unappliedIds.clear();
    if (this.#intake.bytes >= INTAKE_RESET_BYTES) this.#intake.reset();
  }

  load(afterSeq: number, limit: number): readonly PersistedDelivery<R>[] {
    // Deliveries wait on disk when memory is full: the ones still in the intake log too.
    this.#applyNow();
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

  startAttempt(deliveryId: string, attempt: number, at: number, planned: RequestDescriptor | null): void {
    this.#writes.push(this.#startAttempt(deliveryId, attempt, at, planned));
  }

  retryLater(deliveryId: string, attempt: number, result: Extract<AttemptResult, { kind: 'retry' }>, at: number, nextAttemptAt: number): void {
    this.#writes.push(this.#retryLater(deliveryId, attempt, result, at, nextAttemptAt));
  }

  settle(deliveryId: string, outcome: DeliveryOutcome<R>, stripped: readonly string[]): void {
    this.#writes.push(this.#settle(deliveryId, outcome, stripped));
  }

  afterWrites(then: (error: unknown) => void): boolean {
    if (this.#writes.length === 0 && this.#unapplied.length === 0) {
      then(null);
      return false;
    }
    this.#waiting.push(then);
    return true;
  }

  /**
   * One transaction for every delivery's progress gathered since the last one (after the I/O
   * callbacks of one turn of the event loop; later while a checkpoint syncs): a commit costs
   * its WAL frames and system calls however few rows it holds (bench section a, SQLite row).
   */
  commit(): void {
    if ((this.#writes.length === 0 && this.#unapplied.length === 0) || !this.#checkpoints.writable) return;
    const writes = this.#writes;
    const waiting = this.#waiting;
    this.#writes = [];
    this.#waiting = [];
    let failure: unknown = null;
    try {
      this.#inTransaction(this.#unapplied, writes);
      this.#applied(writes.length);
    } catch (error) {
      failure = error;
      log('store (sqlite): %d writes rolled back: %s', writes.length, messageOf(error));
    }
    for (const then of waiting) {
      try {
        then(failure);
      } catch (error) {
        // One delivery's follow-up failing must not strand the others of the commit.
        log('store (sqlite): a step after a commit threw: %s', messageOf(error));
      }
    }
  }

  deadLetterCount(): number {
    return this.#db.prepare<[], { readonly count: number }>('SELECT COUNT(*) AS count FROM dead_letters').get()?.count ?? 0;
  }

  deadLetters(filter: DeadLetterFilter): readonly DeadLetter<R>[] {
    return selectDeadLetters<R>(this.#db, filter);
  }

  requeue(deliveryIds: readonly string[]): readonly PersistedDelivery<R>[] {
    return this.#checkpoints.written(() => this.#requeue(deliveryIds), (rows) => rows.length);
  }

  discard(deliveryIds: readonly string[]): number {
    return this.#checkpoints.written(() => this.#discard(deliveryIds), (discarded) => discarded);
  }

  close(): void {
    this.#checkpoints.settleNow();
    this.commit();
    this.#checkpoints.stop();
    if (this.#unapplied.length === 0) this.#intake.reset();
    this.#intake.close();
    if (this.#db.open) {
      this.#db.close();
      log('store (sqlite): closed');
    }
    this.#checkpoints.close();
  }
}
