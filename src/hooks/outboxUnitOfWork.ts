import { ProvisionerError } from '../errors.js';
import type { UnitOfWork } from '../events/unitOfWork.js';
import type { UnitOfWorkState } from './unitOfWork.js';
import { runEveryCallback } from './runEveryCallback.js';

/**
 * What a transactional outbox writes through: anything that runs a parameterized SQL
 * statement inside the app's open transaction (`$1, $2…` placeholders, as `pg` takes them) and
 * answers with its rows. A `pg` client is one; Kysely, Knex and Drizzle transactions become one
 * in a line (see {@link createExecutorUnitOfWork}).
 *
 * @example
 * ```ts
 * const executor: SqlExecutor = { query: (text, values) => client.query(text, values as unknown[]) };
 * ```
 */
export type SqlExecutor = {
  /** Runs one statement in the transaction (`$1, $2…` placeholders) and answers with its rows. */
  query(text: string, values?: readonly unknown[]): Promise<{ readonly rows: readonly unknown[] }>;
};

/**
 * Where a transactional store writes the events journaled inside a transaction, and how it
 * learns that they committed.
 * @internal
 */
export type OutboxSink<T> = {
  /** Writes `items` through the app's transaction. */
  write(executor: SqlExecutor, items: readonly T[]): Promise<void>;
  /** Called once the transaction committed, with what it wrote: start delivering at once. */
  committed(items: readonly T[]): void;
  /** The write as one SQL statement with its values inlined through `literal`: sent with the COMMIT in one round trip. */
  statement?(items: readonly T[], literal: (value: string) => string): string;
};

/** Escapes a string as a SQL literal, as `pg`'s clients do (`client.escapeLiteral`). */
type Literal = (value: string) => string;

/**
 * The literal `pg`'s `escapeLiteral` makes of `value` (quotes doubled; with a backslash, the
 * backslashes doubled too and an `E` prefix), by native replaces rather than its loop over
 * each character: a journaled record is kilobytes of JSON, escaped once per transaction.
 *
 * @example
 * ```ts
 * sqlLiteral("it's"); // "'it''s'"
 * sqlLiteral('a\\b'); // " E'a\\\\b'"
 * ```
 * @internal
 */
export function sqlLiteral(value: string): string {
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? ` E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/** How createPgUnitOfWork journals the hook calls as SQL text to send with its COMMIT: `null` when a store can only write through the executor (then it has written). */
const statementsOf = new WeakMap<OutboxUnitOfWork, (literal: Literal) => Promise<string | null>>();

/**
 * The transaction a journal call is made in, while a transactional unit of work writes its
 * hook calls: a store that can write into it enlists its deliveries here instead of writing
 * them on its own.
 * @internal
 */
export type OutboxTransaction = {
  enlist<T>(sink: OutboxSink<T>, items: readonly T[]): void;
};

let active: OutboxTransaction | null = null;

/**
 * The transaction whose hook calls are being journaled right now, or `null`: the hooks' events
 * reach the store synchronously, so a transactional store asks this while it journals.
 * @internal
 */
export function currentOutboxTransaction(): OutboxTransaction | null {
  return active;
}

/**
 * A unit of work bound to a transaction the app opened: the hooks called with it are journaled
 * through the transaction itself, so the deliveries commit or roll back with the app's own
 * writes (with the PostgreSQL store; other stores journal them when `prepare()` runs).
 *
 * @example
 * ```ts
 * const uow: OutboxUnitOfWork = createExecutorUnitOfWork(executor);
 * hooks.publish({ identity, record, uow });
 * await uow.prepare();   // inside the transaction, last
 * // ...the transaction commits...
 * uow.committed();
 * ```
 */
export type OutboxUnitOfWork = UnitOfWork & {
  /** Hooks register their event's journaling here: it runs inside the transaction, in `prepare()`. */
  inTransaction(callback: () => void): void;
  /**
   * Journals the hook calls made with this unit through the transaction. Call it last, just
   * before the transaction commits; it rejects (and the app should roll back) when the write fails.
   */
  prepare(): Promise<void>;
  /** Tells the unit its transaction committed: the store starts delivering at once, then the `onCommit` callbacks run. */
  committed(): void;
  /** Tells the unit its transaction rolled back: nothing is delivered, the `onRollback` callbacks run. */
  rolledBack(): void;
  /** `'open'` until `committed()` or `rolledBack()`. */
  readonly state: UnitOfWorkState;
};

/**
 * An {@link OutboxUnitOfWork} that issues the transaction's end itself: `commit()` journals the
 * hook calls, sends `COMMIT` and wakes the pipeline; `rollback()` sends `ROLLBACK`.
 *
 * @example
 * ```ts
 * const client = await pool.connect();
 * const uow: PgUnitOfWork = createPgUnitOfWork(client);
 * try {
 *   await client.query('BEGIN');
 *   await client.query('UPDATE records SET data = $2 WHERE id = $1', [id, data]);
 *   hooks.publish({ identity, record, uow });
 *   await uow.commit();
 * } catch (error) {
 *   await uow.rollback(); // nothing is sent (and nothing more happens if commit() rolled back)
 *   throw error;
 * } finally {
 *   client.release();
 * }
 * ```
 */
export type PgUnitOfWork = OutboxUnitOfWork & {
  /**
   * Journals the hook calls through the transaction, sends `COMMIT`, then wakes the pipeline. On
   * an error it sends `ROLLBACK` and rejects. A second `commit()`, or one after `rollback()`,
   * rejects without sending anything (it would end the app's next transaction on the client).
   */
  commit(): Promise<void>;
  /** Sends `ROLLBACK`: nothing of the hook calls is kept or sent. Does nothing when the unit already rolled back (its `commit()` failed). */
  rollback(): Promise<void>;
};

/**
 * Whether `value` is an {@link OutboxUnitOfWork}: hooks journal inside its transaction rather
 * than after its commit.
 *
 * @example
 * ```ts
 * isOutboxUnitOfWork(createPgUnitOfWork(client)); // true
 * isOutboxUnitOfWork(createUnitOfWork());         // false
 * ```
 */
export function isOutboxUnitOfWork(value: unknown): value is OutboxUnitOfWork {
  return typeof value === 'object' && value !== null && typeof (value as { inTransaction?: unknown }).inTransaction === 'function';
}

/**
 * A unit of work over any SQL client's open transaction, given as a {@link SqlExecutor}: hook
 * calls made with it are written into that transaction by `prepare()` (PostgreSQL store), and
 * delivered once the app reports `committed()`. Kysely, Knex and Drizzle transactions:
 *
 * ```ts
 * // Kysely
 * createExecutorUnitOfWork({ query: (text, values = []) => trx.executeQuery(CompiledQuery.raw(text, [...values])) });
 * // Knex (its raw() takes `?`: number the `$n` placeholders through its positional bindings)
 * createExecutorUnitOfWork({ query: async (text, values = []) => ({ rows: (await trx.raw(text.replace(/\$(\d+)/g, '?'), values)).rows }) });
 * // Drizzle (node-postgres driver): its transaction's session client
 * createExecutorUnitOfWork({ query: (text, values) => tx.session.client.query(text, values) });
 * ```
 *
 * @example
 * ```ts
 * await db.transaction().execute(async (trx) => {
 *   const uow = createExecutorUnitOfWork({ query: (text, values = []) => trx.executeQuery(CompiledQuery.raw(text, [...values])) });
 *   await trx.updateTable('records').set({ data }).where('id', '=', id).execute();
 *   hooks.publish({ identity, record, uow });
 *   await uow.prepare();
 *   committed.push(uow);
 * });
 * for (const uow of committed) uow.committed();
 * ```
 */
export function createExecutorUnitOfWork(executor: SqlExecutor): OutboxUnitOfWork {
  expectTransactionExecutor(executor);
  let state: UnitOfWorkState = 'open';
  let inTransaction: (() => void)[] = [];
  let commitCallbacks: (() => void)[] = [];
  let rollbackCallbacks: (() => void)[] = [];
  const sinks: OutboxSink<unknown>[] = [];
  const pending = new Map<OutboxSink<unknown>, unknown[]>();
  let prepared = false;

  const expectOpen = (action: string): void => {
    if (state !== 'open') throw new ProvisionerError(`Expected an open unit of work to ${action}, got one already ${state}`);
  };
  const expectFunction = (callback: unknown, registration: string): void => {
    if (typeof callback !== 'function') {
      throw new ProvisionerError(`Expected ${registration} to receive a function, got ${callback === null ? 'null' : typeof callback}`);
    }
  };
  const transaction: OutboxTransaction = {
    enlist(sink, items) {
      const key = sink as OutboxSink<unknown>;
      let list = pending.get(key);
      if (list === undefined) {
        list = [];
        pending.set(key, list);
        sinks.push(key);
      }
      list.push(...items);
    },
  };
  /**
   * Runs the hooks' journaling (once): inside the transaction the stores enlist what they write;
   * outside it (`inside` false) they journal as after any commit.
   */
  const collect = (inside = true): boolean => {
    expectOpen('prepare');
    if (prepared) return false;
    prepared = true;
    const callbacks = inTransaction;
    inTransaction = [];
    // The hooks' events reach the store synchronously: while they run, a transactional store enlists them here.
    const previous = active;
    active = inside ? transaction : null;
    try {
      runEveryCallback(callbacks, 'inTransaction');
    } finally {
      active = previous;
    }
    return true;
  };
  const settle = (next: UnitOfWorkState): (() => void)[] => {
    const callbacks = next === 'committed' ? commitCallbacks : rollbackCallbacks;
    state = next;
    inTransaction = [];
    commitCallbacks = [];
    rollbackCallbacks = [];
    return callbacks;
  };

  const uow: OutboxUnitOfWork = {
    onCommit(callback) {
      expectFunction(callback, 'onCommit');
      expectOpen('register an onCommit callback');
      commitCallbacks.push(callback);
    },
    onRollback(callback) {
      expectFunction(callback, 'onRollback');
      expectOpen('register an onRollback callback');
      rollbackCallbacks.push(callback);
    },
    inTransaction(callback) {
      expectFunction(callback, 'inTransaction');
      expectOpen('register an inTransaction callback');
      if (prepared) throw new ProvisionerError('Expected hook calls before the unit of work was prepared, got one after prepare(): it would not be written into the transaction');
      inTransaction.push(callback);
    },
    async prepare() {
      if (!collect()) return;
      for (const sink of sinks) await sink.write(executor, pending.get(sink) ?? []);
    },
    committed() {
      expectOpen('report a commit');
      // Hook calls never written into the transaction (no prepare()): journaled now, after the
      // commit, as with a plain unit of work, rather than lost.
      if (!prepared) collect(false);
      const callbacks = settle('committed');
      for (const sink of sinks) sink.committed(pending.get(sink) ?? []);
      pending.clear();
      runEveryCallback(callbacks, 'commit');
    },
    rolledBack() {
      expectOpen('report a rollback');
      const callbacks = settle('rolled-back');
      pending.clear();
      runEveryCallback(callbacks, 'rollback');
    },
    get state() {
      return state;
    },
  };
  statementsOf.set(uow, async (literal) => {
    if (!collect()) return null;
    if (!sinks.every((sink) => sink.statement !== undefined)) {
      for (const sink of sinks) await sink.write(executor, pending.get(sink) ?? []);
      return null;
    }
    return sinks.map((sink) => sink.statement?.(pending.get(sink) ?? [], literal) ?? '').join('; ');
  });
  return uow;
}

/**
 * Whether `value` is a connection pool (`pg.Pool`: `query`, `connect` and a count of its
 * connections) rather than one connection.
 * @internal
 */
export function isConnectionPool(value: unknown): boolean {
  const candidate = value as { readonly query?: unknown; readonly connect?: unknown; readonly totalCount?: unknown } | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.query === 'function' && typeof candidate.connect === 'function' && typeof candidate.totalCount === 'number';
}

/**
 * Refuses what cannot run the app's transaction: a value without `query`, and a pool (`pg.Pool`
 * has `query` too, but each of its queries may run on another connection, outside the
 * transaction, so the hook calls would commit whatever the app's transaction does).
 */
function expectTransactionExecutor(executor: unknown): asserts executor is SqlExecutor {
  if (typeof executor !== 'object' || executor === null || typeof (executor as { query?: unknown }).query !== 'function') {
    const found = executor === null ? 'null' : typeof executor === 'object' ? 'an object without a query function' : typeof executor;
    throw new ProvisionerError(`Expected a SQL executor with a query(text, values) function, got ${found}`);
  }
  if (isConnectionPool(executor)) {
    throw new ProvisionerError(
      "Expected the client that runs the app's transaction (const client = await pool.connect(); await client.query('BEGIN')), got a connection pool: its queries may each run on another connection, outside the transaction",
    );
  }
}

/**
 * A unit of work bound to the transaction the app opened (`BEGIN`) on a `pg` client (a
 * `PoolClient` or a `Client`): hook calls made with it are written into that transaction, so
 * with the PostgreSQL store the record and its deliveries commit or roll back together, and
 * nothing committed is lost to a crash. `await uow.commit()` writes them, sends `COMMIT` and
 * wakes the pipeline at once; `await uow.rollback()` sends `ROLLBACK` and nothing is sent.
 *
 * @example
 * ```ts
 * const client = await pool.connect();
 * const uow = createPgUnitOfWork(client);
 * try {
 *   await client.query('BEGIN');
 *   await client.query('UPDATE records SET data = $2 WHERE id = $1', [record.id, record]);
 *   hooks.publish({ identity, record, uow });
 *   await uow.commit();
 * } catch (error) {
 *   await uow.rollback(); // the connection goes back to the pool out of the failed transaction
 *   throw error;
 * } finally {
 *   client.release();
 * }
 * ```
 */
export function createPgUnitOfWork(client: SqlExecutor): PgUnitOfWork {
  const uow = createExecutorUnitOfWork(client);
  let ending: 'commit' | 'rollback' | null = null;
  /**
   * Refuses a second end, or one after the first, without a statement: it would end whatever
   * transaction the app runs next on this client. A rollback of a unit already rolled back
   * (its commit() failed, say) does nothing: answers `false`.
   */
  const mayEnd = (action: 'commit' | 'rollback'): boolean => {
    if (action === 'rollback' && uow.state === 'rolled-back' && ending === null) return false;
    const done = uow.state !== 'open' ? `one already ${uow.state}` : ending !== null ? `one whose ${ending}() is running` : null;
    if (done !== null) throw new ProvisionerError(`Expected an open unit of work to ${action === 'commit' ? 'commit' : 'roll back'}, got ${done}`);
    ending = action;
    return true;
  };
  const commit = async (): Promise<void> => {
    try {
      // A pg client: the hook calls' statements and the COMMIT in one round trip (a simple
      // query of several statements; should the first fail, the COMMIT is not run).
      const isPgClient = typeof (client as { escapeLiteral?: unknown }).escapeLiteral === 'function';
      const prepareAsText = statementsOf.get(uow);
      let statements: string | null = null;
      if (isPgClient && prepareAsText !== undefined) statements = await prepareAsText(sqlLiteral);
      else await uow.prepare();
      await client.query(statements === null || statements === '' ? 'COMMIT' : `${statements}; COMMIT`);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (uow.state === 'open') uow.rolledBack();
      throw error;
    }
    uow.committed();
  };
  const rollback = async (): Promise<void> => {
    try {
      await client.query('ROLLBACK');
    } finally {
      if (uow.state === 'open') uow.rolledBack();
    }
  };
  return Object.assign(uow, {
    async commit(): Promise<void> {
      mayEnd('commit');
      await commit().finally(() => (ending = null));
    },
    async rollback(): Promise<void> {
      if (!mayEnd('rollback')) return;
      await rollback().finally(() => (ending = null));
    },
  });
}
