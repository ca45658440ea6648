/**
 * A rate limit that every instance sharing a PostgreSQL store keeps together: each request
 * start to a rate-limited endpoint reserves the next free slot in one row of the database.
 * @internal
 * @packageDocumentation
 */
import type { Pool } from 'pg';

/**
 * Reserves the next start slot of `endpoint`, `intervalMs` after the last one reserved by any
 * instance (or now, when that is past), and answers how long to wait for it (ms).
 * @internal
 */
export async function reserveStart(pool: Pool, schema: string, store: string, endpoint: string, intervalMs: number): Promise<number> {
  // One statement, one row lock: concurrent reservations queue on the row and each gets its own slot.
  const { rows } = await pool.query<{ wait_ms: number }>(
    `INSERT INTO ${schema}.rap_rate AS rate (store, endpoint, next_at) VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3::float8 / 1000))
     ON CONFLICT (store, endpoint) DO UPDATE SET next_at = GREATEST(rate.next_at, clock_timestamp()) + make_interval(secs => $3::float8 / 1000)
     RETURNING (EXTRACT(EPOCH FROM (next_at - clock_timestamp())) * 1000 - $3::float8)::float8 AS wait_ms`,
    [store, endpoint, intervalMs],
  );
  return Math.max(0, rows[0]?.wait_ms ?? 0);
}
