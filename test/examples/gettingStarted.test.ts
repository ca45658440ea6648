import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRecordsApp } from '../../examples/getting-started/app.js';
import { CREATE_WORKS, publishWork, type Work } from '../../examples/getting-started/pgPublish.js';
import { createProvisioner, defineConfig, type DeliveryOutcome } from '../../src/index.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const servers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function searchService(): Promise<Receiver> {
  const server = await startReceiver((_request, response) => response.writeHead(201, { 'content-type': 'application/json' }).end('{"_id":"s-1"}'));
  servers.push(server);
  return server;
}

const work = (id: string, title: string, access: 'public' | 'restricted' = 'public'): Work => ({ id, access: { record: access }, metadata: { title } });

describe('docs/getting-started.md: the minimal node:http app', () => {
  it('sends committed publishes and deletes, skips restricted records, and sends nothing for a rolled-back publish', async () => {
    const search = await searchService();
    const app = await startRecordsApp(search.origin);
    const outcomes: DeliveryOutcome[] = [];
    app.provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    const call = (method: string, id: string, body?: Work) =>
      fetch(`${app.url}/records/${id}`, { method, headers: { 'x-user-id': '7' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

    expect((await call('PUT', 'q1k7x-8mz42', work('q1k7x-8mz42', 'A Romans Story'))).status).toBe(200);
    expect((await call('PUT', 'r2-restricted', work('r2-restricted', 'Not for the index', 'restricted'))).status).toBe(200);
    expect((await call('PUT', 'empty-title', work('empty-title', ' '))).status).toBe(400);
    expect((await call('DELETE', 'q1k7x-8mz42')).status).toBe(200);
    await app.provisioner.drain();
    await app.close();

    expect(search.requests.map((request) => `${request.method} ${request.path} ${request.body}`)).toEqual([
      'POST /api/v1/documents {"id":"q1k7x-8mz42","title":"A Romans Story"}',
      'DELETE /api/v1/documents/q1k7x-8mz42 ',
    ]);
    expect(outcomes.map((outcome) => `${outcome.kind} ${outcome.event.method} ${outcome.kind === 'skipped' ? outcome.reason : ''}`.trim())).toEqual([
      'delivered publish',
      'skipped publish restricted',
      'delivered delete_record',
    ]);
  });
});

describe('docs/getting-started.md: publish in a PostgreSQL transaction', () => {
  // A schema of its own, so that the example's `works` table never meets another test's.
  const schema = `getting_started_${process.pid}`;
  // The server on its standard loopback port, or DATABASE_URL (as CONTRIBUTING.md says).
  const connection = { connectionString: process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres' };
  let pool: pg.Pool;
  beforeAll(async () => {
    const admin = new pg.Client(connection);
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
    await admin.end();
    pool = new pg.Pool({ ...connection, options: `-c search_path=${schema}` });
    await pool.query(CREATE_WORKS);
  });
  afterAll(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  });

  it('sends the event after COMMIT, and nothing when the transaction rolls back', async () => {
    const search = await searchService();
    const documents = `${search.origin}/api/v1/documents`;
    const provisioner = createProvisioner<Work>({
      events: defineConfig<Work>({ rdm_record: { [documents]: { publish: { http_method: 'POST', payload: ({ record }) => ({ id: record.id }) } } } }),
    });
    const hooks = provisioner.hooks('rdm_record');
    const identity = { id: 7 };

    await publishWork(pool, hooks, identity, work('pg-1', 'Committed'));
    // The table's CHECK refuses an empty title: the INSERT fails and the transaction rolls back.
    await expect(publishWork(pool, hooks, identity, work('pg-2', ''))).rejects.toThrow(/works_title_check/);
    // A later step fails after the hook registered the event: the rollback drops it.
    const failingAfterHook: typeof hooks = {
      ...hooks,
      publish: (args) => {
        hooks.publish(args);
        throw new Error('a later component failed');
      },
    };
    await expect(publishWork(pool, failingAfterHook, identity, work('pg-3', 'Rolled back'))).rejects.toThrow('a later component failed');
    await provisioner.drain();
    await provisioner.close();

    expect((await pool.query('SELECT id FROM works ORDER BY id')).rows).toEqual([{ id: 'pg-1' }]);
    expect(search.requests.map((request) => `${request.method} ${request.body}`)).toEqual(['POST {"id":"pg-1"}']);
  });
});
