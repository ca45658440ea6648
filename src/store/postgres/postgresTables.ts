/**
 * The PostgreSQL store's own tables, beside pg-boss's in the same schema, created on start.
 * @internal
 * @packageDocumentation
 */
import type { Pool } from 'pg';

/** The store's own tables beside pg-boss's: deliveries written in app transactions and not moved into pg-boss yet, requests once planned, dead letters, outcomes for the other instances, the live instances, the next start slot of rate-limited endpoints. @internal */
export async function createTables(pool: Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Instances starting together: one creates, the others wait and find the tables there.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${schema}.remote_api_provisioner`]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS ${schema}.rap_plan (
        store text NOT NULL,
        delivery_id text NOT NULL,
        request text NOT NULL,
        stripped text[] NOT NULL,
        PRIMARY KEY (store, delivery_id)
      );
      CREATE TABLE IF NOT EXISTS ${schema}.rap_dead_letter (
        store text NOT NULL,
        delivery_id text NOT NULL,
        endpoint text NOT NULL,
        lane text NOT NULL,
        accepted_at bigint NOT NULL,
        event text NOT NULL,
        request text,
        stripped text[],
        reason text NOT NULL,
        error jsonb NOT NULL,
        response text,
        attempts integer NOT NULL,
        failed_at bigint NOT NULL,
        PRIMARY KEY (store, delivery_id)
      );
      CREATE INDEX IF NOT EXISTS rap_dead_letter_failed_at ON ${schema}.rap_dead_letter (store, failed_at);
      CREATE TABLE IF NOT EXISTS ${schema}.rap_outcome (
        seq bigserial PRIMARY KEY,
        store text NOT NULL,
        instance text NOT NULL,
        delivery_id text NOT NULL,
        outcome jsonb NOT NULL,
        settled_at bigint NOT NULL
      );
      CREATE INDEX IF NOT EXISTS rap_outcome_store_seq ON ${schema}.rap_outcome (store, seq);
      -- A row of the app's transaction (one delivery's job, about 3 KB) stays in its page,
      -- uncompressed: moved into the TOAST table it cost the transaction about 0.1 ms more.
      CREATE TABLE IF NOT EXISTS ${schema}.rap_outbox (
        store text NOT NULL,
        seq bigserial NOT NULL,
        jobs text NOT NULL,
        PRIMARY KEY (store, seq)
      ) WITH (toast_tuple_target = 8160);
      CREATE TABLE IF NOT EXISTS ${schema}.rap_instance (
        store text NOT NULL,
        instance text NOT NULL,
        seen_at timestamptz NOT NULL,
        PRIMARY KEY (store, instance)
      );
      CREATE TABLE IF NOT EXISTS ${schema}.rap_rate (
        store text NOT NULL,
        endpoint text NOT NULL,
        next_at timestamptz NOT NULL,
        PRIMARY KEY (store, endpoint)
      );
    `);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
