/**
 * The PostgreSQL store's outbox table: what the hooks write in the app's own transaction, one
 * narrow row per transaction, moved into pg-boss's job table after the COMMIT.
 * @internal
 * @packageDocumentation
 */
import { createHash } from 'node:crypto';
import type { PoolClient, QueryResult } from 'pg';
import type { PgBoss } from 'pg-boss';
import { sqlLiteral, type SqlExecutor } from '../../hooks/outboxUnitOfWork.js';
import { messageOf } from '../../util/describeValue.js';
import { logger } from '../../util/log.js';
import { OneAtATime } from '../oneAtATime.js';
import { sleep } from '../waits.js';
import { BEGIN_UNFLUSHED, executorOf, type PostgresContext } from './postgresContext.js';
import { INSERT_BATCH, JOURNAL_PAYLOAD_MAX, JOURNAL_PAYLOAD_PREFIX, LANES_SEPARATOR, type NewJob } from './postgresJob.js';
import type { PostgresJournal } from './postgresJournal.js';

const log = logger('delivery');

/** Outbox rows moved in one transaction at most. */
const MOVE_ROWS = 500;

/**
 * A busy outbox is moved at most this often (ms), so that the commits of that time share one
 * move (a transaction on the same database the app's transactions wait on); an outbox idle
 * that long is moved at once after a COMMIT.
 */
const MOVE_SPACING_MS = 10;

/**
 * After a move, the outbox rests this many times as long as the move took (at most
 * {@link MOVE_REST_MAX_MS}) before the next: moving takes at most about a fifth of the time, and
 * the database's time goes to the app's transactions. A move's cost is mostly its own (a
 * statement, a commit), not its rows': when moves get slow, more commits share the next one.
 */
const MOVE_REST = 4;

/** Longest rest after a slow move (ms): a move held up by a lock does not hold up the next for long. */
const MOVE_REST_MAX_MS = 100;

/**
 * The app's transaction writes its deliveries here with one plain INSERT (no NOTIFY: the
 * notification queue's lock would serialize every app COMMIT, and pg-boss's insert touches a
 * dozen indexes). After the COMMIT this instance moves them into pg-boss at once; rows a
 * crashed instance committed but never moved are moved by the next instance that looks (on
 * start and every poll). One mover at a time in the whole database, holding a session lock
 * taken before its transaction begins: pg-boss orders a lane by the inserting transaction's
 * start time, so each move starts after the previous one ended, and rows keep their order.
 * @internal
 */
export class PostgresOutbox {
  readonly #context: PostgresContext;
  readonly #journal: PostgresJournal;
  readonly #lockKey: bigint;
  readonly #moves: OneAtATime;
  /** When the next move may start (performance.now()). */
  #nextMoveAt = Number.NEGATIVE_INFINITY;
  /** Rows this instance committed and has not moved yet: journal writes of its own wait for them. */
  #committed = 0;
  /** pg-boss's insert statement of this store's queue, for moves made inside the database (`null`: rows travel through this process). */
  #bossInsert: Promise<string | null> | null = null;

  constructor(context: PostgresContext, journal: PostgresJournal) {
    this.#context = context;
    this.#journal = journal;
    this.#lockKey = createHash('sha256').update(`${context.schema}.rap_outbox`).digest().readBigInt64BE(0);
    this.#moves = new OneAtATime(() => this.#moveAll(), {
      beforeEach: async () => {
        const waitMs = this.#nextMoveAt - performance.now();
        if (waitMs > 0) await sleep(waitMs);
      },
      onError: (error) => log('store (postgres): moving the outbox into pg-boss failed (the next poll tries again): %s', messageOf(error)),
    });
  }

  /** Writes `jobs` through the app's transaction: one row. */
  async write(executor: SqlExecutor, jobs: readonly NewJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await executor.query(`INSERT INTO ${this.#context.schema}.rap_outbox (store, jobs) VALUES ($1, $2)`, [this.#context.queue, JSON.stringify(jobs)]);
  }

  /** The same INSERT with its values inlined (`literal` escapes them as the app's pg client does), to send with the COMMIT. */
  statement(jobs: readonly NewJob[], literal: (value: string) => string): string {
    if (jobs.length === 0) return 'SELECT 1';
    return `INSERT INTO ${this.#context.schema}.rap_outbox (store, jobs) VALUES (${literal(this.#context.queue)}, ${literal(JSON.stringify(jobs))})`;
  }

  /** The app's transaction committed a row here: moved now, or with the next move when `moveNow` is false. */
  committed(moveNow: boolean): Promise<void> {
    this.#committed += 1;
    return moveNow ? this.move() : Promise.resolve();
  }

  /** Whether rows this instance committed may not be moved yet. */
  get holdsCommitted(): boolean {
    return this.#committed > 0;
  }

  /**
   * Moves every committed row into pg-boss, in order (one move at a time; a request meanwhile
   * moves again after it, paced by {@link MOVE_SPACING_MS} and {@link MOVE_REST}).
   */
  move(): Promise<void> {
    return this.#moves.run();
  }

  /** Moves every row there is, one transaction at a time. */
  async #moveAll(): Promise<void> {
    const started = performance.now();
    try {
      const before = this.#committed;
      while (await this.#moveOnce());
      this.#committed = Math.max(0, this.#committed - before);
    } finally {
      const ended = performance.now();
      this.#nextMoveAt = Math.max(started + MOVE_SPACING_MS, ended + Math.min(MOVE_REST * (ended - started), MOVE_REST_MAX_MS));
    }
  }

  /** Moves rows if there are any (another instance's left by a crash, or a unit of work never told it committed) and `mayMove` still says so once they are found. */
  async poll(mayMove: () => boolean): Promise<void> {
    if (this.#moves.running || !mayMove()) return;
    try {
      const { rows } = await this.#context.pool.query(`SELECT 1 FROM ${this.#context.schema}.rap_outbox WHERE store = $1 LIMIT 1`, [this.#context.queue]);
      if (rows.length > 0 && mayMove()) await this.move();
    } catch (error) {
      log('store (postgres): looking at the outbox failed: %s', messageOf(error));
    }
  }

  /** Moves rows in one transaction, in order: whether rows may be left. */
  async #moveOnce(): Promise<boolean> {
    const bossInsert = await (this.#bossInsert ??= this.#captureBossInsert());
    const client = await this.#context.pool.connect();
    let broken: Error | undefined;
    try {
      // The lock before BEGIN: the transaction, and the created_on of the jobs it inserts, start after the previous move ended.
      await client.query(`SELECT pg_advisory_lock(${this.#lockKey})`);
      let unlocked = false;
      try {
        if (bossInsert !== null) {
          // One round trip: the transaction, the move inside the database, the COMMIT and the lock given back.
          const { schema, queue, channel } = this.#context;
          const statement = outboxMoveStatement(bossInsert, { schema, store: queue, channel, limit: MOVE_ROWS, maxBytes: INSERT_BATCH.maxBytes });
          const results = (await client.query(`${BEGIN_UNFLUSHED}; ${statement}; COMMIT; SELECT pg_advisory_unlock(${this.#lockKey})`)) as unknown as QueryResult<MoveRow>[];
          unlocked = true;
          const moved = results.find((result) => result.command === 'SELECT' && result.fields.some((field) => field.name === 'taken'))?.rows[0];
          if (moved === undefined) throw new Error('Expected the outbox move to answer with a row, it answered with none');
          this.#journal.inserted(moved.jobs);
          return moved.more;
        }
        let limit = MOVE_ROWS;
        for (;;) {
          const moved = await this.#moveRows(client, limit);
          if (moved.kind === 'moved') {
            // One round trip: the COMMIT and the lock given back.
            await client.query(`COMMIT; SELECT pg_advisory_unlock(${this.#lockKey})`);
            unlocked = true;
            return moved.more;
          }
          await client.query('ROLLBACK');
          limit = moved.fits;
        }
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        if (!unlocked) {
          await client.query(`SELECT pg_advisory_unlock(${this.#lockKey})`).catch((error: unknown) => {
            // A connection that could not give the lock back is dropped, and the lock with it.
            broken = error instanceof Error ? error : new Error(String(error));
          });
        }
      }
    } finally {
      client.release(broken);
    }
  }

  /** pg-boss's insert statement for moves inside the database; `null` (rows through this process) when it cannot be had. */
  async #captureBossInsert(): Promise<string | null> {
    try {
      const insert = await bossInsertStatement(this.#context.boss, this.#context.queue);
      if (insert === null) log('store (postgres): pg-boss inserts jobs with a statement this store does not know: outbox rows are moved through this process');
      return insert;
    } catch (error) {
      log('store (postgres): could not take pg-boss\'s insert statement, outbox rows are moved through this process: %s', messageOf(error));
      return null;
    }
  }

  /**
   * Takes the first `limit` rows out of the outbox and inserts their jobs, in a transaction left
   * open; or, when not all of them keep their lanes' order in one insert, answers how many do.
   */
  async #moveRows(client: PoolClient, limit: number): Promise<{ readonly kind: 'moved'; readonly more: boolean } | { readonly kind: 'cut'; readonly fits: number }> {
    const { schema, queue } = this.#context;
    await client.query(BEGIN_UNFLUSHED);
    // ORDER BY the column, not a text alias of the same name ('1000' < '401').
    const { rows } = await client.query<{ seq: string; jobs: string }>(
      `DELETE FROM ${schema}.rap_outbox WHERE store = $1 AND seq IN (SELECT o.seq FROM ${schema}.rap_outbox o WHERE o.store = $1 ORDER BY o.seq LIMIT ${limit})
       RETURNING seq::text AS seq, jobs`,
      [queue],
    );
    rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    const taken = inLaneOrder(rows.map((row) => JSON.parse(row.jobs) as NewJob[]));
    if (taken.rows < rows.length) return { kind: 'cut', fits: taken.rows };
    if (taken.jobs.length > 0) await this.#journal.insert(taken.jobs, executorOf(client));
    return { kind: 'moved', more: rows.length === limit };
  }
}

/**
 * The first rows whose jobs one pg-boss insert keeps in lane order: an insert gives its jobs
 * one created_on and pg-boss breaks the tie by job id, which grows with the hooks' counter of
 * one process only. A row with a job that would sort before its lane's previous one (another
 * process wrote it) waits for the next move, whose transaction starts later.
 * @internal
 */
export function inLaneOrder(rows: readonly (readonly NewJob[])[]): { readonly rows: number; readonly jobs: NewJob[] } {
  const last = new Map<string, string>();
  const jobs: NewJob[] = [];
  let count = 0;
  for (const row of rows) {
    if (count > 0 && row.some((job) => (last.get(job.singletonKey) ?? '') > job.id)) break;
    for (const job of row) {
      last.set(job.singletonKey, job.id);
      jobs.push(job);
    }
    count += 1;
  }
  return { rows: count, jobs };
}

/**
 * The statement pg-boss sends to insert jobs into `queue`, taken from pg-boss itself (nothing
 * runs: its executor only keeps the text), when it is the one-parameter INSERT that
 * {@link outboxMoveStatement} builds on; otherwise `null`. @internal
 */
export async function bossInsertStatement(boss: PgBoss, queue: string): Promise<string | null> {
  let captured: string | null = null;
  const probe: NewJob = { id: '00000000-0000-4000-8000-000000000000', singletonKey: 'probe', group: { id: 'probe' }, data: { v: 1, deliveryId: 'probe', endpoint: 'probe', key: 'probe', acceptedAt: 0, event: '' } };
  await boss.insert(queue, [probe], {
    db: {
      executeSql: async (text: string) => {
        captured = text;
        return { rows: [] };
      },
    },
  });
  return captured === null ? null : recognizedBossInsert(captured);
}

/** What an outbox move made inside the database answers. */
type MoveRow = { readonly taken: number; readonly jobs: number; readonly cut: boolean; readonly more: boolean };

/**
 * pg-boss's insert statement when it has the shape a move inside the database builds on: one
 * INSERT whose only parameter is its jobs, as `$1::text::json`. @internal
 */
export function recognizedBossInsert(text: string): string | null {
  if (!/^\s*INSERT\s/i.test(text) || /;\s*\S/.test(text)) return null;
  const parameters = text.match(/\$\d+/g) ?? [];
  return parameters.length === 1 && text.includes('$1::text::json') ? text : null;
}

/**
 * One statement that moves the first `limit` outbox rows of `store` into pg-boss, in order
 * (fewer when their jobs' JSON passes `maxBytes`; always the first row), and wakes every
 * instance: it deletes the rows, inserts their jobs with pg-boss's own insert, and notifies the
 * store's channel when it moved any (the payload of `journalPayload`, its endpoints and lanes). Like
 * {@link inLaneOrder}, it stops before the first row with a job that would sort before its
 * lane's previous one (ids compared byte by byte, as in JavaScript); that row goes first in the
 * next move. Answers `taken` (rows read to move), `jobs` (jobs inserted), `cut` (whether it
 * stopped before a row out of order) and `more` (whether rows may be left). @internal
 */
export function outboxMoveStatement(
  bossInsert: string,
  options: { readonly schema: string; readonly store: string; readonly channel: string; readonly limit: number; readonly maxBytes: number },
): string {
  const { schema, channel, limit, maxBytes } = options;
  const store = sqlLiteral(options.store);
  // json_agg makes the json pg-boss's insert reads without parsing it again: `jsonb_agg(...)::text::json`
  // validated the whole text, a quarter of the move's time with 3 KB events.
  const jobs = "(SELECT coalesce(json_agg(job ORDER BY seq, ord), '[]'::json) FROM moving)";
  return `WITH candidates AS (
      SELECT seq, jobs, row_number() OVER (ORDER BY seq) AS n, sum(length(jobs)) OVER (ORDER BY seq) AS upto
      FROM (SELECT seq, jobs FROM ${schema}.rap_outbox WHERE store = ${store} ORDER BY seq LIMIT ${limit}) first_rows
    ), taken AS (
      SELECT seq, jobs::jsonb AS jobs FROM candidates WHERE n = 1 OR upto <= ${maxBytes}
    ), elements AS (
      SELECT t.seq, e.ord, e.job, e.job ->> 'singletonKey' AS lane, (e.job ->> 'id') COLLATE "C" AS id
      FROM taken t CROSS JOIN LATERAL jsonb_array_elements(t.jobs) WITH ORDINALITY AS e(job, ord)
    ), cut AS (
      SELECT min(seq) AS seq FROM (
        SELECT seq, id, max(id) OVER (PARTITION BY lane ORDER BY seq RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before FROM elements
      ) ordered WHERE before > id
    ), moved AS (
      DELETE FROM ${schema}.rap_outbox WHERE store = ${store} AND seq IN (SELECT seq FROM taken WHERE seq < coalesce((SELECT seq FROM cut), 9223372036854775807))
      RETURNING seq
    ), moving AS (
      SELECT e.seq, e.ord, e.job || jsonb_build_object('groupId', e.job -> 'group' ->> 'id') AS job FROM elements e WHERE e.seq IN (SELECT seq FROM moved)
    ), inserted AS (
      ${bossInsert.replace('$1::text::json', () => jobs)}
    )
    SELECT (SELECT count(*) FROM taken)::int AS taken, (SELECT count(*) FROM moving)::int AS jobs, (SELECT seq FROM cut) IS NOT NULL AS cut,
      ((SELECT count(*) FROM candidates) = ${limit} OR (SELECT count(*) FROM taken) < (SELECT count(*) FROM candidates) OR (SELECT seq FROM cut) IS NOT NULL) AS more,
      (SELECT pg_notify(${sqlLiteral(channel)}, CASE WHEN octet_length(with_lanes) <= ${JOURNAL_PAYLOAD_MAX} THEN with_lanes WHEN length(endpoints) <= ${JOURNAL_PAYLOAD_MAX} THEN endpoints ELSE 'journal' END)
         FROM (SELECT endpoints, endpoints || '${LANES_SEPARATOR}' || lanes AS with_lanes FROM (
           SELECT '${JOURNAL_PAYLOAD_PREFIX}' || string_agg(DISTINCT job ->> 'groupId', ',') AS endpoints, json_agg(DISTINCT job ->> 'singletonKey')::text AS lanes FROM moving
         ) named) p WHERE EXISTS (SELECT 1 FROM moving)) AS notified`;
}
