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

const log = logger('delivery');

type Database = BetterSqlite3.Database;
/** A delivery's progress, encoded, waiting for the next commit. */
type Write = () => void;

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

/**
 * The SQLite tables behind a {@link LocalStore}: deliveries, their attempts and dead letters,
 * written with prepared statements, each change in one transaction.
 * @internal
 */
export class SqlitePersistence<R> implements Persistence<R> {
  readonly found: { readonly count: number; readonly lastSeq: number };
  readonly #db: Database;
  readonly #insert: (deliveries: readonly NewDelivery<R>[]) => { deliveryId: string; seq: number }[];
  readonly #insertOne: (delivery: NewDelivery<R>) => { deliveryId: string; seq: number }[];
  /** Statements of one delivery's progress, each returning the write to run at the next commit. */
  readonly #startAttempt: (deliveryId: string, attempt: number, at: number, planned: RequestDescriptor | null) => Write;
  readonly #retryLater: (deliveryId: string, attempt: number, result: Extract<AttemptResult, { kind: 'retry' }>, at: number, nextAttemptAt: number) => Write;
  readonly #settle: (deliveryId: string, outcome: DeliveryOutcome<R>, stripped: readonly string[]) => Write;
  /** Runs writes in one transaction. */
  readonly #inTransaction: (writes: readonly Write[]) => void;
  /** Writes waiting for the next commit, and the callbacks waiting for it. */
  #writes: Write[] = [];
  #waiting: ((error: unknown) => void)[] = [];
  readonly #requeue: (deliveryIds: readonly string[]) => PersistedDelivery<R>[];
  readonly #discard: (deliveryIds: readonly string[]) => number;
  readonly #load: BetterSqlite3.Statement<[number, number], DeliveryRow>;
  readonly #checkpoints: SqliteCheckpoints;

  constructor(db: Database) {
    this.#db = db;
    this.#checkpoints = new SqliteCheckpoints(db);
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
    const savePlan = db.prepare<[string, string, number, string]>('UPDATE deliveries SET request = ?, stripped_headers = ?, attempts = ? WHERE delivery_id = ?');

    const insertOne = (delivery: NewDelivery<R>, bytes: Buffer): { deliveryId: string; seq: number } | null => {
      const request = delivery.request === null ? null : encodeRequest(delivery.request);
      const result = insertDelivery.run(
        delivery.deliveryId,
        delivery.event.eventId,
        delivery.endpoint,
        delivery.key,
        delivery.acceptedAt,
        bytes,
        request?.json ?? null,
        request === null ? null : JSON.stringify(request.stripped),
      );
      return result.changes > 0 ? { deliveryId: delivery.deliveryId, seq: Number(result.lastInsertRowid) } : null;
    };
    this.#insertOne = (delivery) => {
      const inserted = insertOne(delivery, encodeEvent(delivery.event));
      return inserted === null ? [] : [inserted];
    };
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
        const row = insertOne(delivery, bytes);
        if (row !== null) inserted.push(row);
      }
      return inserted;
    });

    // Encoded when asked for (a value that cannot be encoded fails its caller, not the batch); written at the commit.
    this.#startAttempt = (deliveryId, attempt, at, planned) => {
      const stored = planned === null ? null : encodeRequest(planned);
      return () => {
        if (stored === null) setAttempts.run(attempt, deliveryId);
        else savePlan.run(stored.json, JSON.stringify(stored.stripped), attempt, deliveryId);
        insertAttempt.run(deliveryId, attempt, at);
      };
    };

    this.#retryLater = (deliveryId, attempt, result, at, nextAttemptAt) => {
      const error = redactText(result.error.message);
      return () => {
        finishAttempt.run(at, 'retry', result.reason, result.response?.status ?? null, error, nextAttemptAt, deliveryId, attempt);
        setNextAttempt.run(nextAttemptAt, deliveryId);
      };
    };

    this.#settle = (deliveryId, outcome, stripped) => {
      if (outcome.kind !== 'failed') {
        return () => {
          deleteAttempts.run(deliveryId);
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
          finishAttempt.run(outcome.settledAt, 'failed', outcome.reason, outcome.response?.status ?? null, error.message, null, deliveryId, outcome.attempts);
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

    this.#inTransaction = db.transaction((writes: readonly Write[]) => {
      for (const write of writes) write();
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
    // One delivery is one statement, atomic on its own: no transaction around it (the hook's usual case).
    const only = deliveries.length === 1 ? deliveries[0] : undefined;
    const inserted = only === undefined ? this.#insert(deliveries) : this.#insertOne(only);
    this.#checkpoints.committed();
    return inserted;
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
    if (this.#writes.length === 0) {
      then(null);
      return false;
    }
    this.#waiting.push(then);
    return true;
  }

  /**
   * One transaction for every delivery's progress gathered since the last one (the store
   * commits after the I/O callbacks of one turn of the event loop): a commit costs its WAL
   * frames and system calls however few rows it holds, so that several answers in one turn
   * share one (measured in bench section a, SQLite row).
   */
  commit(): void {
    if (this.#writes.length === 0) return;
    const writes = this.#writes;
    const waiting = this.#waiting;
    this.#writes = [];
    this.#waiting = [];
    let failure: unknown = null;
    try {
      this.#inTransaction(writes);
      this.#checkpoints.committed();
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
    const rows = this.#requeue(deliveryIds);
    this.#checkpoints.committed();
    return rows;
  }

  discard(deliveryIds: readonly string[]): number {
    const discarded = this.#discard(deliveryIds);
    this.#checkpoints.committed();
    return discarded;
  }

  close(): void {
    this.commit();
    this.#checkpoints.stop();
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
