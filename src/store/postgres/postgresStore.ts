import { createHash, randomBytes } from 'node:crypto';
import type { Job, PgBoss } from 'pg-boss';
import type { Pool, PoolClient } from 'pg';
import { Subject, type Observable } from 'rxjs';
import { deliveryKey } from '../../events/deliveryKey.js';
import { ClosedError, NetworkError, OverflowError, PayloadError, ProvisionerError } from '../../errors.js';
import type { DeliveryOutcome, FailedOutcome, FailureReason, RequestPlan } from '../../events/outcomes.js';
import type { RequestDescriptor } from '../../events/request.js';
import type { AppRecord, ServiceEvent } from '../../events/serviceEvent.js';
import { currentOutboxTransaction, type OutboxSink, type SqlExecutor } from '../../hooks/outboxUnitOfWork.js';
import { logger } from '../../util/log.js';
import { redactUrl } from '../../util/redact.js';
import { decodeError, decodeEvent, decodeRequest, decodeResponse, encodeError, encodeEvent, encodeRequest, encodeResponse, restoreRequest, type StoredError } from '../codec.js';
import { deliveryIdOf } from '../../events/deliveryId.js';
import type {
  AttemptResult,
  DeadLetter,
  DeadLetterFilter,
  DeliveryHandlers,
  DeliveryStore,
  JournalEntry,
  JournalResult,
  StoreCloseOptions,
  StoreOutcome,
  StoredDelivery,
} from '../deliveryStore.js';
import { firstValue } from '../firstOf.js';
import { positiveInteger, selectDeadLetters } from '../memoryStore.js';
import { jobIdOf } from './jobId.js';
import { bossDatabase, PgListener } from './pgConnection.js';
import { loadOutcome, storeOutcome, type StoredOutcome } from './storedOutcome.js';

const log = logger('delivery');

/**
 * Options of {@link createPostgresStore}: the same database, `schema` and `name` in every
 * instance that shares the work.
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
  readonly pool?: Pool;
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
  /** Deliveries of different (endpoint, record) lanes in flight at once in this instance. @default handlers' concurrency, else 16 */
  readonly concurrency?: number;
  /** How long a failing journal write is tried again before its deliveries end as `failed` (reason `network`). @default 30000 */
  readonly journalRetryMs?: number;
  /** How often workers look for due deliveries without a notification (retries coming due, missed notifications). @default 1000 */
  readonly pollIntervalMs?: number;
  /** How often `drain()` counts the unsettled deliveries. @default 50 */
  readonly drainPollMs?: number;
  /** How long outcomes stay in the outcome table for the other instances. @default 600000 */
  readonly outcomeRetentionMs?: number;
};

type PgModule = typeof import('pg');
type BossModule = typeof import('pg-boss');

/** What a job carries: the delivery and its event. Its request, once planned, is in the plan table. */
type JobData = {
  readonly v: 1;
  readonly deliveryId: string;
  readonly endpoint: string;
  readonly key: string;
  readonly acceptedAt: number;
  /** The event, V8-serialized, base64. */
  readonly event: string;
};

type NewJob = { readonly id: string; readonly data: JobData; readonly singletonKey: string };

type DeadLetterRow = {
  readonly delivery_id: string;
  readonly endpoint: string;
  readonly lane: string;
  readonly accepted_at: string;
  readonly event: string;
  readonly request: string | null;
  readonly stripped: string[] | null;
  readonly reason: string;
  readonly error: StoredError;
  readonly response: string | null;
  readonly attempts: number;
  readonly failed_at: string;
};

/** A pg-boss job the store's handler fails and pg-boss retries itself (an interrupted attempt) waits this long. */
const INTERRUPTED_RETRY_SECONDS = 1;
/** Attempts pg-boss may start on a job: the pipeline's retry policy decides, this only has to be out of its reach. */
const RETRY_LIMIT = 1_000_000;

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
 * await client.query('BEGIN');
 * const uow = createPgUnitOfWork(client);
 * await client.query('UPDATE records SET data = $2 WHERE id = $1', [record.id, record]);
 * provisioner.hooks('rdm_record').publish({ identity, record, uow });
 * await uow.commit();
 * client.release();
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
  const [pg, boss] = await Promise.all([loadOptional<PgModule>('pg', () => import('pg')), loadOptional<BossModule>('pg-boss', () => import('pg-boss'))]);
  const ownPool = options.pool === undefined;
  const connectionString = options.connectionString ?? process.env['DATABASE_URL'] ?? 'postgres://127.0.0.1:5432/postgres';
  const pool: Pool = options.pool ?? new (pg.default?.Pool ?? pg.Pool)({ connectionString, max: 20 });
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
      deleteAfterSeconds: 3_600,
    });
    await createTables(pool, schema);
  } catch (error) {
    await instance.stop({ graceful: false, close: false }).catch(() => undefined);
    await listener.close();
    if (ownPool) await pool.end().catch(() => undefined);
    const where = options.pool === undefined ? redactUrl(connectionString) : 'the given pool';
    throw new ProvisionerError(`Expected PostgreSQL (${where}) to take the postgres store's schema ${schema}, it did not: ${messageOf(error)}`, { cause: error });
  }
  const store = new PostgresStore<R>({ boss: instance, pool, ownPool, listener, name, schema, options });
  await store.open();
  return store;
}

/** The store's own tables beside pg-boss's: requests once planned, dead letters, outcomes for the other instances. */
async function createTables(pool: Pool, schema: string): Promise<void> {
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
    `);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

type StoreParts = {
  readonly boss: PgBoss;
  readonly pool: Pool;
  readonly ownPool: boolean;
  readonly listener: PgListener;
  readonly name: string;
  readonly schema: string;
  readonly options: PostgresStoreOptions;
};

/** @internal */
class PostgresStore<R> implements DeliveryStore<R>, OutboxSink<NewJob> {
  readonly kind = 'postgres' as const;
  readonly outcomes$: Observable<StoreOutcome<R>>;
  readonly #outcomes = new Subject<StoreOutcome<R>>();
  readonly #boss: PgBoss;
  readonly #pool: Pool;
  readonly #parts: StoreParts;
  readonly #queue: string;
  readonly #schema: string;
  readonly #channel: string;
  readonly #instance = randomBytes(9).toString('base64url');
  readonly #inFlight = new Map<string, AbortController>();
  readonly #closing = new AbortController();
  #buffer: NewJob[] = [];
  /** Deliveries this instance journaled (outside an app transaction) and has not seen settled: what `maxQueue` bounds. */
  readonly #unsettled = new Set<string>();
  #journaled = 0;
  #written = 0;
  #flushWaiters: { readonly target: number; readonly resolve: () => void }[] = [];
  #flushing = false;
  #handlers: DeliveryHandlers<R> | null = null;
  #concurrency = 16;
  #insertedSinceAnalyze = 0;
  #analyzedAt = 0;
  #analyzing = false;
  /** The fetch loop: one fetch at a time for every free slot (pg-boss's fetch of a key_strict_fifo queue reads every queued job: one at a time, not one per slot). */
  #fetching: Promise<void> | null = null;
  #fetchAgain = false;
  #pollTimer: ReturnType<typeof setTimeout> | null = null;
  #closed: Promise<void> | null = null;
  /** Outcomes read up to here (sequence of the outcome table), and those read beyond it while an earlier one was not committed yet. */
  #watermark = 0;
  #seenBeyond = new Set<number>();
  #gapSince: number | null = null;
  #reading: Promise<void> | null = null;
  #readAgain = false;
  #timers: ReturnType<typeof setInterval>[] = [];

  constructor(parts: StoreParts) {
    this.#parts = parts;
    this.#boss = parts.boss;
    this.#pool = parts.pool;
    this.#queue = parts.name;
    this.#schema = parts.schema;
    this.#channel = `rap_${createHash('sha256').update(`${parts.schema}.${parts.name}`).digest('hex').slice(0, 24)}`;
    this.outcomes$ = this.#outcomes.asObservable();
  }

  /** Starts following the outcome table (from now on: outcomes are hot, not replayed). */
  async open(): Promise<void> {
    const { rows } = await this.#pool.query<{ seq: string | null }>(`SELECT max(seq)::text AS seq FROM ${this.#schema}.rap_outcome WHERE store = $1`, [this.#queue]);
    this.#watermark = Number(rows[0]?.seq ?? 0);
    await this.#parts.listener.listen(
      this.#channel,
      (payload) => {
        // Another instance's outcome (this instance's own reached outcomes$ already).
        if (payload.startsWith('outcome:') && payload !== `outcome:${this.#instance}`) void this.#readOutcomes();
        // A new delivery, or a settled one that frees its lane: there may be work to fetch.
        this.#wake();
      },
      () => {
        void this.#readOutcomes();
        this.#wake();
      },
    );
    const poll = setInterval(() => this.#readOutcomes(), 1_000);
    poll.unref();
    const prune = setInterval(() => void this.#pruneOutcomes(), 60_000);
    prune.unref();
    this.#timers.push(poll, prune);
  }

  journal(entries: readonly JournalEntry<R>[]): JournalResult {
    if (this.#closed !== null) {
      return { kind: 'error', error: new ClosedError(`Expected an open postgres store to journal ${entries.length} event(s), got a closed one`) };
    }
    const jobs: NewJob[] = [];
    try {
      for (const { event, endpoints, acceptedAt } of entries) {
        if (endpoints.length === 0) continue;
        const encoded = encodeEvent(event).toString('base64');
        for (const endpoint of endpoints) {
          const key = deliveryKey({ endpoint, recordId: event.recordId, draftId: event.draftId, eventId: event.eventId });
          const deliveryId = deliveryIdOf(event.eventId, endpoint);
          jobs.push({ id: jobIdOf(event.eventId, endpoint), singletonKey: key, data: { v: 1, deliveryId, endpoint, key, acceptedAt: acceptedAt ?? event.emittedAt, event: encoded } });
        }
      }
    } catch (error) {
      return { kind: 'error', error: new ProvisionerError(`Expected the postgres store to journal ${entries.length} event(s), but encoding failed: ${messageOf(error)}`, { cause: error }) };
    }
    const deliveryIds = jobs.map((job) => job.data.deliveryId);
    const transaction = currentOutboxTransaction();
    if (transaction !== null) {
      // In the app's transaction: written there by the unit of work, just before its COMMIT.
      transaction.enlist<NewJob>(this, jobs);
      return { kind: 'journaled', deliveryIds };
    }
    const maxQueue = this.#parts.options.maxQueue ?? 10_000;
    if (this.#unsettled.size + jobs.length > maxQueue) {
      return {
        kind: 'overflow',
        error: new OverflowError(
          `Expected fewer than ${maxQueue} deliveries pending in the postgres store (maxQueue), found ${this.#unsettled.size}; ${jobs.length} deliveries of ${entries.length} event(s) were not accepted`,
        ),
      };
    }
    for (const job of jobs) this.#unsettled.add(job.data.deliveryId);
    this.#buffer.push(...jobs);
    this.#journaled += jobs.length;
    queueMicrotask(() => void this.#flushLoop());
    return { kind: 'journaled', deliveryIds };
  }

  /** Writes deliveries journaled in the app's transaction through it (the unit of work calls this before COMMIT). @internal */
  async write(executor: SqlExecutor, jobs: readonly NewJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.#insert(jobs, { executeSql: (text, values) => executor.query(text, values) as Promise<{ rows: unknown[] }> });
  }

  /** The app's transaction committed: fetch now (the other instances get the NOTIFY sent with the COMMIT). @internal */
  committed(): void {
    this.#wake();
  }

  flush(): Promise<void> {
    if (this.#written >= this.#journaled) return Promise.resolve();
    const target = this.#journaled;
    return new Promise((resolve) => this.#flushWaiters.push({ target, resolve }));
  }

  start(handlers: DeliveryHandlers<R>): void {
    if (this.#handlers !== null) throw new ProvisionerError('Expected the postgres store to be started once, it was started already');
    if (this.#closed !== null) throw new ClosedError('Expected an open postgres store to start, got a closed one');
    this.#handlers = handlers;
    const concurrency = positiveInteger('concurrency', this.#parts.options.concurrency ?? handlers.concurrency ?? 16);
    const pollSeconds = Math.max(0.5, (this.#parts.options.pollIntervalMs ?? 1_000) / 1_000);
    this.#concurrency = concurrency;
    this.#wake();
  }

  pending(): number {
    let pending = this.#unsettled.size;
    for (const deliveryId of this.#inFlight.keys()) if (!this.#unsettled.has(deliveryId)) pending += 1;
    return pending;
  }

  async drain(): Promise<void> {
    await this.flush();
    const poll = this.#parts.options.drainPollMs ?? 50;
    while (this.#closed === null) {
      // What was journaled here before this count is settled if the count finds nothing.
      const counted = [...this.#unsettled];
      const { rows } = await this.#pool.query<{ count: string }>(`SELECT count(*)::text AS count FROM ${this.#schema}.job WHERE name = $1 AND state < 'completed'`, [this.#queue]);
      if (Number(rows[0]?.count ?? 0) === 0 && this.#buffer.length === 0 && this.#inFlight.size === 0) {
        // The outcomes the other instances reached reach outcomes$ before drain resolves.
        await this.#readOutcomes();
        for (const deliveryId of counted) this.#unsettled.delete(deliveryId);
        return;
      }
      await sleep(poll);
    }
  }

  async deadLetters(filter: DeadLetterFilter = {}): Promise<readonly DeadLetter<R>[]> {
    const values: unknown[] = [this.#queue];
    const where = ['store = $1'];
    const add = (clause: string, value: unknown): void => {
      values.push(value);
      where.push(clause.replace('?', `$${values.length}`));
    };
    if (filter.deliveryIds !== undefined) add('delivery_id = ANY(?::text[])', [...filter.deliveryIds]);
    if (filter.endpoint !== undefined) add('endpoint = ?', filter.endpoint);
    if (filter.reason !== undefined) add('reason = ?', filter.reason);
    if (filter.failedAfter !== undefined) add('failed_at >= ?', filter.failedAfter);
    if (filter.failedBefore !== undefined) add('failed_at < ?', filter.failedBefore);
    const { rows } = await this.#pool.query<DeadLetterRow>(`SELECT * FROM ${this.#schema}.rap_dead_letter WHERE ${where.join(' AND ')} ORDER BY failed_at, delivery_id`, values);
    return selectDeadLetters(
      rows.map((row) => this.#deadLetter(row)),
      filter,
    );
  }

  async requeue(deliveryIds: readonly string[]): Promise<readonly string[]> {
    if (deliveryIds.length === 0) return [];
    return this.#transaction(async (client) => {
      const { rows } = await client.query<DeadLetterRow>(
        `DELETE FROM ${this.#schema}.rap_dead_letter WHERE store = $1 AND delivery_id = ANY($2::text[]) RETURNING *`,
        [this.#queue, [...deliveryIds]],
      );
      if (rows.length === 0) return [];
      const byId = new Map(rows.map((row) => [row.delivery_id, row]));
      const ordered = deliveryIds.filter((id) => byId.has(id)).map((id) => byId.get(id) as DeadLetterRow);
      const jobs = ordered.map((row): NewJob => {
        const event = decodeEvent(Buffer.from(row.event, 'base64'));
        return {
          id: jobIdOf(event.eventId, row.endpoint),
          singletonKey: row.lane,
          data: { v: 1, deliveryId: row.delivery_id, endpoint: row.endpoint, key: row.lane, acceptedAt: Number(row.accepted_at), event: row.event },
        };
      });
      const planned = ordered.filter((row) => row.request !== null);
      if (planned.length > 0) {
        await client.query(
          `INSERT INTO ${this.#schema}.rap_plan (store, delivery_id, request, stripped)
           SELECT $1, p.delivery_id, p.request, ARRAY(SELECT jsonb_array_elements_text(p.stripped))
           FROM jsonb_to_recordset($2::jsonb) AS p (delivery_id text, request text, stripped jsonb)
           ON CONFLICT (store, delivery_id) DO UPDATE SET request = EXCLUDED.request, stripped = EXCLUDED.stripped`,
          [this.#queue, JSON.stringify(planned.map((row) => ({ delivery_id: row.delivery_id, request: row.request, stripped: row.stripped ?? [] })))],
        );
      }
      await this.#insert(jobs, executorOf(client));
      return ordered.map((row) => row.delivery_id);
    }).then((ids) => {
      if (ids.length > 0) this.committed();
      return ids;
    });
  }

  async discard(deliveryIds: readonly string[]): Promise<number> {
    if (deliveryIds.length === 0) return 0;
    const { rowCount } = await this.#pool.query(`DELETE FROM ${this.#schema}.rap_dead_letter WHERE store = $1 AND delivery_id = ANY($2::text[])`, [this.#queue, [...deliveryIds]]);
    return rowCount ?? 0;
  }

  close(options: StoreCloseOptions = {}): Promise<void> {
    this.#closed ??= (async () => {
      const timeoutMs = options.timeoutMs ?? 5_000;
      for (const timer of this.#timers) clearInterval(timer);
      await Promise.race([this.flush(), sleep(timeoutMs)]);
      this.#failBuffered(new ClosedError(`Expected the postgres store to write the journaled deliveries before it closed, it could not within ${timeoutMs} ms`), 'closed');
      // Attempts in flight are aborted and left to the next instance, unsettled.
      this.#closing.abort(new ClosedError('The postgres store closed'));
      if (this.#pollTimer !== null) clearTimeout(this.#pollTimer);
      try {
        await this.#fetching;
        await waitFor(() => this.#inFlight.size === 0, timeoutMs);
        await this.#boss.stop({ graceful: true, close: false, timeout: Math.max(1_000, timeoutMs) });
      } catch (error) {
        log('store (postgres): stopping pg-boss failed: %s', messageOf(error));
      }
      await this.#parts.listener.close();
      if (this.#parts.ownPool) await this.#pool.end().catch((error: unknown) => log('store (postgres): closing the pool failed: %s', messageOf(error)));
      this.#outcomes.complete();
    })();
    return this.#closed;
  }

  async #insert(jobs: readonly NewJob[], db: { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> }): Promise<void> {
    // One insert per call: pg-boss stamps every job of it with the transaction's time, and the ids keep their order.
    await this.#boss.insert(this.#queue, jobs as NewJob[], { db });
    // Delivered with the COMMIT of the insert: every instance fetches at once.
    await db.executeSql('SELECT pg_notify($1, $2)', [this.#channel, 'journal']);
    this.#analyzeAfter(jobs.length);
  }

  /**
   * Refreshes the planner's statistics of the job table after many inserts. pg-boss's fetch
   * of a key_strict_fifo queue joins the queued jobs with their lanes' heads: planned on the
   * counts of an empty table (autovacuum lags behind a burst), it took half a second with
   * 5,000 jobs queued, and 20 ms once analyzed.
   */
  #analyzeAfter(inserted: number): void {
    this.#insertedSinceAnalyze += inserted;
    if (this.#insertedSinceAnalyze < 1_000 || this.#analyzing || Date.now() - this.#analyzedAt < 30_000) return;
    this.#analyzing = true;
    this.#insertedSinceAnalyze = 0;
    this.#analyzedAt = Date.now();
    this.#pool
      .query(`ANALYZE ${this.#schema}.job`)
      .catch((error: unknown) => log('store (postgres): analyzing the job table failed: %s', messageOf(error)))
      .finally(() => {
        this.#analyzing = false;
      });
  }

  /** Asks the fetch loop to look for due deliveries now. */
  #wake(): void {
    if (this.#handlers === null || this.#closed !== null) return;
    if (this.#fetching !== null) {
      this.#fetchAgain = true;
      return;
    }
    if (this.#pollTimer !== null) clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    this.#fetching = this.#fetchLoop().finally(() => {
      this.#fetching = null;
      if (this.#closed === null) {
        if (this.#fetchAgain) this.#wake();
        else this.#schedulePoll(this.#parts.options.pollIntervalMs ?? 1_000);
      }
    });
  }

  /** Looks again after `ms` (retries coming due; notifications missed) unless woken earlier. */
  #schedulePoll(ms: number): void {
    if (this.#closed !== null) return;
    if (this.#pollTimer !== null) clearTimeout(this.#pollTimer);
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = null;
      this.#wake();
    }, ms);
    this.#pollTimer.unref();
  }

  async #fetchLoop(): Promise<void> {
    do {
      this.#fetchAgain = false;
      const free = this.#concurrency - this.#inFlight.size;
      if (free <= 0) return;
      let jobs: Job<JobData>[];
      try {
        jobs = await this.#boss.fetch<JobData>(this.#queue, { batchSize: free });
      } catch (error) {
        log('store (postgres): fetching deliveries failed: %s', messageOf(error));
        return;
      }
      if (this.#closed !== null) {
        // Fetched while closing: give them back at once rather than after lockDurationMs.
        await Promise.all(jobs.map((job) => this.#release(job, 'the store closed')));
        return;
      }
      for (const job of jobs) void this.#run(job);
      // A full batch: more may be due.
      if (jobs.length === free) this.#fetchAgain = true;
    } while (this.#fetchAgain && this.#closed === null);
  }

  /** Runs one fetched delivery; whatever it leaves unsettled goes back to its lane's head. */
  async #run(job: Job<JobData>): Promise<void> {
    try {
      await this.#process(job);
    } catch (error) {
      if (!(error instanceof ClosedError)) log('store (postgres): delivery %s interrupted: %s', job.data.deliveryId, messageOf(error));
      await this.#release(job, messageOf(error));
    } finally {
      // Only now: close() waits for what is in flight, its release included, before it stops.
      this.#inFlight.delete(job.data.deliveryId);
      this.#wake();
    }
  }

  /** Back to retry (pg-boss waits its retry delay, 1 s): the lane stays held, the attempt counts. */
  async #release(job: Job<JobData>, reason: string): Promise<void> {
    await this.#boss.fail(this.#queue, { id: job.id, retryCount: job.retryCount }, { message: reason }).catch((error: unknown) => log('store (postgres): could not release delivery %s: %s', job.data.deliveryId, messageOf(error)));
  }

  async #flushLoop(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    let failingSince: number | null = null;
    try {
      while (this.#buffer.length > 0) {
        const batch = nextBatch(this.#buffer);
        try {
          await this.#insert(batch, this.#boss.getDb());
          failingSince = null;
          this.#buffer.splice(0, batch.length);
          this.#wrote(batch.length);
        } catch (error) {
          failingSince ??= Date.now();
          const retryMs = this.#parts.options.journalRetryMs ?? 30_000;
          log('store (postgres): journal write failed, trying again: %s', messageOf(error));
          if (this.#closed !== null || Date.now() - failingSince >= retryMs) {
            this.#failBuffered(
              new NetworkError(`Expected PostgreSQL to take ${this.#buffer.length} journaled deliveries, it did not within ${retryMs} ms: ${messageOf(error)}`, { cause: error }),
              'network',
            );
            return;
          }
          await sleep(Math.min(100 * 2 ** Math.min(5, Math.floor((Date.now() - failingSince) / 500)), 2_000));
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #wrote(count: number): void {
    this.#written += count;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = waiters.filter((waiter) => waiter.target > this.#written);
    for (const waiter of waiters) if (waiter.target <= this.#written) waiter.resolve();
  }

  /** Ends every buffered delivery as `failed`: it never reached the database. */
  #failBuffered(error: ProvisionerError, reason: FailureReason): void {
    const jobs = this.#buffer.splice(0);
    if (jobs.length === 0) return;
    for (const job of jobs) {
      try {
        const event = decodeEvent<R>(Buffer.from(job.data.event, 'base64'));
        const outcome: FailedOutcome<R> = {
          kind: 'failed',
          event,
          endpoint: job.data.endpoint,
          request: null,
          reason,
          error,
          attempts: 0,
          response: null,
          acceptedAt: job.data.acceptedAt,
          settledAt: Date.now(),
        };
        this.#unsettled.delete(job.data.deliveryId);
        if (this.#outcomes.closed === false) this.#outcomes.next({ deliveryId: job.data.deliveryId, outcome, local: true });
      } catch (decodeFailure) {
        log('store (postgres): could not report delivery %s: %s', job.data.deliveryId, messageOf(decodeFailure));
      }
    }
    this.#wrote(jobs.length);
  }

  /** Runs one attempt of a delivery (planning it first when it has no request yet) and settles it. */
  async #process(job: Job<JobData>): Promise<void> {
    const handlers = this.#handlers;
    const data = job.data;
    if (handlers === null || this.#closing.signal.aborted) throw new ClosedError('The postgres store is closing');
    const abort = new AbortController();
    // The attempt must end within the lock: past it another instance may take the delivery over.
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(Math.max(1, job.expireInSeconds) * 1_000), this.#closing.signal]);
    this.#inFlight.set(data.deliveryId, abort);
    const claim = { id: job.id, retryCount: job.retryCount };
    let event: ServiceEvent<R>;
    try {
      event = decodeEvent<R>(Buffer.from(data.event, 'base64'));
    } catch (error) {
      const unreadable = new PayloadError(`Expected delivery ${data.deliveryId} to hold a readable event, it did not: ${messageOf(error)}`);
      await this.#settle(claim, data, { kind: 'dead', reason: 'payload', error: unreadable, request: null, response: null, attempts: 0 });
      return;
    }
    const attempt = job.retryCount + 1;
    const delivery: StoredDelivery<R> = { deliveryId: data.deliveryId, event, endpoint: data.endpoint, key: data.key, acceptedAt: data.acceptedAt, request: null, attempts: attempt - 1 };
    const { rows } = await this.#pool.query<{ request: string; stripped: string[] }>(`SELECT request, stripped FROM ${this.#schema}.rap_plan WHERE store = $1 AND delivery_id = $2`, [
      this.#queue,
      data.deliveryId,
    ]);
    let request: RequestDescriptor;
    let stripped: readonly string[];
    const stored = rows[0];
    if (stored !== undefined) {
      request = decodeRequest(stored.request);
      stripped = stored.stripped;
    } else {
      const plan = await this.#plan(handlers, delivery);
      if (plan.kind === 'skipped') {
        await this.#settle(claim, data, { kind: 'settled', outcome: { ...plan, acceptedAt: data.acceptedAt } });
        return;
      }
      if (plan.kind === 'failed') {
        await this.#settle(claim, data, { kind: 'dead', reason: plan.reason, error: plan.error, request: plan.request, response: plan.response, attempts: plan.attempts, outcome: plan });
        return;
      }
      if (plan.request.deliveryId !== data.deliveryId) {
        const error = new PayloadError(`Expected the planned request of ${data.endpoint} to have delivery id ${data.deliveryId}, got ${plan.request.deliveryId}`);
        await this.#settle(claim, data, { kind: 'dead', reason: 'payload', error, request: null, response: null, attempts: 0 });
        return;
      }
      const encoded = encodeRequest(plan.request);
      await this.#pool.query(
        `INSERT INTO ${this.#schema}.rap_plan (store, delivery_id, request, stripped) VALUES ($1, $2, $3, $4)
         ON CONFLICT (store, delivery_id) DO UPDATE SET request = EXCLUDED.request, stripped = EXCLUDED.stripped`,
        [this.#queue, data.deliveryId, encoded.json, encoded.stripped],
      );
      request = plan.request;
      stripped = [];
    }
    const sent = restoreRequest(request, stripped, handlers.restoreSecrets);
    let result: AttemptResult;
    try {
      result = await firstValue(() => handlers.attempt({ ...delivery, request: sent, attempt, signal }), {
        signal,
        // Cut short (closing, or past the lock): back to its lane's head, unsettled, below.
        onAbort: () => ({ kind: 'retry', delayMs: 1, reason: 'network', error: new NetworkError(`The attempt of delivery ${data.deliveryId} was aborted`), response: null }),
      });
    } catch (error) {
      result = { kind: 'failed', reason: 'network', error: new NetworkError(`The attempt handler of delivery ${data.deliveryId} threw: ${messageOf(error)}`, { cause: error }), response: null };
    }
    // Closing: the attempt was cut short; the delivery stays for the next instance, unsettled.
    if (this.#closing.signal.aborted) throw new ClosedError('The postgres store closed during the attempt');
    if (result.kind === 'delivered') {
      await this.#settle(claim, data, {
        kind: 'settled',
        outcome: { kind: 'delivered', event, endpoint: data.endpoint, request: sent, response: result.response, attempts: attempt, acceptedAt: data.acceptedAt, settledAt: Date.now() },
      });
    } else if (result.kind === 'failed') {
      await this.#settle(claim, data, { kind: 'dead', reason: result.reason, error: result.error, request: sent, response: result.response, attempts: attempt });
    } else {
      await this.#retry(claim, result.delayMs, result.error);
    }
  }

  async #plan(handlers: DeliveryHandlers<R>, delivery: StoredDelivery<R>): Promise<RequestPlan<R>> {
    try {
      return await firstValue(() => handlers.plan(delivery));
    } catch (error) {
      return failedOutcome(delivery, null, 'payload', new PayloadError(`Planning delivery ${delivery.deliveryId} to ${delivery.endpoint} threw: ${messageOf(error)}`, { cause: error }), null, 0);
    }
  }

  /** Back to the head of its lane, due after `delayMs`: the lane stays held (pg-boss's retry state) meanwhile. */
  async #retry(claim: { readonly id: string; readonly retryCount: number }, delayMs: number, error: ProvisionerError): Promise<void> {
    await this.#transaction(async (client) => {
      const db = executorOf(client);
      const failed = await this.#boss.fail(this.#queue, claim, { message: encodeError(error).message }, { db });
      if (affectedOf(failed) === 0) return;
      await this.#boss.update(this.#queue, undefined, { id: claim.id, startAfter: `${Math.max(0, Math.ceil(delayMs))} milliseconds`, db });
    });
    if (delayMs < (this.#parts.options.pollIntervalMs ?? 1_000)) setTimeout(() => this.#wake(), Math.max(0, Math.ceil(delayMs)) + 5).unref();
  }

  /**
   * Ends a delivery in one transaction: the job completed (or, for a dead letter, moved to the
   * dead-letter table, which frees its lane), its plan removed, its outcome written for the other
   * instances. Nothing is reported when the claim was lost (the instance was too slow and
   * another one took the delivery over).
   */
  async #settle(
    claim: { readonly id: string; readonly retryCount: number },
    data: JobData,
    end:
      | { readonly kind: 'settled'; readonly outcome: DeliveryOutcome<R> }
      | {
          readonly kind: 'dead';
          readonly reason: FailureReason;
          readonly error: ProvisionerError;
          readonly request: RequestDescriptor | null;
          readonly response: FailedOutcome<R>['response'];
          readonly attempts: number;
          readonly outcome?: FailedOutcome<R>;
        },
  ): Promise<void> {
    const settledAt = Date.now();
    const outcome: DeliveryOutcome<R> =
      end.kind === 'settled'
        ? end.outcome
        : {
            kind: 'failed',
            event: decodeEventOrNull<R>(data.event) ?? ({ eventId: data.deliveryId } as unknown as ServiceEvent<R>),
            endpoint: data.endpoint,
            request: end.request,
            reason: end.reason,
            error: end.error,
            attempts: end.attempts,
            response: end.response,
            acceptedAt: data.acceptedAt,
            settledAt,
          };
    const kept = await this.#transaction(async (client) => {
      const db = executorOf(client);
      if (end.kind === 'settled') {
        const completed = await this.#boss.complete(this.#queue, claim, null, { db });
        if (affectedOf(completed) === 0) return false;
      } else {
        const deleted = await this.#boss.deleteJob(this.#queue, claim, { db });
        if (affectedOf(deleted) === 0) return false;
        const encoded = end.request === null ? null : encodeRequest(end.request);
        await client.query(
          `INSERT INTO ${this.#schema}.rap_dead_letter (store, delivery_id, endpoint, lane, accepted_at, event, request, stripped, reason, error, response, attempts, failed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (store, delivery_id) DO UPDATE SET request = EXCLUDED.request, stripped = EXCLUDED.stripped, reason = EXCLUDED.reason,
             error = EXCLUDED.error, response = EXCLUDED.response, attempts = EXCLUDED.attempts, failed_at = EXCLUDED.failed_at`,
          [
            this.#queue,
            data.deliveryId,
            data.endpoint,
            data.key,
            data.acceptedAt,
            data.event,
            encoded?.json ?? null,
            encoded?.stripped ?? null,
            end.reason,
            JSON.stringify(encodeError(end.error)),
            end.response === null ? null : encodeResponse(end.response),
            end.attempts,
            settledAt,
          ],
        );
      }
      await client.query(`DELETE FROM ${this.#schema}.rap_plan WHERE store = $1 AND delivery_id = $2`, [this.#queue, data.deliveryId]);
      await client.query(`INSERT INTO ${this.#schema}.rap_outcome (store, instance, delivery_id, outcome, settled_at) VALUES ($1, $2, $3, $4, $5)`, [
        this.#queue,
        this.#instance,
        data.deliveryId,
        JSON.stringify(storeOutcome(outcome, data.event)),
        settledAt,
      ]);
      await client.query('SELECT pg_notify($1, $2)', [this.#channel, `outcome:${this.#instance}`]);
      return true;
    });
    this.#unsettled.delete(data.deliveryId);
    if (kept) this.#outcomes.next({ deliveryId: data.deliveryId, outcome, local: true });
  }

  async #transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
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

  /** Reads the outcomes other instances wrote since the last read (one read at a time; a request meanwhile reads again after it). */
  #readOutcomes(): Promise<void> {
    if (this.#reading !== null) {
      this.#readAgain = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      try {
        do {
          this.#readAgain = false;
          await this.#readOutcomesOnce();
        } while (this.#readAgain && this.#closed === null);
      } catch (error) {
        log('store (postgres): reading outcomes failed: %s', messageOf(error));
      } finally {
        this.#reading = null;
      }
    })();
    return this.#reading;
  }

  async #readOutcomesOnce(): Promise<void> {
    for (;;) {
      const { rows } = await this.#pool.query<{ seq: string; instance: string; delivery_id: string; outcome: StoredOutcome }>(
        `SELECT seq::text AS seq, instance, delivery_id, outcome FROM ${this.#schema}.rap_outcome WHERE store = $1 AND seq > $2 ORDER BY seq LIMIT 1000`,
        [this.#queue, this.#watermark],
      );
      for (const row of rows) {
        const seq = Number(row.seq);
        if (this.#seenBeyond.has(seq)) continue;
        this.#seenBeyond.add(seq);
        this.#unsettled.delete(row.delivery_id);
        if (row.instance === this.#instance || this.#outcomes.closed) continue;
        try {
          this.#outcomes.next({ deliveryId: row.delivery_id, outcome: loadOutcome<R>(row.outcome), local: false });
        } catch (error) {
          log('store (postgres): unreadable outcome %s from another instance: %s', row.delivery_id, messageOf(error));
        }
      }
      this.#advanceWatermark();
      if (rows.length < 1_000) return;
    }
  }

  /**
   * Sequence numbers are taken when a row is written, not when it commits: a row may appear
   * behind ones already read. The watermark stays below such a gap until it fills, or for 5 s
   * (a rolled-back write leaves a gap for good).
   */
  #advanceWatermark(): void {
    while (this.#seenBeyond.delete(this.#watermark + 1)) this.#watermark += 1;
    if (this.#seenBeyond.size === 0) {
      this.#gapSince = null;
      return;
    }
    const now = Date.now();
    this.#gapSince ??= now;
    if (now - this.#gapSince < 5_000) return;
    this.#watermark = Math.min(...this.#seenBeyond) - 1;
    this.#gapSince = null;
    this.#advanceWatermark();
  }

  async #pruneOutcomes(): Promise<void> {
    const retention = this.#parts.options.outcomeRetentionMs ?? 600_000;
    await this.#pool
      .query(`DELETE FROM ${this.#schema}.rap_outcome WHERE store = $1 AND settled_at < $2`, [this.#queue, Date.now() - retention])
      .catch((error: unknown) => log('store (postgres): pruning outcomes failed: %s', messageOf(error)));
  }

  #deadLetter(row: DeadLetterRow): DeadLetter<R> {
    const response = row.response === null ? null : decodeResponse(row.response);
    return {
      kind: 'failed',
      deliveryId: row.delivery_id,
      event: decodeEvent<R>(Buffer.from(row.event, 'base64')),
      endpoint: row.endpoint,
      request: row.request === null ? null : decodeRequest(row.request),
      reason: row.reason as FailureReason,
      error: decodeError(row.error, response),
      attempts: row.attempts,
      response,
      acceptedAt: Number(row.accepted_at),
      settledAt: Number(row.failed_at),
    };
  }
}

/** pg-boss's `db` option over a client in a transaction. */
function executorOf(client: PoolClient): { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> } {
  return { executeSql: (text, values) => client.query(text, values) };
}

/** Jobs written in one insert at most. */
const BATCH_JOBS = 1_000;
/** Event bytes written in one insert at most (a batch holds at least one job). */
const BATCH_BYTES = 1024 * 1024;

function nextBatch(buffer: readonly NewJob[]): NewJob[] {
  let bytes = 0;
  let count = 0;
  for (const job of buffer) {
    bytes += job.data.event.length;
    if (count > 0 && (count >= BATCH_JOBS || bytes > BATCH_BYTES)) break;
    count += 1;
  }
  return buffer.slice(0, count);
}

/** How many jobs a pg-boss command changed (its typings leave the count out; fenced commands change none when the claim was lost). */
function affectedOf(response: object): number {
  const affected = (response as { readonly affected?: unknown }).affected;
  return typeof affected === 'number' ? affected : 0;
}

function decodeEventOrNull<R>(encoded: string): ServiceEvent<R> | null {
  try {
    return decodeEvent<R>(Buffer.from(encoded, 'base64'));
  } catch {
    return null;
  }
}

function failedOutcome<R>(
  delivery: StoredDelivery<R>,
  request: RequestDescriptor | null,
  reason: FailureReason,
  error: ProvisionerError,
  response: FailedOutcome<R>['response'],
  attempts: number,
): FailedOutcome<R> {
  return { kind: 'failed', event: delivery.event, endpoint: delivery.endpoint, request, reason, error, attempts, response, acceptedAt: delivery.acceptedAt, settledAt: Date.now() };
}

async function loadOptional<M>(name: string, load: () => Promise<M>): Promise<M> {
  try {
    return await load();
  } catch (error) {
    throw new ProvisionerError(`Expected the optional dependency ${name} to be installed for the PostgreSQL store, but loading it failed: ${messageOf(error)}`, { cause: error });
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(10);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

