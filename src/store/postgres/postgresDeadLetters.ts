/**
 * The PostgreSQL store's dead-letter table: deliveries that failed for good, moved out of the
 * job table (which frees their lane), listed, requeued and discarded from there.
 * @internal
 * @packageDocumentation
 */
import type { PoolClient } from 'pg';
import type { ProvisionerError } from '../../errors.js';
import { endpointIdOf } from '../../events/deliveryId.js';
import type { FailedOutcome, FailureReason } from '../../events/outcomes.js';
import type { RequestDescriptor } from '../../events/request.js';
import { decodeError, decodeEventText, decodeRequest, decodeResponse, encodeError, encodeRequest, encodeResponse, type StoredError } from '../codec.js';
import type { DeadLetter, DeadLetterFilter } from '../deliveryStore.js';
import { selectDeadLetters } from '../memoryStore.js';
import { jobIdOf } from './jobId.js';
import type { PostgresContext } from './postgresContext.js';
import type { JobData, NewJob } from './postgresJob.js';

/** A row of the dead-letter table. @internal */
export type DeadLetterRow = {
  readonly delivery_id: string;
  readonly endpoint: string;
  readonly lane: string;
  readonly accepted_at: string;
  readonly event: string;
  readonly request: string | null;
  readonly stripped: string[] | null;
  readonly reason: string;
  readonly error: StoredError;
  readonly response: string | null;
  readonly attempts: number;
  readonly failed_at: string;
};

/** How a delivery failed for good. @internal */
export type DeadEnd<R> = {
  readonly kind: 'dead';
  readonly reason: FailureReason;
  readonly error: ProvisionerError;
  readonly request: RequestDescriptor | null;
  readonly response: FailedOutcome<R>['response'];
  readonly attempts: number;
  readonly outcome?: FailedOutcome<R>;
};

/** @internal */
export class PostgresDeadLetters<R> {
  readonly #context: PostgresContext;

  constructor(context: PostgresContext) {
    this.#context = context;
  }

  async list(filter: DeadLetterFilter): Promise<readonly DeadLetter<R>[]> {
    const values: unknown[] = [this.#context.queue];
    const where = ['store = $1'];
    const add = (clause: string, value: unknown): void => {
      values.push(value);
      where.push(clause.replace('?', `$${values.length}`));
    };
    if (filter.deliveryIds !== undefined) add('delivery_id = ANY(?::text[])', [...filter.deliveryIds]);
    if (filter.endpoint !== undefined) add('endpoint = ?', filter.endpoint);
    if (filter.reason !== undefined) add('reason = ?', filter.reason);
    if (filter.failedAfter !== undefined) add('failed_at >= ?', filter.failedAfter);
    if (filter.failedBefore !== undefined) add('failed_at < ?', filter.failedBefore);
    const { rows } = await this.#context.pool.query<DeadLetterRow>(
      `SELECT * FROM ${this.#context.schema}.rap_dead_letter WHERE ${where.join(' AND ')} ORDER BY failed_at, delivery_id`,
      values,
    );
    return selectDeadLetters(
      rows.map((row) => deadLetterOf<R>(row)),
      filter,
    );
  }

  /** Writes a dead letter in the transaction of `client` (its job is deleted there too). */
  async write(client: PoolClient, data: JobData, end: DeadEnd<R>, failedAt: number): Promise<void> {
    const encoded = end.request === null ? null : encodeRequest(end.request);
    await client.query(
      `INSERT INTO ${this.#context.schema}.rap_dead_letter (store, delivery_id, endpoint, lane, accepted_at, event, request, stripped, reason, error, response, attempts, failed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (store, delivery_id) DO UPDATE SET request = EXCLUDED.request, stripped = EXCLUDED.stripped, reason = EXCLUDED.reason,
         error = EXCLUDED.error, response = EXCLUDED.response, attempts = EXCLUDED.attempts, failed_at = EXCLUDED.failed_at`,
      [
        this.#context.queue,
        data.deliveryId,
        data.endpoint,
        data.key,
        data.acceptedAt,
        data.event,
        encoded?.json ?? null,
        encoded?.stripped ?? null,
        end.reason,
        JSON.stringify(encodeError(end.error)),
        end.response === null ? null : encodeResponse(end.response),
        end.attempts,
        failedAt,
      ],
    );
  }

  /**
   * Takes dead letters out of the table, in the order of `deliveryIds`, in the transaction of
   * `client`, their requests back in the plan table: the jobs to insert again.
   */
  async take(client: PoolClient, deliveryIds: readonly string[]): Promise<NewJob[]> {
    const { schema, queue } = this.#context;
    const { rows } = await client.query<DeadLetterRow>(`DELETE FROM ${schema}.rap_dead_letter WHERE store = $1 AND delivery_id = ANY($2::text[]) RETURNING *`, [
      queue,
      [...deliveryIds],
    ]);
    if (rows.length === 0) return [];
    const byId = new Map(rows.map((row) => [row.delivery_id, row]));
    const ordered = deliveryIds.filter((id) => byId.has(id)).map((id) => byId.get(id) as DeadLetterRow);
    const planned = ordered.filter((row) => row.request !== null);
    if (planned.length > 0) {
      await client.query(
        `INSERT INTO ${schema}.rap_plan (store, delivery_id, request, stripped)
         SELECT $1, p.delivery_id, p.request, ARRAY(SELECT jsonb_array_elements_text(p.stripped))
         FROM jsonb_to_recordset($2::jsonb) AS p (delivery_id text, request text, stripped jsonb)
         ON CONFLICT (store, delivery_id) DO UPDATE SET request = EXCLUDED.request, stripped = EXCLUDED.stripped`,
        [queue, JSON.stringify(planned.map((row) => ({ delivery_id: row.delivery_id, request: row.request, stripped: row.stripped ?? [] })))],
      );
    }
    return ordered.map((row): NewJob => {
      const event = decodeEventText(row.event);
      return {
        id: jobIdOf(event.eventId, row.endpoint),
        singletonKey: row.lane,
        group: { id: endpointIdOf(row.endpoint) },
        data: {
          v: 1,
          deliveryId: row.delivery_id,
          endpoint: row.endpoint,
          key: row.lane,
          acceptedAt: Number(row.accepted_at),
          event: row.event,
          ...(row.request === null ? {} : { planned: true as const }),
        },
      };
    });
  }

  async discard(deliveryIds: readonly string[]): Promise<number> {
    if (deliveryIds.length === 0) return 0;
    const { rowCount } = await this.#context.pool.query(`DELETE FROM ${this.#context.schema}.rap_dead_letter WHERE store = $1 AND delivery_id = ANY($2::text[])`, [
      this.#context.queue,
      [...deliveryIds],
    ]);
    return rowCount ?? 0;
  }
}

function deadLetterOf<R>(row: DeadLetterRow): DeadLetter<R> {
  const response = row.response === null ? null : decodeResponse(row.response);
  return {
    kind: 'failed',
    deliveryId: row.delivery_id,
    event: decodeEventText<R>(row.event),
    endpoint: row.endpoint,
    request: row.request === null ? null : decodeRequest(row.request),
    reason: row.reason as FailureReason,
    error: decodeError(row.error, response),
    attempts: row.attempts,
    response,
    acceptedAt: Number(row.accepted_at),
    settledAt: Number(row.failed_at),
  };
}
