// The transactional outbox's units of work against the real PostgreSQL (127.0.0.1:5432,
// DATABASE_URL overrides) and a loopback receiver: a Kysely transaction through the generic
// executor, and a pg client through createPgUnitOfWork. Hook calls are written in the app's
// transaction: delivered once it commits, never when it rolls back, and a failing write rolls
// the record back with it.
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createExecutorUnitOfWork,
  createPgUnitOfWork,
  createPostgresStore,
  createProvisioner,
  createUnitOfWork,
  isOutboxUnitOfWork,
  type AppRecord,
  type ProvisionerConfig,
  type SqlExecutor,
} from '../../src/index.js';
import { DATABASE_URL, assertPostgresReachable, dropSchema, uniqueSchema } from '../store/helpers/postgres.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const schema = uniqueSchema();
let pool: pg.Pool;
let receiver: Receiver;

type Records = { records: { id: string; data: string } };

beforeAll(async () => {
  await assertPostgresReachable();
  pool = new pg.Pool({ connectionString: DATABASE_URL });
  await pool.query(`CREATE SCHEMA ${schema}`);
  await pool.query(`CREATE TABLE ${schema}.records (id text PRIMARY KEY, data jsonb NOT NULL)`);
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await pool.end();
  await dropSchema(schema);
});

async function provisionerFor(name: string) {
  const config = {
    rdm_record: {
      [receiver.url()]: { publish: { http_method: 'POST', payload: ({ record }: { record: AppRecord }) => ({ id: String(record.id), revision_id: Number(record['revision_id']) }) } },
    },
  } as unknown as ProvisionerConfig;
  const store = await createPostgresStore({ pool, schema, name, drainPollMs: 20 });
  return createProvisioner({ events: config, store });
}

const arrivalsOf = (recordId: string): number[] => receiver.requests.filter((a) => a.recordId === recordId).map((a) => a.revision);
const recordsLike = async (prefix: string): Promise<string[]> =>
  (await pool.query<{ id: string }>(`SELECT id FROM ${schema}.records WHERE id LIKE $1 ORDER BY id`, [`${prefix}%`])).rows.map((row) => row.id);

describe('units of work of the transactional outbox', () => {
  it('tells an outbox unit of work from a plain one', () => {
    const executor: SqlExecutor = { query: async () => ({ rows: [] }) };
    expect(isOutboxUnitOfWork(createExecutorUnitOfWork(executor))).toBe(true);
    expect(isOutboxUnitOfWork(createUnitOfWork())).toBe(false);
    expect(() => createExecutorUnitOfWork({} as SqlExecutor)).toThrow('Expected a SQL executor with a query(text, values) function, got an object without a query function');
  });

  it('refuses a connection pool, whose queries may run outside the app\'s transaction', () => {
    for (const create of [createPgUnitOfWork, createExecutorUnitOfWork]) {
      expect(() => create(pool)).toThrow(
        "Expected the client that runs the app's transaction (const client = await pool.connect(); await client.query('BEGIN')), got a connection pool: its queries may each run on another connection, outside the transaction",
      );
    }
  });

  it('writes hook calls in a Kysely transaction through the generic executor: delivered after it commits, never after it rolls back', async () => {
    const provisioner = await provisionerFor('kysely');
    const hooks = provisioner.hooks('rdm_record');
    const db = new Kysely<Records>({ dialect: new PostgresDialect({ pool }) }).withSchema(schema);
    try {
      const committed = await db.transaction().execute(async (trx) => {
        const uow = createExecutorUnitOfWork({ query: (text, values = []) => trx.executeQuery(CompiledQuery.raw(text, [...values])) });
        for (const revision of [1, 2, 3]) {
          const record = { id: 'kysely-a', revision_id: revision, access: { record: 'public' } };
          await trx.insertInto('records').values({ id: record.id, data: JSON.stringify(record) }).onConflict((oc) => oc.column('id').doUpdateSet({ data: JSON.stringify(record) })).execute();
          hooks.publish({ identity: { id: 1 }, record, uow });
        }
        await uow.prepare();
        return uow;
      });
      committed.committed();
      await provisioner.drain();
      expect(arrivalsOf('kysely-a')).toEqual([1, 2, 3]);

      const rollback = new Error('the app changed its mind');
      let rolledBack: ReturnType<typeof createExecutorUnitOfWork> | null = null;
      await expect(
        db.transaction().execute(async (trx) => {
          const uow = createExecutorUnitOfWork({ query: (text, values = []) => trx.executeQuery(CompiledQuery.raw(text, [...values])) });
          rolledBack = uow;
          await trx.insertInto('records').values({ id: 'kysely-b', data: '{}' }).execute();
          hooks.publish({ identity: { id: 1 }, record: { id: 'kysely-b', revision_id: 1, access: { record: 'public' } }, uow });
          await uow.prepare();
          throw rollback;
        }),
      ).rejects.toBe(rollback);
      (rolledBack as ReturnType<typeof createExecutorUnitOfWork> | null)?.rolledBack();
      await provisioner.drain();
      expect(arrivalsOf('kysely-b')).toEqual([]);
      expect(await recordsLike('kysely-b')).toEqual([]);
    } finally {
      await provisioner.close();
    }
  });

  it('createPgUnitOfWork: commit() writes the hook calls, commits and delivers; rollback() sends nothing; a failing write rolls the record back', async () => {
    const provisioner = await provisionerFor('pg');
    const hooks = provisioner.hooks('rdm_record');
    const client = await pool.connect();
    const events: unknown[] = [];
    const outcomeEvents: unknown[] = [];
    provisioner.events$.subscribe((event) => events.push(event));
    provisioner.outcomes$.subscribe((outcome) => outcomeEvents.push(outcome.event));
    try {
      await client.query('BEGIN');
      const uow = createPgUnitOfWork(client);
      const afterCommit: string[] = [];
      uow.onCommit(() => afterCommit.push('committed'));
      await client.query(`INSERT INTO ${schema}.records (id, data) VALUES ('pg-a', '{}')`);
      hooks.publish({ identity: { id: 1 }, record: { id: 'pg-a', revision_id: 1, access: { record: 'public' } }, uow });
      // Nothing is visible outside the transaction before the commit.
      expect(await recordsLike('pg-a')).toEqual([]);
      await uow.commit();
      expect(uow.state).toBe('committed');
      expect(afterCommit).toEqual(['committed']);
      await provisioner.drain();
      expect(arrivalsOf('pg-a')).toEqual([1]);
      // This instance delivered the event its hook journaled, not a copy decoded from the job.
      expect(outcomeEvents).toHaveLength(1);
      expect(outcomeEvents[0]).toBe(events[0]);

      await client.query('BEGIN');
      const dropped = createPgUnitOfWork(client);
      await client.query(`INSERT INTO ${schema}.records (id, data) VALUES ('pg-b', '{}')`);
      hooks.publish({ identity: { id: 1 }, record: { id: 'pg-b', revision_id: 1, access: { record: 'public' } }, uow: dropped });
      await dropped.rollback();
      expect(dropped.state).toBe('rolled-back');
      await provisioner.drain();
      expect(arrivalsOf('pg-b')).toEqual([]);
      expect(await recordsLike('pg-b')).toEqual([]);

      // The journal write fails inside the transaction (its table is gone for this session): the record goes with it.
      await client.query('BEGIN');
      const failing = createPgUnitOfWork({ query: (text, values) => (text.includes('INSERT INTO') && text.includes('.rap_outbox') ? Promise.reject(new Error('disk full')) : client.query(text, values as unknown[])) });
      await client.query(`INSERT INTO ${schema}.records (id, data) VALUES ('pg-c', '{}')`);
      hooks.publish({ identity: { id: 1 }, record: { id: 'pg-c', revision_id: 1, access: { record: 'public' } }, uow: failing });
      await expect(failing.commit()).rejects.toThrow('disk full');
      expect(failing.state).toBe('rolled-back');
      expect(await recordsLike('pg-c')).toEqual([]);
      // Rolling back after the failed commit (a catch block that always rolls back) does nothing more.
      await expect(failing.rollback()).resolves.toBeUndefined();
    } finally {
      client.release();
      await provisioner.close();
    }
  });

  it('createPgUnitOfWork: a second commit(), or rollback() after commit(), is refused without ending the next transaction on the client', async () => {
    const provisioner = await provisionerFor('pg-ended');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const first = createPgUnitOfWork(client);
      await client.query(`INSERT INTO ${schema}.records (id, data) VALUES ('ended-a', '{}')`);
      await first.commit();

      // The app's next transaction on the same client, while old code still holds the first unit.
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${schema}.records (id, data) VALUES ('ended-b', '{}')`);
      await expect(first.commit()).rejects.toThrow('Expected an open unit of work to commit, got one already committed');
      await expect(first.rollback()).rejects.toThrow('Expected an open unit of work to roll back, got one already committed');
      await client.query('COMMIT');
      expect(await recordsLike('ended-')).toEqual(['ended-a', 'ended-b']);

      await client.query('BEGIN');
      const twice = createPgUnitOfWork(client);
      const committing = twice.commit();
      await expect(twice.commit()).rejects.toThrow('Expected an open unit of work to commit, got one whose commit() is running');
      await committing;
      expect(twice.state).toBe('committed');
    } finally {
      client.release();
      await provisioner.close();
    }
  });

  it('delivers the hook calls of an executor unit of work told committed() without prepare(), journaled after the commit', async () => {
    const provisioner = await provisionerFor('unprepared');
    const hooks = provisioner.hooks('rdm_record');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const uow = createExecutorUnitOfWork(client);
      await client.query(`INSERT INTO ${schema}.records (id, data) VALUES ('unprepared-a', '{}')`);
      hooks.publish({ identity: { id: 1 }, record: { id: 'unprepared-a', revision_id: 1, access: { record: 'public' } }, uow });
      await client.query('COMMIT');
      uow.committed();
      await provisioner.drain();
      expect(arrivalsOf('unprepared-a')).toEqual([1]);
    } finally {
      client.release();
      await provisioner.close();
    }
  });
});
