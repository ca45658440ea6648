/**
 * How the PostgreSQL store ends deliveries: each in one transaction with its outcome, and the
 * deliveries that end while a settling transaction runs together in the next one (one COMMIT
 * for many: with 16 deliveries in flight, commits were the store's bottleneck).
 * @internal
 * @packageDocumentation
 */
import type { PoolClient } from 'pg';
import type { DeliveryOutcome } from '../../events/outcomes.js';
import type { ServiceEvent } from '../../events/serviceEvent.js';
import { storeOutcome } from '../storedOutcome.js';
import { affectedOf, executorOf, inTransaction, type PostgresContext } from './postgresContext.js';
import type { DeadEnd, PostgresDeadLetters } from './postgresDeadLetters.js';
import { COMPLETED_JOB_RETENTION_SECONDS, decodeEventOrNull, type Claim, type JobData } from './postgresJob.js';
import { othersAliveSql } from './postgresInstances.js';
import { OUTCOME_RETENTION_MS, outcomeRow } from './postgresOutcomeTable.js';

/** How a delivery ends: settled (delivered, skipped) or a dead letter. @internal */
export type DeliveryEnd<R> = { readonly kind: 'settled'; readonly outcome: DeliveryOutcome<R> } | DeadEnd<R>;

/** A delivery that ended, and the job it completed (for a row that names it). */
type Ended<R> = { readonly data: JobData; readonly outcome: DeliveryOutcome<R>; readonly completedJob?: string };

type Settling<R> = { readonly claim: Claim; readonly data: JobData; readonly outcome: DeliveryOutcome<R>; readonly done: (kept: boolean) => void; readonly failed: (error: unknown) => void };

/**
 * Ends deliveries: the job completed (or, for a dead letter, moved to the dead-letter table,
 * which frees its lane), its plan removed, its outcome written for the other instances with a
 * NOTIFY. Nothing is kept when the claim was lost (the instance was too slow and another one
 * took the delivery over).
 * @internal
 */
export class PostgresSettler<R> {
  readonly #context: PostgresContext;
  readonly #deadLetters: PostgresDeadLetters<R>;
  /** Outcome rows of completed jobs name the job (pg-boss keeps it at least as long as the outcome table keeps the row). */
  readonly #rowsNameJobs: boolean;
  /** Whether another instance was alive at the last settling: outcome rows are made for it in advance. */
  #othersAlive = true;
  #waiting: Settling<R>[] = [];
  #running = false;

  /** Whether this instance journaled a delivery (and so needs no outcome row to learn it settled). */
  readonly #journaledHere: (deliveryId: string) => boolean;

  constructor(context: PostgresContext, deadLetters: PostgresDeadLetters<R>, journaledHere: (deliveryId: string) => boolean) {
    this.#context = context;
    this.#deadLetters = deadLetters;
    this.#journaledHere = journaledHere;
    this.#rowsNameJobs = (context.options.outcomeRetentionMs ?? OUTCOME_RETENTION_MS) <= COMPLETED_JOB_RETENTION_SECONDS * 1_000;
  }

  /** Ends a delivery; resolves with its outcome once committed, or `null` when its claim was lost. */
  async settle(claim: Claim, data: JobData, end: DeliveryEnd<R>): Promise<DeliveryOutcome<R> | null> {
    if (end.kind === 'dead') {
      const outcome = end.outcome ?? failedOutcomeOf(data, end);
      const kept = await inTransaction(this.#context.pool, async (client) => {
        if (affectedOf(await this.#context.boss.deleteJob(this.#context.queue, claim, { db: executorOf(client) })) === 0) return false;
        await this.#deadLetters.write(client, data, end, outcome.settledAt);
        await this.#closeOut(client, [{ data, outcome }]);
        return true;
      });
      return kept ? outcome : null;
    }
    const outcome = end.outcome;
    const kept = await new Promise<boolean>((done, failed) => {
      this.#waiting.push({ claim, data, outcome, done, failed });
      if (!this.#running) void this.#completeWaiting();
    });
    return kept ? outcome : null;
  }

  /** Completes every delivery waiting, in one transaction, while any wait. */
  async #completeWaiting(): Promise<void> {
    this.#running = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0);
        try {
          const kept = await inTransaction(this.#context.pool, async (client) => {
            const ids = await this.#complete(client, batch.map((item) => item.claim));
            const settled = batch.filter((item) => ids.has(item.claim.id));
            await this.#closeOut(client, settled.map(({ claim, data, outcome }) => ({ data, outcome, completedJob: claim.id })));
            return ids;
          });
          for (const item of batch) item.done(kept.has(item.claim.id));
        } catch (error) {
          for (const item of batch) item.failed(error);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** Completes the jobs of `claims` (fenced to their attempts): the ids completed, not those whose claim was lost. */
  async #complete(client: PoolClient, claims: readonly Claim[]): Promise<Set<string>> {
    const db = executorOf(client);
    const completed = await this.#context.boss.complete(this.#context.queue, [...claims], null, { db });
    const settled = (completed as { readonly settled?: unknown }).settled;
    if (Array.isArray(settled)) return new Set(settled.map(String));
    // A pg-boss whose answer has no ids: all of them, or those this transaction completed.
    if (affectedOf(completed) === claims.length) return new Set(claims.map((claim) => claim.id));
    const { rows } = await client.query<{ id: string }>(`SELECT id::text AS id FROM ${this.#context.schema}.job WHERE name = $1 AND id = ANY($2::uuid[]) AND state = 'completed'`, [
      this.#context.queue,
      claims.map((claim) => claim.id),
    ]);
    return new Set(rows.map((row) => row.id));
  }

  /**
   * Removes the plans of ended deliveries and writes their outcomes, with one NOTIFY, in one
   * statement. The outcome of a completed job names the job instead of repeating its event
   * (a third of the row): the readers take the event from the job, which pg-boss keeps longer
   * than the outcome table keeps the row. An outcome row is for the other instances: it is
   * written when one of them is alive (`rap_instance`, read in the same statement, so an
   * instance that registered before the delivery was fetched is counted), or when the delivery
   * was journaled elsewhere (its instance, alive or started again, counts it settled).
   */
  async #closeOut(client: PoolClient, ended: readonly Ended<R>[]): Promise<void> {
    if (ended.length === 0) return;
    const { schema, queue, instance } = this.#context;
    // An outcome row is made in JavaScript only when it may be written: the statement checks
    // whether another instance is alive, and the rows the guess left out are written after it.
    const guess = this.#othersAlive;
    const rows = ended.map((item) => ({ item, elsewhere: !this.#journaledHere(item.data.deliveryId) }));
    const deliveryIds = ended.map(({ data }) => data.deliveryId);
    const answer = await client.query<{ others: boolean }>(
      `WITH ended AS (
         SELECT e->>'delivery_id' AS delivery_id, e->'outcome' AS outcome, (e->>'settled_at')::bigint AS settled_at, (e->>'elsewhere')::boolean AS elsewhere, n
         FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS t (e, n)
       ), others AS (
         SELECT ${othersAliveSql(schema, '$1', '$2')} AS alive
       ), unplanned AS (
         DELETE FROM ${schema}.rap_plan WHERE store = $1 AND delivery_id = ANY($6::text[])
       ), written AS (
         INSERT INTO ${schema}.rap_outcome (store, instance, delivery_id, outcome, settled_at)
         SELECT $1, $2, delivery_id, outcome, settled_at FROM ended WHERE elsewhere OR (SELECT alive FROM others) ORDER BY n
         RETURNING 1
       )
       SELECT (SELECT alive FROM others) AS others, (SELECT pg_notify($4, $5) WHERE EXISTS (SELECT 1 FROM written)) AS notified`,
      [queue, instance, this.#outcomeRows(rows.filter((row) => guess || row.elsewhere)), this.#context.channel, `outcome:${instance}`, deliveryIds],
    );
    const others = answer.rows[0]?.others === true;
    this.#othersAlive = others;
    // Another instance came: the outcomes the guess left out are written for it too.
    const left = rows.filter((row) => !row.elsewhere);
    if (!others || guess || left.length === 0) return;
    await client.query(
      `WITH written AS (
         INSERT INTO ${schema}.rap_outcome (store, instance, delivery_id, outcome, settled_at)
         SELECT $1, $2, e->>'delivery_id', e->'outcome', (e->>'settled_at')::bigint FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS t (e, n) ORDER BY n
         RETURNING 1
       )
       SELECT pg_notify($4, $5) WHERE EXISTS (SELECT 1 FROM written)`,
      [queue, instance, this.#outcomeRows(left), this.#context.channel, `outcome:${instance}`],
    );
  }

  /** The outcome rows of these deliveries (and whether each was journaled elsewhere), as the JSON the statements take. */
  #outcomeRows(rows: readonly { readonly item: Ended<R>; readonly elsewhere: boolean }[]): string {
    return JSON.stringify(
      rows.map(({ item: { data, outcome, completedJob }, elsewhere }) => ({
        delivery_id: data.deliveryId,
        outcome: this.#rowsNameJobs && completedJob !== undefined ? outcomeRow(outcome, completedJob) : storeOutcome(outcome, data.event),
        settled_at: outcome.settledAt,
        elsewhere,
      })),
    );
  }
}

function failedOutcomeOf<R>(data: JobData, end: DeadEnd<R>): DeliveryOutcome<R> {
  return {
    kind: 'failed',
    event: decodeEventOrNull<R>(data.event) ?? ({ eventId: data.deliveryId } as unknown as ServiceEvent<R>),
    endpoint: data.endpoint,
    request: end.request,
    reason: end.reason,
    error: end.error,
    attempts: end.attempts,
    response: end.response,
    acceptedAt: data.acceptedAt,
    settledAt: Date.now(),
  };
}
