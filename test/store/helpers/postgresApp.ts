// An app process for the PostgreSQL crash tests: a records app with a table of its own
// (SCHEMA.records(id, data)) and createProvisioner over the PostgreSQL store (DATABASE_URL,
// SCHEMA, NAME, LOCK_MS), one endpoint RECEIVER_URL that gets each record's id and revision.
// MODE=commit: for n < COUNT (with SHARE=i/k only records r with r % k = i) it writes record
// n % RECORDS at revision n / RECORDS + 1 and calls the publish hook in the same transaction
// (createPgUnitOfWork; TX_BATCH writes a transaction), then drains. MODE=hang: writes one
// record, calls the hook, says 'pending' and waits inside the open transaction. MODE=rollback:
// the same, then rolls back and drains. With WAIT_FOR_GO=1 it says 'ready' and waits for 'go'.
// CONCURRENCY: deliveries in flight (default 16).
// Reports over IPC: 'ready', 'progress' (every 100 callbacks), 'committed' (after the last
// COMMIT: the event ids and their n), 'pending', 'drained' (the delivered outcomes its
// outcomes$ saw, distinct, and the callbacks it ran: one per delivery it made).
import pg from 'pg';
import { createPgUnitOfWork, createPostgresStore, createProvisioner, type AppRecord } from '../../../src/index.js';
import { requiredEnv as env, sendToParent as send, waitForGo } from '../../helpers/appProcess.js';
import { recordAt as fixtureAt, revisionConfig } from '../../helpers/factories.js';

const url = env('RECEIVER_URL');
const schema = env('SCHEMA');
let callbacks = 0;
const events = revisionConfig(url, () => {
  callbacks += 1;
  if (callbacks % 100 === 0) send({ type: 'progress', callbacks });
});

const pool = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 30 });
await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`).catch(() => undefined);
await pool.query(`CREATE TABLE IF NOT EXISTS ${schema}.records (id text PRIMARY KEY, data jsonb NOT NULL)`).catch(() => undefined);
const store = await createPostgresStore({ pool, schema, name: env('NAME'), lockDurationMs: Number(process.env['LOCK_MS'] ?? 2_000), drainPollMs: 50 });
const provisioner = createProvisioner({ events, store, http: { concurrency: Number(process.env['CONCURRENCY'] ?? 16) } });
const delivered = new Set<string>();
provisioner.outcomes$.subscribe((outcome) => {
  if (outcome.kind === 'delivered') delivered.add(outcome.request.deliveryId);
});
const eventIds: string[] = [];
provisioner.events$.subscribe((event) => eventIds.push(event.eventId));
const hooks = provisioner.hooks('rdm_record');

await waitForGo();

const records = Number(env('RECORDS'));
const prefix = process.env['RECORD_PREFIX'] ?? 'rec-';
const recordAt = (n: number): AppRecord => fixtureAt(`${prefix}${n % records}`, Math.floor(n / records) + 1);

/** Writes the records and calls their hooks in one transaction of the app's. */
async function writeInTransaction(client: pg.PoolClient, ns: readonly number[]): Promise<ReturnType<typeof createPgUnitOfWork>> {
  await client.query('BEGIN');
  const uow = createPgUnitOfWork(client);
  const written = ns.map(recordAt);
  await client.query(
    `INSERT INTO ${schema}.records (id, data) SELECT r->>'id', r FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data`,
    [JSON.stringify(written)],
  );
  for (const record of written) hooks.publish({ identity: { id: 7 }, record, uow });
  return uow;
}

const mode = env('MODE');
if (mode === 'commit') {
  const count = Number(env('COUNT'));
  const [share, shares] = (process.env['SHARE'] ?? '0/1').split('/').map(Number) as [number, number];
  const batch = Number(process.env['TX_BATCH'] ?? 1);
  const indices: number[] = [];
  for (let n = 0; n < count; n += 1) if ((n % records) % shares === share) indices.push(n);
  const client = await pool.connect();
  const started = process.hrtime.bigint();
  for (let i = 0; i < indices.length; i += batch) {
    const uow = await writeInTransaction(client, indices.slice(i, i + batch));
    await uow.commit();
  }
  client.release();
  send({ type: 'committed', count: indices.length, perTransactionUs: Number(process.hrtime.bigint() - started) / 1_000 / Math.ceil(indices.length / batch), eventIds, indices });
} else if (mode === 'hang' || mode === 'rollback') {
  const client = await pool.connect();
  const uow = await writeInTransaction(client, [0]);
  if (mode === 'hang') {
    send({ type: 'pending' });
    await new Promise(() => undefined);
  }
  await uow.rollback();
  client.release();
}
await provisioner.drain();
send({ type: 'drained', delivered: delivered.size, callbacks });
await provisioner.close({ timeoutMs: 2_000 });
await pool.end();
process.disconnect?.();
