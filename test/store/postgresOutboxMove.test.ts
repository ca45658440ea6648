// The PostgreSQL store moves its outbox into pg-boss inside the database, in one statement:
// the rows' jobs go in with pg-boss's own insert, in lane order (a row whose job would sort
// before its lane's previous one waits for the next move, as inLaneOrder decides), and the
// NOTIFY names the endpoints and lanes of the jobs moved. Needs the real PostgreSQL (DATABASE_URL
// overrides 127.0.0.1:5432); fails, not skipped, when it does not answer.
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointIdsOfPayload, journalPayload, lanesOfPayload, type NewJob } from '../../src/store/postgres/postgresJob.js';
import type { PostgresContext } from '../../src/store/postgres/postgresContext.js';
import { PostgresJournal } from '../../src/store/postgres/postgresJournal.js';
import { bossInsertStatement, inLaneOrder, outboxMoveStatement, PostgresOutbox, recognizedBossInsert } from '../../src/store/postgres/postgresOutbox.js';
import { createPostgresStore } from '../../src/store/postgres/postgresStore.js';
import { DATABASE_URL, assertPostgresReachable, dropSchema, uniqueSchema } from './helpers/postgres.js';

const schema = uniqueSchema();
const store = 'move';
const channel = `${schema}_moves`;
let pool: pg.Pool;
let boss: PgBoss;
let bossInsert: string | null;

/** A job of `lane` to endpoint `endpointId` whose id ends in `n` (ids of one length, so text order is number order). */
const job = (lane: string, n: number, endpointId = 'ep-one'): NewJob => ({
  id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  singletonKey: lane,
  group: { id: endpointId },
  data: { v: 1, deliveryId: `${lane}-${n}`, endpoint: `https://${endpointId}.test/`, key: lane, acceptedAt: n, event: 'AQ==' },
});

async function writeRows(rows: readonly (readonly NewJob[])[]): Promise<void> {
  for (const row of rows) await pool.query(`INSERT INTO ${schema}.rap_outbox (store, jobs) VALUES ($1, $2)`, [store, JSON.stringify(row)]);
}

async function move(maxBytes = 1024 * 1024): Promise<{ taken: number; jobs: number; cut: boolean; more: boolean }> {
  if (bossInsert === null) throw new Error('Expected pg-boss\'s insert statement to be recognized');
  const client = await pool.connect();
  try {
    const results = (await client.query(`BEGIN; ${outboxMoveStatement(bossInsert, { schema, store, channel, limit: 500, maxBytes })}; COMMIT`)) as unknown as pg.QueryResult[];
    const row = results[1]?.rows[0] as { taken: number; jobs: number; cut: boolean; more: boolean };
    return { taken: row.taken, jobs: row.jobs, cut: row.cut, more: row.more };
  } finally {
    client.release();
  }
}

const left = async (): Promise<string[][]> =>
  (await pool.query<{ jobs: string }>(`SELECT jobs FROM ${schema}.rap_outbox WHERE store = $1 ORDER BY seq`, [store])).rows.map((row) =>
    (JSON.parse(row.jobs) as NewJob[]).map((j) => j.data.deliveryId),
  );

const inserted = async (): Promise<{ id: string; singleton_key: string; group_id: string; data: NewJob['data'] }[]> =>
  (await pool.query(`SELECT id::text, singleton_key, group_id, data FROM ${schema}.job WHERE name = $1 ORDER BY id`, [store])).rows;

beforeAll(async () => {
  await assertPostgresReachable();
  pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  // The store creates the schema, pg-boss's tables and queue, and its own; closed, it moves nothing while the test does.
  const created = await createPostgresStore({ pool, schema, name: store });
  await created.close();
  boss = new PgBoss({ connectionString: DATABASE_URL, schema, migrate: false, supervise: false, schedule: false } as ConstructorParameters<typeof PgBoss>[0]);
  await boss.start();
  bossInsert = await bossInsertStatement(boss, store);
});

afterAll(async () => {
  await boss?.stop({ graceful: false }).catch(() => undefined);
  await pool?.end();
  await dropSchema(schema);
});

describe('postgres outbox, the move inside the database', () => {
  it('recognizes pg-boss\'s insert statement, and only a one-parameter INSERT of its jobs', () => {
    expect(bossInsert).not.toBeNull();
    expect(bossInsert).toMatch(/^\s*INSERT INTO/);
    expect(recognizedBossInsert('INSERT INTO j SELECT * FROM json_to_recordset($1::text::json) AS x (id uuid)')).not.toBeNull();
    expect(recognizedBossInsert('INSERT INTO j SELECT * FROM json_to_recordset($1::text::json) AS x (id uuid) WHERE $2')).toBeNull();
    expect(recognizedBossInsert('INSERT INTO j SELECT * FROM json_to_recordset($1::json) AS x (id uuid)')).toBeNull();
    expect(recognizedBossInsert('INSERT INTO j SELECT * FROM json_to_recordset($1::text::json) AS x (id uuid); SELECT 1')).toBeNull();
    expect(recognizedBossInsert('WITH x AS (SELECT 1) INSERT INTO j SELECT * FROM json_to_recordset($1::text::json) AS y (id uuid)')).toBeNull();
  });

  it('moves the rows that keep their lanes in order, as inLaneOrder decides, and the rest in the next move', async () => {
    const rows = [[job('a', 50), job('b', 20)], [job('b', 21)], [job('a', 40)], [job('c', 60)]];
    await writeRows(rows);
    // a-40 would sort before a-50 in one insert: it waits, and c-60 behind it.
    expect(inLaneOrder(rows).rows).toBe(2);
    expect(await move()).toEqual({ taken: 4, jobs: 3, cut: true, more: true });
    expect(await left()).toEqual([['a-40'], ['c-60']]);
    expect((await inserted()).map((row) => row.data.deliveryId)).toEqual(['b-20', 'b-21', 'a-50']);

    expect(await move()).toEqual({ taken: 2, jobs: 2, cut: false, more: false });
    expect(await left()).toEqual([]);
    const jobs = await inserted();
    expect(jobs.map((row) => row.data.deliveryId)).toEqual(['b-20', 'b-21', 'a-40', 'a-50', 'c-60']);
    // Each job as pg-boss's own insert would have written it: its lane, its endpoint's group, its data.
    const a40 = jobs.find((row) => row.data.deliveryId === 'a-40');
    expect(a40).toEqual({ id: job('a', 40).id, singleton_key: 'a', group_id: 'ep-one', data: job('a', 40).data });
  });

  it('moves nothing from an empty outbox, and notifies only when it moved jobs, naming their endpoints and lanes', async () => {
    const listener = new pg.Client({ connectionString: DATABASE_URL });
    await listener.connect();
    const payloads: string[] = [];
    listener.on('notification', (message) => payloads.push(message.payload ?? ''));
    try {
      await listener.query(`LISTEN "${channel}"`);
      expect(await move()).toEqual({ taken: 0, jobs: 0, cut: false, more: false });
      await writeRows([[job('d', 70, 'ep-two'), job('e', 71, 'ep-one')], [job('f', 72, 'ep-two')]]);
      expect(await move()).toEqual({ taken: 2, jobs: 3, cut: false, more: false });
      await listener.query('SELECT 1');
      expect(payloads).toHaveLength(1);
      expect([...(endpointIdsOfPayload(payloads[0] ?? '') ?? [])].sort()).toEqual(['ep-one', 'ep-two']);
      expect([...(lanesOfPayload(payloads[0] ?? '') ?? [])].sort()).toEqual(['d', 'e', 'f']);
    } finally {
      await listener.end();
    }
  });
});

describe('postgres outbox, a move\'s size', () => {
  it('takes rows up to maxBytes of their jobs\' JSON, always the first one, and says that rows are left', async () => {
    const rows = [[job('g', 80)], [job('h', 81)], [job('i', 82)]];
    await writeRows(rows);
    const rowBytes = JSON.stringify(rows[0]).length;
    // Room for two rows: the third waits for the next move.
    expect(await move(2 * rowBytes + 1)).toEqual({ taken: 2, jobs: 2, cut: false, more: true });
    expect(await left()).toEqual([['i-82']]);
    // Less room than one row: the first goes all the same.
    expect(await move(1)).toEqual({ taken: 1, jobs: 1, cut: false, more: false });
    expect(await left()).toEqual([]);
  });
});

describe('postgres outbox, pg-boss\'s insert in a shape the move does not know', () => {
  it('moves the rows through the process instead, in the same order and with the same cut', async () => {
    // pg-boss, its insert statement prefixed with a comment: no longer the one-parameter INSERT the move builds on.
    const otherShape = new Proxy(boss, {
      get(target, property, receiver) {
        if (property !== 'insert') return Reflect.get(target, property, receiver) as unknown;
        return (queue: string, jobs: NewJob[], options: { db: { executeSql(text: string, values?: unknown[]): Promise<unknown> } }) =>
          target.insert(queue, jobs, { db: { executeSql: (text: string, values?: unknown[]) => options.db.executeSql(`/* another shape */ ${text}`, values) } } as never);
      },
    });
    expect(await bossInsertStatement(otherShape, store)).toBeNull();
    const context: PostgresContext = { boss: otherShape, pool, queue: store, schema, channel, instance: 'fallback-test', options: {} };
    const journal = new PostgresJournal(context, { onUnwritten: () => undefined, isClosed: () => false, beforeWrite: async () => undefined });
    const outbox = new PostgresOutbox(context, journal);
    const before = (await inserted()).length;
    await writeRows([[job('j', 90)], [job('k', 91), job('j', 92)], [job('j', 89)], [job('l', 93)]]);
    // One move() runs until the outbox is empty: j-89 sorts before j-92 and goes in the next transaction, l-93 behind it.
    await outbox.move();
    expect(await left()).toEqual([]);
    const jobs = (await inserted()).filter((row) => ['j', 'k', 'l'].includes(row.singleton_key));
    expect(jobs.map((row) => row.data.deliveryId).sort()).toEqual(['j-89', 'j-90', 'j-92', 'k-91', 'l-93']);
    expect((await inserted()).length).toBe(before + 5);
    // The cut row went in a later transaction: pg-boss's lane order (created_on, then id) keeps the journal's.
    const { rows } = await pool.query<{ id: string; created_on: Date }>(`SELECT data->>'deliveryId' AS id, created_on FROM ${schema}.job WHERE name = $1 AND singleton_key = 'j' ORDER BY created_on, id`, [store]);
    expect(rows.map((row) => row.id)).toEqual(['j-90', 'j-92', 'j-89']);
  });
});

describe('postgres journal notifications', () => {
  it('name the endpoints and lanes of the new jobs once each, the endpoints alone when the lanes are too many, and any endpoint when those are', () => {
    const payload = journalPayload([job('a', 1, 'ep-one'), job('b|c,"d"', 2, 'ep-two'), job('a', 3, 'ep-one')]);
    expect(endpointIdsOfPayload(payload)).toEqual(['ep-one', 'ep-two']);
    expect(lanesOfPayload(payload)).toEqual(['a', 'b|c,"d"']);
    // Lanes past the payload's 7,000 bytes (counted in bytes, not characters): the endpoints only.
    const wide = Array.from({ length: 800 }, (_, n) => job(`é-lane-${n}`, n, 'ep-one'));
    expect(Buffer.byteLength(JSON.stringify(wide.map((j) => j.singletonKey)))).toBeGreaterThan(7_000);
    expect(journalPayload(wide)).toBe('journal:ep-one');
    expect(lanesOfPayload(journalPayload(wide))).toBeNull();
    const many = Array.from({ length: 1_000 }, (_, n) => job(`l${n}`, n, `endpoint-${String(n).padStart(6, '0')}`));
    expect(journalPayload(many)).toBe('journal');
    expect(endpointIdsOfPayload('journal')).toBeNull();
    expect(lanesOfPayload('journal')).toBeNull();
    expect(endpointIdsOfPayload('outcome:instance-1')).toBeNull();
    expect(lanesOfPayload('outcome:instance-1')).toBeNull();
  });
});
