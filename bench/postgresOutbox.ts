/**
 * The PostgreSQL outbox's figures, apart from the main runner: (1) what a hook call adds to
 * the app's own transaction (BEGIN, an upsert of the record, COMMIT) when it is written there
 * through createPgUnitOfWork, against the same transaction without it; (2) deliveries per
 * second through createProvisioner with the PostgreSQL store against the in-memory pipeline,
 * at concurrency 16, to a local receiver answering at once. Interleaved rounds (rounds.ts), so
 * machine drift favours neither side; ratios from the same run.
 *
 * Run: `npm run build && node --import tsx bench/postgresOutbox.ts` (DATABASE_URL overrides
 * postgres://postgres@127.0.0.1:5432/test; ROUNDS, TRANSACTIONS, DELIVERIES change the sizes).
 */
import { createServer } from 'node:http';
import pg from 'pg';
import { createPgUnitOfWork, createPostgresStore, createProvisioner, type ProvisionerConfig } from 'remote-api-provisioner';
import { interleave, type Contender } from './rounds.js';

const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const TRANSACTIONS = Number(process.env['TRANSACTIONS'] ?? 300);
const DELIVERIES = Number(process.env['DELIVERIES'] ?? 2_000);
const schema = `rap_bench_${Date.now().toString(36)}`;

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/docs`;
const events = { rdm_record: { [url]: { publish: { http_method: 'POST', payload: ({ record }: { record: { id: string } }) => ({ id: record.id }) } } } } as unknown as ProvisionerConfig;

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 30 });
await pool.query(`CREATE SCHEMA ${schema}`);
await pool.query(`CREATE TABLE ${schema}.records (id text PRIMARY KEY, data jsonb NOT NULL)`);
const log = (message: string): void => console.info(message);
const cpu = (): number => process.cpuUsage().user + process.cpuUsage().system;

try {
  // (1) The hook's cost inside the app's transaction.
  const outbox = createProvisioner({ events, store: await createPostgresStore({ pool, schema, name: 'tx' }) });
  const hooks = outbox.hooks('rdm_record');
  const client = await pool.connect();
  const transactions = (withHook: boolean): Contender => ({
    name: withHook ? 'transaction with one hook call' : 'transaction alone',
    warmUp: async () => undefined,
    measure: async (round) => {
      const started = process.hrtime.bigint();
      const cpuBefore = cpu();
      for (let n = 0; n < TRANSACTIONS; n += 1) {
        const record = { id: `r${n % 100}`, round, n };
        await client.query('BEGIN');
        const uow = createPgUnitOfWork(client);
        await client.query(`INSERT INTO ${schema}.records (id, data) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data`, [record.id, JSON.stringify(record)]);
        if (withHook) hooks.publish({ identity: { id: 1 }, record, uow } as never);
        await uow.commit();
      }
      return { done: TRANSACTIONS, wallNs: Number(process.hrtime.bigint() - started), cpuUs: cpu() - cpuBefore };
    },
    close: async () => undefined,
  });
  const section1 = await interleave([transactions(false), transactions(true)], ROUNDS, log);
  client.release();
  await outbox.drain();
  await outbox.close();

  // (2) Deliveries per second, PostgreSQL store against the in-memory pipeline.
  const deliveries = (store: 'memory' | 'postgres'): Contender => ({
    name: `deliveries, ${store}`,
    warmUp: async () => undefined,
    measure: async (round) => {
      const provisioner = createProvisioner({
        events,
        ...(store === 'postgres' ? { store: await createPostgresStore({ pool, schema, name: `d${round}` }) } : {}),
        http: { concurrency: 16, maxQueue: DELIVERIES * 2 },
      });
      const publish = provisioner.hooks('rdm_record').publish as (args: object) => void;
      const started = process.hrtime.bigint();
      const cpuBefore = cpu();
      for (let n = 0; n < DELIVERIES; n += 1) publish({ identity: { id: 1 }, record: { id: `r${n % 500}`, n } });
      await provisioner.drain();
      const result = { done: DELIVERIES, wallNs: Number(process.hrtime.bigint() - started), cpuUs: cpu() - cpuBefore };
      await provisioner.close();
      return result;
    },
    close: async () => undefined,
  });
  const section2 = await interleave([deliveries('memory'), deliveries('postgres')], ROUNDS, log);

  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const perSecond = (name: string, results: Map<string, { done: number; wallNs: number }[]>): number => median((results.get(name) ?? []).map((r) => r.done / (r.wallNs / 1e9)));
  const perTransactionMs = (name: string): number => median((section1.get(name) ?? []).map((r) => r.wallNs / 1e6 / r.done));
  const alone = perTransactionMs('transaction alone');
  const hooked = perTransactionMs('transaction with one hook call');
  const memory = perSecond('deliveries, memory', section2);
  const postgres = perSecond('deliveries, postgres', section2);
  console.info(
    JSON.stringify(
      {
        'transaction alone (ms)': Number(alone.toFixed(2)),
        'transaction with one hook call (ms)': Number(hooked.toFixed(2)),
        'hook in the transaction, ratio (target <= 1.5)': Number((hooked / alone).toFixed(2)),
        'deliveries/s, memory (c=16)': Math.round(memory),
        'deliveries/s, postgres (c=16)': Math.round(postgres),
        'postgres / memory (target >= 0.4)': Number((postgres / memory).toFixed(2)),
      },
      null,
      2,
    ),
  );
} finally {
  await pool.query(`DROP SCHEMA ${schema} CASCADE`);
  await pool.end();
  server.close();
}
