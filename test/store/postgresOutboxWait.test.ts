// A delivery committed in the app's transaction whose lane is busy in this instance (the
// record's previous delivery is still being attempted here) waits in the outbox rather than
// being moved into pg-boss, where nobody could take it before that lane frees: the app's later
// transactions do not share the database with that move. It is moved, and delivered in order,
// as soon as the lane frees; a delivery of a free lane committed meanwhile is moved and sent at
// once. Needs the real PostgreSQL (DATABASE_URL overrides 127.0.0.1:5432); fails, not skipped,
// when it does not answer.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgUnitOfWork, createPostgresStore, createProvisioner } from '../../src/index.js';
import { identity, recordAt, revisionConfig } from '../helpers/factories.js';
import { answerJson, startReceiver } from '../helpers/receiver.js';
import { DATABASE_URL, assertPostgresReachable, dropSchema, query, uniqueSchema } from './helpers/postgres.js';

const schema = uniqueSchema();
let pool: pg.Pool;

beforeAll(async () => {
  await assertPostgresReachable();
  pool = new pg.Pool({ connectionString: DATABASE_URL, max: 10 });
});
afterAll(async () => {
  await pool?.end();
  await dropSchema(schema);
});

describe('postgres store, the outbox while a lane is busy', () => {
  it('keeps a committed delivery whose lane is busy here in the outbox, moves it as the lane frees, and sends a free lane at once', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const receiver = await startReceiver(async (request, response) => {
      // The first revision of rec-busy is answered only when the test says so.
      if (request.recordId === 'rec-busy' && request.revision === 1) await released;
      answerJson(response, 200, { ok: true });
    });
    const store = await createPostgresStore({ pool, schema, name: 'wait', pollIntervalMs: 100, drainPollMs: 20 });
    const provisioner = createProvisioner({ events: revisionConfig(receiver.url(), () => undefined), store });
    const publish = provisioner.hooks('rdm_record').publish;
    const commit = async (id: string, revision: number): Promise<void> => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const uow = createPgUnitOfWork(client);
        publish({ identity, record: recordAt(id, revision), uow });
        await uow.commit();
      } finally {
        client.release();
      }
    };
    const outboxRows = async (): Promise<number> => Number((await query<{ n: string }>(`SELECT count(*)::text AS n FROM ${schema}.rap_outbox WHERE store = 'wait'`))[0]?.n);
    try {
      await commit('rec-busy', 1);
      await receiver.waitFor(1, 10_000);
      // A move asked for meanwhile (the poll's) is over.
      await sleep(300);
      await commit('rec-busy', 2);
      // Ten polls later the second revision still waits in the outbox: its lane is held here.
      await sleep(1_000);
      expect(await outboxRows()).toBe(1);
      // Another record's lane is free: moved (with the row waiting before it) and sent at once.
      await commit('rec-free', 1);
      await receiver.waitFor(2, 10_000);
      expect(receiver.requests.map((r) => `${r.recordId}@${r.revision}`)).toEqual(['rec-busy@1', 'rec-free@1']);
      expect(await outboxRows()).toBe(0);
      release();
      await provisioner.drain();
      expect(receiver.requests.filter((r) => r.recordId === 'rec-busy').map((r) => r.revision)).toEqual([1, 2]);
      expect(await outboxRows()).toBe(0);
    } finally {
      release();
      await provisioner.close();
      await receiver.close();
    }
  });
});
