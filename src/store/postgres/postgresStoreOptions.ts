/**
 * The app's `pg.Pool`, typed by what the store needs of it, so that the package's types do not
 * require `@types/pg` of apps that use another store; a `pg.Pool` is one.
 *
 * @example
 * ```ts
 * const pool: PostgresPool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * ```
 */
export type PostgresPool = {
  /** Runs one statement on any connection of the pool. */
  query(text: string, values?: unknown[]): Promise<unknown>;
  /** Checks a connection out (the store's LISTEN, its own transactions). */
  connect(): Promise<unknown>;
  /** The connections it holds: what tells a pool from a single client. */
  readonly totalCount: number;
};

/**
 * Options of {@link createPostgresStore}: the same database, `schema` and `name` in every instance
 * that shares the work.
 *
 * @example
 * ```ts
 * const options: PostgresStoreOptions = { pool, name: 'search-index', lockDurationMs: 30_000 };
 * createProvisioner({ events, store: await createPostgresStore(options) });
 * ```
 */
export type PostgresStoreOptions = {
  /** The database, when no `pool` is given. @default process.env.DATABASE_URL, else 'postgres://127.0.0.1:5432/postgres' */
  readonly connectionString?: string;
  /** The app's `pg.Pool`: the store queries through it (and holds one of its connections for LISTEN). It is not ended on `close()`. */
  readonly pool?: PostgresPool;
  /** The name of this store's queue: several provisioners share a database under different names. @default 'deliveries' */
  readonly name?: string;
  /** The schema of pg-boss's tables and the store's own (created on start). @default 'remote_api_provisioner' */
  readonly schema?: string;
  /**
   * How long a delivery in flight stays locked to its instance: when the instance dies, another
   * one takes the delivery over after this long. It also bounds one attempt (plan, request and
   * settling), which must end within it. Whole seconds, at least 1 s. @default 30000
   */
  readonly lockDurationMs?: number;
  /** Deliveries this instance journaled (outside an app transaction) and has not seen settled, at most; past it `journal` answers `overflow`. @default 10000 */
  readonly maxQueue?: number;
  /** Deliveries of different (endpoint, record) lanes in flight at once in this instance, per endpoint: a slow or paused endpoint holds only its own. @default handlers' concurrency, else 16 */
  readonly concurrency?: number;
  /** How long a failing journal write is tried again before its deliveries end as `failed` (reason `network`). @default 30000 */
  readonly journalRetryMs?: number;
  /** How often workers look for due deliveries without a notification (retries coming due, missed notifications). @default 1000 */
  readonly pollIntervalMs?: number;
  /** How often `drain()` counts the unsettled deliveries; it counts at once when the last delivery in flight here ends. @default 50 */
  readonly drainPollMs?: number;
  /**
   * How long outcomes stay in the outcome table for the other instances. Up to an hour (as long
   * as pg-boss keeps a completed job), the outcome of a completed job names the job instead of
   * repeating its event. @default 600000
   */
  readonly outcomeRetentionMs?: number;
};
