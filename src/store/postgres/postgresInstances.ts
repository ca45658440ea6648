/**
 * The PostgreSQL store's record of live instances (`rap_instance`, a row per instance; see
 * `liveInstances` for the rule and its timing).
 * @internal
 * @packageDocumentation
 */
import { Heartbeat, INSTANCE_FORGOTTEN_MS, INSTANCE_TTL_MS } from '../liveInstances.js';
import type { PostgresContext } from './postgresContext.js';

/**
 * SQL that is true when an instance of the store other than `instance` was seen within
 * {@link INSTANCE_TTL_MS}. `store` and `instance` are the placeholders of the statement it goes
 * into (`$1`, `$2`). @internal
 */
export function othersAliveSql(schema: string, store: string, instance: string): string {
  return `EXISTS (SELECT 1 FROM ${schema}.rap_instance i WHERE i.store = ${store} AND i.instance <> ${instance} AND i.seen_at > now() - interval '${INSTANCE_TTL_MS} milliseconds')`;
}

/** This instance's row in `rap_instance`: written on open and at every beat (with the rows of crashed instances removed), deleted on close. @internal */
export function postgresHeartbeat(context: PostgresContext): Heartbeat {
  const { pool, schema, queue, instance } = context;
  return new Heartbeat(
    'postgres',
    () =>
      pool.query(
        `WITH gone AS (DELETE FROM ${schema}.rap_instance WHERE store = $1 AND seen_at < now() - interval '${INSTANCE_FORGOTTEN_MS} milliseconds')
         INSERT INTO ${schema}.rap_instance (store, instance, seen_at) VALUES ($1, $2, now())
         ON CONFLICT (store, instance) DO UPDATE SET seen_at = EXCLUDED.seen_at`,
        [queue, instance],
      ),
    () => pool.query(`DELETE FROM ${schema}.rap_instance WHERE store = $1 AND instance = $2`, [queue, instance]),
  );
}
