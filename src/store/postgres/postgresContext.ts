/**
 * What the parts of the PostgreSQL store share: pg-boss, the pool, the names of the store's
 * queue, schema and notification channel, and how a piece of work runs in one transaction.
 * @internal
 * @packageDocumentation
 */
import type { PgBoss } from 'pg-boss';
import type { Pool, PoolClient } from 'pg';
import type { PostgresStoreOptions } from './postgresStoreOptions.js';

/** @internal */
export type PostgresContext = {
  readonly boss: PgBoss;
  readonly pool: Pool;
  /** The pg-boss queue, which is also the store's name in its own tables. */
  readonly queue: string;
  readonly schema: string;
  /** The NOTIFY channel of this store: new deliveries, and outcomes for the other instances. */
  readonly channel: string;
  /** This instance's id, in the outcomes it writes. */
  readonly instance: string;
  readonly options: PostgresStoreOptions;
};

/** pg-boss's `db` option: where its statements run. @internal */
export type BossExecutor = { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> };

/** pg-boss's `db` option over a client in a transaction. @internal */
export function executorOf(client: PoolClient): BossExecutor {
  return { executeSql: (text, values) => client.query(text, values) };
}

/**
 * How the store's own bookkeeping transactions begin (settling, retries, moving the outbox):
 * their COMMIT does not wait for the WAL flush. The app's COMMITs, which do, then flush once for
 * all of it instead of queueing behind a flush per delivery batch (3-4 ms a COMMIT while
 * delivering, 1 ms without). Should the database server itself crash, the last such commits
 * may be lost: the deliveries they settled run again under the same delivery ids, an outbox
 * move is made again; nothing committed by the app is lost.
 * @internal
 */
export const BEGIN_UNFLUSHED = 'BEGIN; SET LOCAL synchronous_commit = off';

/** Runs `work` in a transaction of its own on a client of `pool` (one of the store's own: see BEGIN_UNFLUSHED). @internal */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, begin = BEGIN_UNFLUSHED): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** How many jobs a pg-boss command changed (its typings leave the count out; fenced commands change none when the claim was lost). @internal */
export function affectedOf(response: object): number {
  const affected = (response as { readonly affected?: unknown }).affected;
  return typeof affected === 'number' ? affected : 0;
}
