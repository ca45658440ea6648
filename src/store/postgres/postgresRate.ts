/**
 * A rate limit that every instance sharing a PostgreSQL store keeps together: each request
 * start to a rate-limited endpoint reserves the next free slot in one row of the database, and
 * waits for it.
 * @internal
 * @packageDocumentation
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';

/** Reservations answered late, taken again before the start goes ahead late anyway. */
const MAX_RESERVATIONS = 3;

/** How many intervals after it was asked a reservation may be answered and still be used. */
const LATE_INTERVALS = 2;

/**
 * Waits for the next start slot of `endpoint` that every instance keeps to. A reservation
 * answered more than {@link LATE_INTERVALS} intervals after it was asked (a busy database or
 * event loop) may come back after its slot has passed: starting then would crowd the next
 * slots' starts into one second, so such a slot is left unused and another one reserved (a
 * rate can only come out lower). An answer a little late is kept: a start at most that many
 * intervals late adds at most that many starts to a second, where leaving slots unused on a
 * busy machine would bring the rate well under the limit. After {@link MAX_RESERVATIONS} late answers the start goes ahead at the last slot.
 * @internal
 */
export async function waitForStartSlot(pool: Pool, schema: string, store: string, endpoint: string, intervalMs: number, signal: AbortSignal): Promise<void> {
  for (let reservation = 1; ; reservation += 1) {
    const askedAt = performance.now();
    const waitMs = await reserveStart(pool, schema, store, endpoint, intervalMs);
    if (performance.now() - askedAt > LATE_INTERVALS * intervalMs && reservation < MAX_RESERVATIONS && !signal.aborted) continue;
    if (waitMs > 0) await sleep(waitMs, undefined, { signal }).catch(() => undefined);
    return;
  }
}

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
