// The records app's PostgreSQL mode against the machine's PostgreSQL (DATABASE_URL overrides
// 127.0.0.1:5432): the demo's scenario with the records and the provisioner's journal in the
// same transactions, and a rolled-back operation that leaves neither a record nor a delivery.
import pg from 'pg';
import { createPostgresStore, createProvisioner, type DeliveryOutcome } from 'remote-api-provisioner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordsApp } from '../../examples/records-app/app.js';
import { commonsSearchEvents, type AppSubject } from '../../examples/records-app/commonsSearchEvents.js';
import { createAppTables, postgresTransactions } from '../../examples/records-app/postgresTransactions.js';
import { runScenario } from '../../examples/scenario.js';
import { assertPostgresReachable, DATABASE_URL, dropSchema, query, uniqueSchema } from '../store/helpers/postgres.js';

const schemas: string[] = [];

beforeAll(async () => {
  await assertPostgresReachable();
});

afterAll(async () => {
  for (const schema of schemas) await dropSchema(schema);
});

describe('records app example, PostgreSQL mode', () => {
  it('runs the demo scenario with its records and their deliveries in the same transactions', async () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    const lines: string[] = [];
    const result = await runScenario({ log: (line) => lines.push(line), database: { url: DATABASE_URL, schema } });

    expect(result.failures).toEqual([]);
    expect(lines).toContain(`PostgreSQL mode: records and their deliveries are written in the same transactions (schema ${schema})`);
    // The records are in PostgreSQL, and every delivery went through the store's job table.
    const records = await query<{ id: string }>(`SELECT id FROM ${schema}.app_rows WHERE tbl = 'records' ORDER BY id`);
    expect(records.map((row) => row.id)).toEqual(expect.arrayContaining([result.ids.record, result.ids.newVersion, result.ids.restrictedRecord]));
    const [jobs] = await query<{ count: string }>(`SELECT count(*)::text AS count FROM ${schema}.job WHERE name = 'deliveries'`);
    expect(Number(jobs?.count)).toBeGreaterThanOrEqual(result.outcomes.length);
  }, 60_000);

  it('rolls back an operation whose component throws: neither the record nor a delivery is kept', async () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    const pool = new pg.Pool({ connectionString: DATABASE_URL });
    try {
      await createAppTables(pool, schema);
      const app = createRecordsApp({ transactions: postgresTransactions(pool, schema) });
      const store = await createPostgresStore<AppSubject>({ pool, schema });
      const provisioner = createProvisioner<AppSubject>({ events: commonsSearchEvents(app, { searchUrl: 'http://127.0.0.1:9' }), store, resolveOwner: ({ record }) => app.ownerOf(record!) });
      const outcomes: DeliveryOutcome<AppSubject>[] = [];
      provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
      app.records.addComponent(provisioner.hooks('rdm_record'));
      app.records.addComponent({
        publish: () => {
          throw new Error('the app refuses this publish');
        },
      });
      const troy = app.addUser({ id: '1', email: 'troy@example.org', username: 'troy', name: 'Troy Brown' });
      const draft = await app.records.create(troy, { metadata: { title: 'A Romans Story' } });
      const jobs = async (): Promise<number> => Number((await query<{ count: string }>(`SELECT count(*)::text AS count FROM ${schema}.job`))[0]?.count);
      const jobsBefore = await jobs();
      await expect(app.records.publish(troy, draft.id)).rejects.toThrow('the app refuses this publish');
      expect(await jobs()).toBe(jobsBefore);
      await provisioner.drain();
      await provisioner.close();

      expect(await query(`SELECT id FROM ${schema}.app_rows WHERE tbl = 'records'`)).toEqual([]);
      expect(await query(`SELECT id FROM ${schema}.app_rows WHERE tbl = 'drafts'`)).toEqual([{ id: draft.id }]);
      expect(outcomes.map((outcome) => `${outcome.event.serviceType}.${outcome.event.method}`)).not.toContain('rdm_record.publish');
    } finally {
      await pool.end();
    }
  }, 60_000);
});
