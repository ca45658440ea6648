/**
 * `createPostgresStore`: the transactional outbox on pg-boss 12.
 * @packageDocumentation
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { ProvisionerError } from '../../errors.js';
import { isConnectionPool } from '../../hooks/outboxUnitOfWork.js';
import type { AppRecord } from '../../events/serviceEvent.js';
import { describeValue, messageOf } from '../../util/describeValue.js';
import { logger } from '../../util/log.js';
import { redactUrl } from '../../util/redact.js';
import type { DeliveryStore } from '../deliveryStore.js';
import { positiveInteger } from '../memoryStore.js';
import { bossDatabase, PgListener } from './pgConnection.js';
import type { PostgresContext } from './postgresContext.js';
import { COMPLETED_JOB_RETENTION_SECONDS, INTERRUPTED_RETRY_SECONDS, RETRY_LIMIT } from './postgresJob.js';
import { PostgresSharedStore } from './postgresSharedStore.js';
import type { PostgresStoreOptions } from './postgresStoreOptions.js';
import { createTables } from './postgresTables.js';

export type { PostgresStoreOptions } from './postgresStoreOptions.js';

const log = logger('delivery');

type PgModule = typeof import('pg');
type BossModule = typeof import('pg-boss');

/**
 * The transactional outbox: a store in the app's own PostgreSQL database, on pg-boss 12 (`pg`
 * and `pg-boss` are optional dependencies to install beside this library). With
 * `createPgUnitOfWork(client)` (or `createExecutorUnitOfWork` for Kysely, Knex, Drizzle) the
 * hooks' deliveries are written in the app's transaction, so they commit or roll back with the
 * record and nothing committed is lost; without it `journal` writes them just after the
 * commit, like the other stores (buffered: `flush()` resolves when they are written).
 *
 * Each delivery is a job of one `key_strict_fifo` queue whose key is its (endpoint, record)
 * lane: a lane runs one delivery at a time, in journal order, across every instance, while a
 * delivery in flight or waiting for its retry holds it; other lanes run concurrently. A retry
 * waits at the head of its lane; a delivery that fails for good moves to the store's dead-letter
 * table and frees its lane. A delivery whose instance died is taken over after
 * `lockDurationMs`. Outcomes go to an outcome table (with a NOTIFY), so every instance's
 * `outcomes$` sees them all. `start()` creates or migrates the schema (pg-boss's own migrations
 * under its advisory lock, then the store's tables under another), so instances may start
 * together.
 *
 * @throws {@link ProvisionerError} when pg or pg-boss cannot be loaded, or when the database does not
 *   answer or cannot be migrated.
 *
 * @example
 * ```ts
 * const store = await createPostgresStore({ pool, name: 'search-index' });
 * const provisioner = createProvisioner({ events, store });
 * const client = await pool.connect();
 * const uow = createPgUnitOfWork(client);
 * try {
 *   await client.query('BEGIN');
 *   await client.query('UPDATE records SET data = $2 WHERE id = $1', [record.id, record]);
 *   provisioner.hooks('rdm_record').publish({ identity, record, uow });
 *   await uow.commit();
 * } catch (error) {
 *   await uow.rollback();
 *   throw error;
 * } finally {
 *   client.release();
 * }
 * ```
 */
export async function createPostgresStore<R = AppRecord>(options: PostgresStoreOptions = {}): Promise<DeliveryStore<R>> {
  const lockDurationMs = positiveInteger('lockDurationMs', options.lockDurationMs ?? 30_000);
  const name = options.name ?? 'deliveries';
  const schema = options.schema ?? 'remote_api_provisioner';
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(schema)) {
    throw new ProvisionerError(`Expected the postgres store's schema to be a lower-case SQL name (letters, digits, _; at most 41 characters), got ${JSON.stringify(schema)}`);
  }
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
    throw new ProvisionerError(`Expected the postgres store's name to be 1 to 100 letters, digits, '_', '.' or '-', got ${JSON.stringify(name)}`);
  }
  // Checked here, not when the provisioner starts the store (an error there has no caller to reach).
  for (const option of ['maxQueue', 'concurrency', 'journalRetryMs', 'pollIntervalMs', 'drainPollMs', 'outcomeRetentionMs'] as const) {
    const value = options[option];
    if (value !== undefined) positiveInteger(option, value);
  }
  if (options.pool !== undefined) expectPool(options.pool);
  const [pg, boss] = await Promise.all([loadOptional<PgModule>('pg', () => import('pg')), loadOptional<BossModule>('pg-boss', () => import('pg-boss'))]);
  const ownPool = options.pool === undefined;
  const connectionString = options.connectionString ?? process.env['DATABASE_URL'] ?? 'postgres://127.0.0.1:5432/postgres';
  // A pg.Pool (checked above): typed structurally in the options only.
  const pool: Pool = (options.pool as Pool | undefined) ?? new (pg.default?.Pool ?? pg.Pool)({ connectionString, max: 20 });
  if (ownPool) pool.on('error', (error: Error) => log('store (postgres): idle connection error: %s', error.message));
  const listener = new PgListener(pool);
  const expireInSeconds = Math.max(1, Math.ceil(lockDurationMs / 1_000));
  const instance = new boss.PgBoss({
    db: bossDatabase(pool),
    schema,
    schedule: false,
    registerInstance: false,
    // pg-boss expires a dead instance's jobs in its monitor pass: run it often enough to honour lockDurationMs.
    superviseIntervalSeconds: Math.max(1, Math.min(60, Math.floor(expireInSeconds / 2))),
    monitorIntervalSeconds: Math.max(1, Math.min(60, Math.floor(expireInSeconds / 2))),
  });
  instance.on('error', (error: Error) => log('store (postgres): pg-boss: %s', error.message));
  try {
    await instance.start();
    await instance.createQueue(name, {
      policy: 'key_strict_fifo',
      expireInSeconds,
      retryLimit: RETRY_LIMIT,
      retryDelay: INTERRUPTED_RETRY_SECONDS,
      deleteAfterSeconds: COMPLETED_JOB_RETENTION_SECONDS,
    });
    await createTables(pool, schema);
  } catch (error) {
    await instance.stop({ graceful: false, close: false }).catch(() => undefined);
    await listener.close();
    if (ownPool) await pool.end().catch(() => undefined);
    const where = options.pool === undefined ? redactUrl(connectionString) : 'the given pool';
    throw new ProvisionerError(`Expected PostgreSQL (${where}) to take the postgres store's schema ${schema}, it did not: ${messageOf(error)}`, { cause: error });
  }
  const channel = `rap_${createHash('sha256').update(`${schema}.${name}`).digest('hex').slice(0, 24)}`;
  const context: PostgresContext = { boss: instance, pool, queue: name, schema, channel, instance: randomBytes(9).toString('base64url'), options };
  const store = new PostgresSharedStore<R>({ context, listener, ownPool });
  await store.open();
  return store;
}

async function loadOptional<M>(name: string, load: () => Promise<M>): Promise<M> {
  try {
    return await load();
  } catch (error) {
    throw new ProvisionerError(`Expected the optional dependency ${name} to be installed for the PostgreSQL store, but loading it failed: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Refuses a `pool` that is not a `pg.Pool`: a connection string belongs in `connectionString`,
 * and a single connected `pg.Client` cannot serve the store's queries, its LISTEN and its moves
 * at once.
 */
function expectPool(pool: unknown): void {
  if (isConnectionPool(pool)) return;
  const candidate = pool as { readonly query?: unknown } | null;
  const found =
    typeof pool === 'string'
      ? 'a string (a connection string goes in connectionString)'
      : typeof candidate === 'object' && candidate !== null && typeof candidate.query === 'function'
        ? 'a client, not a pool (one connection cannot serve the store)'
        : describeValue(pool);
  throw new ProvisionerError(`Expected the postgres store's pool to be a pg.Pool (new pg.Pool({ connectionString })), got ${found}`);
}
