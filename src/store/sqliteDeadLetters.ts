import type BetterSqlite3 from 'better-sqlite3';
import type { FailureReason } from '../events/outcomes.js';
import { decodeError, decodeEvent, decodeRequest, decodeResponse } from './codec.js';
import { DEFAULT_DEAD_LETTER_LIMIT, type DeadLetter, type DeadLetterFilter } from './deliveryStore.js';

/** A row of the SQLite store's `dead_letters` table. @internal */
export type DeadLetterRow = {
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
 * The SQLite store's dead letters that match a filter, oldest failure first, at most `limit`.
 *
 * @example
 * ```ts
 * selectDeadLetters(db, { reason: 'http-status', limit: 10 });
 * ```
 * @internal
 */
export function selectDeadLetters<R>(db: BetterSqlite3.Database, filter: DeadLetterFilter): readonly DeadLetter<R>[] {
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
  const rows = db
    .prepare<(string | number)[], DeadLetterRow>(
      `SELECT * FROM dead_letters ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY failed_at, delivery_id LIMIT ?`,
    )
    .all(...params);
  return rows.map((row) => toDeadLetter<R>(row));
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

/** The header names stored as a JSON array (those stripped from a request). @internal */
export function parseNames(json: string | null): readonly string[] {
  if (json === null) return [];
  const names: unknown = JSON.parse(json);
  return Array.isArray(names) ? names.filter((name): name is string => typeof name === 'string') : [];
}
