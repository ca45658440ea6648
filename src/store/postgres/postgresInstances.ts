/**
 * The PostgreSQL store's live instances: each writes a row into `rap_instance` when it opens
 * and again every few seconds, and removes it when it closes. A settling instance writes outcome
 * rows (and their NOTIFY) for the others only when another instance was seen lately, or when the
 * delivery was journaled elsewhere: a lone instance, the usual deployment, writes none.
 * @internal
 * @packageDocumentation
 */
import { messageOf } from '../../util/describeValue.js';
import { logger } from '../../util/log.js';
import type { PostgresContext } from './postgresContext.js';

const log = logger('delivery');

/** How often an instance says it is alive (ms). */
const HEARTBEAT_MS = 5_000;

/**
 * How long an instance counts as alive after it last said so (seconds): six heartbeats, so that
 * a busy pool or a reconnect does not make the others stop writing its outcomes.
 */
export const INSTANCE_TTL_SECONDS = 30;

/**
 * SQL that is true when an instance of the store other than `$instance` was seen within
 * {@link INSTANCE_TTL_SECONDS}. `store` and `instance` are the placeholders of the statement
 * it goes into (`$1`, `$2`). @internal
 */
export function othersAliveSql(schema: string, store: string, instance: string): string {
  return `EXISTS (SELECT 1 FROM ${schema}.rap_instance i WHERE i.store = ${store} AND i.instance <> ${instance} AND i.seen_at > now() - interval '${INSTANCE_TTL_SECONDS} seconds')`;
}

/** This instance's row in `rap_instance`, written on open and every {@link HEARTBEAT_MS}, removed on close. @internal */
export class PostgresInstances {
  readonly #context: PostgresContext;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(context: PostgresContext) {
    this.#context = context;
  }

  /** Says this instance is alive before it journals or reads anything, then keeps saying so. */
  async open(): Promise<void> {
    await this.#heartbeat();
    this.#timer = setInterval(() => {
      this.#heartbeat().catch((error: unknown) => log('store (postgres): could not say this instance is alive: %s', messageOf(error)));
    }, HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Stops saying so and removes the row (best effort: a row left behind counts for {@link INSTANCE_TTL_SECONDS} only). */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    const { pool, schema, queue, instance } = this.#context;
    await pool
      .query(`DELETE FROM ${schema}.rap_instance WHERE store = $1 AND instance = $2`, [queue, instance])
      .catch((error: unknown) => log('store (postgres): could not remove this instance\'s row: %s', messageOf(error)));
  }

  /** Writes this instance's row and removes those not seen for an hour (instances that crashed). */
  async #heartbeat(): Promise<void> {
    const { pool, schema, queue, instance } = this.#context;
    await pool.query(
      `WITH gone AS (DELETE FROM ${schema}.rap_instance WHERE store = $1 AND seen_at < now() - interval '1 hour')
       INSERT INTO ${schema}.rap_instance (store, instance, seen_at) VALUES ($1, $2, now())
       ON CONFLICT (store, instance) DO UPDATE SET seen_at = EXCLUDED.seen_at`,
      [queue, instance],
    );
  }
}
