/**
 * f. The PostgreSQL outbox: (1) what one hook call adds to the app's own transaction (BEGIN,
 * an upsert of the record, COMMIT) when createPgUnitOfWork writes its delivery there, against
 * the same transaction without it, the provisioner delivering meanwhile as it would in an app;
 * (2) deliveries per second through createProvisioner with the PostgreSQL store against the
 * memory store, at concurrency 16, to the bench's receiver. Interleaved rounds (rounds.ts),
 * so drift of the machine favours neither side; ratios from the same run.
 *
 * Needs PostgreSQL (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test): without it
 * the section prints rows saying why. `npm run bench -- --only f` runs it alone.
 */
import pg from 'pg';
import type { BenchContext, Section, SectionResult } from './context.js';
import { BENCH_IDENTITY, drivePublishes, publishConfig } from './drive.js';
import { bigRecord, recordId, recordWithId, searchDocument } from './fixtures.js';
import type { BenchStore } from './library.js';
import { interleave, perSecond, type Contender, type Round } from './rounds.js';
import { missing, row, type Row } from './stats.js';

const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const TX_ALONE = 'transaction alone';
const TX_HOOK = 'transaction with one hook call';
const MEMORY = 'deliveries, memory store (c=16)';
const POSTGRES = 'deliveries, PostgreSQL store (c=16)';

export const postgresOutbox: Section = {
  id: 'f',
  title: 'f. PostgreSQL outbox: the hook in the app\'s transaction, deliveries/s against the memory store',
  async run(context: BenchContext): Promise<SectionResult> {
    const { quick, library, receiver, log } = context;
    const { createProvisioner, createPostgresStore, createPgUnitOfWork } = library;
    if (createProvisioner === undefined || createPostgresStore === undefined || createPgUnitOfWork === undefined) {
      const why = 'not built yet: createPostgresStore / createPgUnitOfWork are not exported by dist/';
      return { rows: [TX_ALONE, TX_HOOK, MEMORY, POSTGRES].map((name) => missing('f', name, '', why)) };
    }
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 30 });
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      await pool.end();
      const why = `PostgreSQL did not answer at ${DATABASE_URL.replace(/\/\/[^@/]*@/, '//')}: ${error instanceof Error ? error.message : String(error)}`;
      return { rows: [TX_ALONE, TX_HOOK, MEMORY, POSTGRES].map((name) => missing('f', name, '', why)) };
    }
    const rounds = quick ? 2 : 5;
    const transactions = quick ? 50 : 300;
    const deliveries = quick ? 200 : 2_000;
    const schema = `rap_bench_${Date.now().toString(36)}`;
    const url = `${receiver.origin}/api/v1/documents`;
    const events = publishConfig(url, searchDocument());
    const base = bigRecord();
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${schema}.records (id text PRIMARY KEY, data jsonb NOT NULL)`);
    try {
      // (1) The hook's cost inside the app's transaction.
      const outbox = createProvisioner({ events, store: await createPostgresStore({ pool, schema, name: 'tx' }) });
      const publish = outbox.hooks('rdm_record')['publish'];
      const client = await pool.connect();
      const transaction = (withHook: boolean): Contender => ({
        name: withHook ? TX_HOOK : TX_ALONE,
        warmUp: async () => undefined,
        measure: async (round) => {
          const cpu = process.cpuUsage();
          const started = process.hrtime.bigint();
          for (let n = 0; n < transactions; n += 1) {
            const record = recordWithId(base, recordId((round * transactions + n) % 100));
            await client.query('BEGIN');
            const uow = createPgUnitOfWork(client);
            await client.query(`INSERT INTO ${schema}.records (id, data) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data`, [record['id'], record]);
            if (withHook) publish?.({ identity: BENCH_IDENTITY, record, uow });
            await uow.commit();
          }
          const used = process.cpuUsage(cpu);
          return { done: transactions, wallNs: Number(process.hrtime.bigint() - started), cpuUs: used.user + used.system };
        },
        close: async () => undefined,
      });
      const inTransaction = await interleave([transaction(false), transaction(true)], rounds, log);
      client.release();
      await outbox.drain();
      await outbox.close();

      // (2) Deliveries per second, the PostgreSQL store against the memory store.
      const delivering = (name: string, store: () => Promise<BenchStore | undefined>): Contender => ({
        name,
        warmUp: async () => undefined,
        measure: async (round): Promise<Round> => {
          const chosen = await store();
          const provisioner = createProvisioner({ events, http: { concurrency: 16, maxQueue: deliveries * 2 }, ...(chosen === undefined ? {} : { store: chosen }) });
          try {
            const run = await drivePublishes(provisioner, deliveries, deliveries, (n) => recordWithId(base, recordId(round * deliveries + (n % 500))), 120_000);
            if (run.tally.delivered !== deliveries) throw new Error(`Expected ${deliveries} deliveries delivered (${name}), got ${run.tally.delivered}`);
            return { done: deliveries, wallNs: run.wallNs, cpuUs: run.cpuUs };
          } finally {
            await provisioner.close();
          }
        },
        close: async () => undefined,
      });
      let stores = 0;
      const delivered = await interleave(
        [delivering(MEMORY, async () => undefined), delivering(POSTGRES, async () => createPostgresStore({ pool, schema, name: `deliveries-${(stores += 1)}` }))],
        rounds,
        log,
      );

      const perTransactionMs = (name: string): number[] => (inTransaction.get(name) ?? []).map((r) => r.wallNs / 1e6 / r.done);
      const alone = row('f', TX_ALONE, 'ms/transaction', perTransactionMs(TX_ALONE));
      const hooked = row('f', TX_HOOK, 'ms/transaction', perTransactionMs(TX_HOOK), { baseline: alone });
      const memory = row('f', MEMORY, 'deliveries/s', (delivered.get(MEMORY) ?? []).map(perSecond));
      const postgres = row('f', POSTGRES, 'deliveries/s', (delivered.get(POSTGRES) ?? []).map(perSecond), { baseline: memory });
      const rows: Row[] = [
        alone,
        { ...hooked, verdicts: [{ target: '≤ 1.5× the transaction alone', pass: (hooked.ratio ?? Infinity) <= 1.5 }] },
        memory,
        { ...postgres, verdicts: [{ target: '≥ 0.4× the memory store', pass: (postgres.ratio ?? 0) >= 0.4 }] },
      ];
      return { rows, details: { rounds, transactions, deliveries } };
    } finally {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
      await pool.end();
    }
  },
};
