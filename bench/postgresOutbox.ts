/**
 * f. The PostgreSQL outbox: (1) what one hook call adds to the app's own transaction (BEGIN,
 * an upsert of the record, COMMIT) when createPgUnitOfWork writes its delivery there, against
 * the same transaction without it; (2) deliveries per second through createProvisioner with
 * the PostgreSQL store against the memory store, at concurrency 16, to the bench's receiver.
 * Interleaved rounds (rounds.ts), so drift of the machine favours neither side; ratios from
 * the same run.
 *
 * (1) runs twice. First with the deliveries held (the receiver stalls, so the few attempts
 * started hang and the rest wait in the store): both contenders then run on the same quiet
 * machine and the difference is the hook's cost to the app, its statement in the transaction
 * and the store's work after the COMMIT, in the same process; that pair carries the target.
 * The rows of deliveries whose lane the store holds (every record's, here: the rounds cycle
 * through 100) wait in the outbox until a lane frees, as they would in an app whose receiver
 * is down, so that pair does not count their move into pg-boss. Then while the same process
 * delivers what the hooked transactions publish (as in an app, the moves included): the
 * transaction alone has no deliveries running beside it, so that ratio also counts what
 * delivering costs the machine, and is reported as a note.
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
const TX_ALONE_DELIVERING = 'transaction alone (nothing delivering)';
const TX_HOOK_DELIVERING = 'transaction with one hook call, its deliveries running';
const ALL_ROWS = [TX_ALONE, TX_HOOK, TX_ALONE_DELIVERING, TX_HOOK_DELIVERING];
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
      return { rows: [...ALL_ROWS, MEMORY, POSTGRES].map((name) => missing('f', name, '', why)) };
    }
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 30 });
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      await pool.end();
      const why = `PostgreSQL did not answer at ${DATABASE_URL.replace(/\/\/[^@/]*@/, '//')}: ${error instanceof Error ? error.message : String(error)}`;
      return { rows: [...ALL_ROWS, MEMORY, POSTGRES].map((name) => missing('f', name, '', why)) };
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
      let offset = 0;
      const transaction = (name: string, withHook: boolean): Contender => ({
        name,
        warmUp: async () => undefined,
        measure: async (round) => {
          const cpu = process.cpuUsage();
          const started = process.hrtime.bigint();
          for (let n = 0; n < transactions; n += 1) {
            const record = recordWithId(base, recordId((offset + round * transactions + n) % 100));
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
      // Deliveries held: the receiver stalls; what the hooked rounds publish is delivered after.
      await receiver.setMode('stalled');
      let held: Map<string, Round[]>;
      try {
        held = await interleave([transaction(TX_ALONE, false), transaction(TX_HOOK, true)], rounds, log);
      } finally {
        await receiver.setMode('healthy');
      }
      await outbox.drain();
      // The same transactions while the process delivers what the hooked ones publish.
      offset = rounds * transactions;
      const whileDelivering = await interleave([transaction(TX_ALONE_DELIVERING, false), transaction(TX_HOOK_DELIVERING, true)], rounds, log);
      client.release();
      await outbox.drain();
      await outbox.close();
      const inTransaction = new Map([...held, ...whileDelivering]);

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
      const alone = row('f', TX_ALONE, 'ms/transaction', perTransactionMs(TX_ALONE), { note: 'deliveries held: the receiver stalls' });
      const hooked = row('f', TX_HOOK, 'ms/transaction', perTransactionMs(TX_HOOK), { baseline: alone });
      const aloneDelivering = row('f', TX_ALONE_DELIVERING, 'ms/transaction', perTransactionMs(TX_ALONE_DELIVERING));
      const hookedDelivering = row('f', TX_HOOK_DELIVERING, 'ms/transaction', perTransactionMs(TX_HOOK_DELIVERING), {
        baseline: aloneDelivering,
        note: 'as in an app; the ratio also counts the deliveries running beside it (its baseline has none)',
      });
      const memory = row('f', MEMORY, 'deliveries/s', (delivered.get(MEMORY) ?? []).map(perSecond));
      const postgres = row('f', POSTGRES, 'deliveries/s', (delivered.get(POSTGRES) ?? []).map(perSecond), { baseline: memory });
      const rows: Row[] = [
        alone,
        { ...hooked, verdicts: [{ target: '≤ 1.5× the transaction alone', pass: (hooked.ratio ?? Infinity) <= 1.5 }], note: 'its statement; its row waits in the outbox while its lane is held here (moved as a lane frees: see the row below)' },
        aloneDelivering,
        hookedDelivering,
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
