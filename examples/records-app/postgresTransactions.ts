import type { Pool } from 'pg';
import { createPgUnitOfWork } from 'remote-api-provisioner';
import { recordWrites, undoWrites } from './store.js';
import type { StagingUnitOfWork, Transactions } from './unitOfWork.js';

/**
 * The records app's PostgreSQL mode: every operation runs in a transaction of `pool`. At
 * commit its staged writes go to the table `<schema>.app_rows` (the in-memory tables stay the
 * app's read model), the provisioner's hook calls are written by `createPgUnitOfWork` in the
 * same transaction, then it commits: the record change and its deliveries commit or roll back
 * together. With the PostgreSQL store (`createPostgresStore`) nothing committed is lost.
 *
 * @example
 * ```ts
 * await createAppTables(pool, 'records_app');
 * const app = createRecordsApp({ transactions: postgresTransactions(pool, 'records_app') });
 * ```
 */
export function postgresTransactions(pool: Pool, schema: string): Transactions {
  return async (work) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const staged: (() => void)[] = [];
      const uow: ReturnType<typeof createPgUnitOfWork> & StagingUnitOfWork = Object.assign(createPgUnitOfWork(client), {
        stage: (write: () => void) => {
          staged.push(write);
        },
      });
      let result;
      try {
        result = await work(uow);
      } catch (error) {
        await uow.rollback();
        throw error;
      }
      const writes = recordWrites(() => {
        for (const write of staged) write();
      });
      try {
        for (const { table, id, row } of writes) {
          if (row === null) await client.query(`DELETE FROM ${schema}.app_rows WHERE tbl = $1 AND id = $2`, [table, id]);
          else await client.query(`INSERT INTO ${schema}.app_rows (tbl, id, data) VALUES ($1, $2, $3) ON CONFLICT (tbl, id) DO UPDATE SET data = EXCLUDED.data`, [table, id, row]);
        }
        // The hook calls' deliveries are written here, then COMMIT, then the provisioner is woken.
        await uow.commit();
      } catch (error) {
        undoWrites(writes);
        if (uow.state === 'open') await uow.rollback();
        throw error;
      }
      return result;
    } finally {
      client.release();
    }
  };
}

/** Creates the app's table in `schema` (idempotent). */
export async function createAppTables(pool: Pool, schema: string): Promise<void> {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${schema}.app_rows (tbl text NOT NULL, id text NOT NULL, data jsonb NOT NULL, PRIMARY KEY (tbl, id))`);
}
