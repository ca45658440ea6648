import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryStore } from '../../src/store/deliveryStore.js';
import { createPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgresStore.js';
import { describeStoreContract } from './helpers/contract.js';
import { describeSharedStoreContract } from './helpers/sharedStoreContract.js';
import { publishEvent } from '../helpers/factories.js';
import { testHandlers } from './helpers/handlers.js';
import { DATABASE_URL, assertPostgresReachable, dropSchema, query, uniqueSchema } from './helpers/postgres.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

// These tests need the real PostgreSQL (127.0.0.1:5432 here and in CI, DATABASE_URL overrides):
// when it does not answer they fail with a message saying so, they are not skipped.
const schema = uniqueSchema();
let stores = 0;
const options = (extra: PostgresStoreOptions = {}): PostgresStoreOptions => ({
  connectionString: DATABASE_URL,
  schema,
  name: `s${(stores += 1)}`,
  lockDurationMs: 2_000,
  pollIntervalMs: 500,
  drainPollMs: 20,
  ...extra,
});

beforeAll(assertPostgresReachable);
afterAll(async () => {
  await dropSchema(schema);
});

describeStoreContract('postgres', (extra) => createPostgresStore(options(extra?.maxQueue === undefined ? {} : { maxQueue: extra.maxQueue })));

describeSharedStoreContract('postgres', {
  options,
  open: createPostgresStore,
  where: 'the database',
  storedText: async (shared) => {
    const rows = await query(
      `SELECT (SELECT coalesce(string_agg(row_to_json(d)::text, ''), '') FROM ${schema}.rap_dead_letter d WHERE store = $1)
       || (SELECT coalesce(string_agg(row_to_json(o)::text, ''), '') FROM ${schema}.rap_outcome o WHERE store = $1) AS text`,
      [shared.name],
    );
    return String(rows[0]?.['text']);
  },
  outcomesWritten: async (shared) => Number((await query(`SELECT count(*)::int AS n FROM ${schema}.rap_outcome WHERE store = $1`, [shared.name]))[0]?.['n']),
  forgetInstances: async (shared) => {
    await query(`DELETE FROM ${schema}.rap_instance WHERE store = $1`, [shared.name]);
  },
});

describe('postgres store', () => {
  let receiver: Receiver;
  const open: DeliveryStore[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close()));
    await receiver?.close();
  });

  it('holds a lane while its head waits for a retry, across instances', async () => {
    let refusals = 0;
    receiver = await startReceiver({ delayMs: 1, status: (arrival) => (arrival.recordId === 'rec-a' && arrival.revision === 1 && (refusals += 1) <= 2 ? 503 : 200) });
    const shared = options();
    const [one, two] = await Promise.all([createPostgresStore(shared), createPostgresStore(shared)]);
    open.push(one, two);
    one.start(testHandlers({ retryDelayMs: 400 }));
    two.start(testHandlers({ retryDelayMs: 400 }));
    one.journal([1, 2, 3].map((revision) => ({ event: publishEvent('rec-a', revision), endpoints: [receiver.url()] })));
    one.journal([{ event: publishEvent('rec-b', 1), endpoints: [receiver.url()] }]);
    await one.drain();
    expect(receiver.requests.filter((a) => a.recordId === 'rec-a').map((a) => a.revision)).toEqual([1, 1, 1, 2, 3]);
    // rec-b did not wait for rec-a's retries.
    expect(receiver.requests.findIndex((a) => a.recordId === 'rec-b')).toBeLessThan(2);
  });

  it('resolves drain() as the last delivery in flight ends, not at its next poll', async () => {
    receiver = await startReceiver({ delayMs: 5 });
    const store = await createPostgresStore(options({ drainPollMs: 60_000 }));
    open.push(store);
    store.start(testHandlers());
    store.journal(['rec-a', 'rec-b', 'rec-c'].flatMap((record) => [1, 2].map((revision) => ({ event: publishEvent(record, revision), endpoints: [receiver.url()] }))));
    // With only the minute-long poll, drain() would outlast the test's 30 s.
    await store.drain();
    expect(receiver.requests).toHaveLength(6);
    expect(store.pending()).toBe(0);
  });

  it('writes the outcome of a completed job naming the job, not repeating its event (longer retention than pg-boss keeps jobs: the event in full)', async () => {
    receiver = await startReceiver();
    const rows = (name: string): Promise<{ event: string; eventJob: string | null; job: string | null }[]> =>
      query(
        `SELECT o.outcome->>'event' AS event, o.outcome->>'eventJob' AS "eventJob", j.data->>'event' AS job
         FROM ${schema}.rap_outcome o LEFT JOIN ${schema}.job j ON j.name = o.store AND j.id::text = o.outcome->>'eventJob' WHERE o.store = $1`,
        [name],
      );
    const short = options();
    const long = options({ outcomeRetentionMs: 2 * 3_600_000 });
    // Each store with a second instance alive: outcome rows are written for it.
    const [one, two, ...readers] = await Promise.all([short, long, short, long].map((shared) => createPostgresStore(shared)));
    if (one === undefined || two === undefined) throw new Error('Expected four stores to open');
    open.push(one, two, ...readers);
    for (const store of [one, two]) {
      store.start(testHandlers());
      store.journal([{ event: publishEvent('rec-row', 1), endpoints: [receiver.url()] }]);
      await store.drain();
    }
    const [byReference] = await rows(short.name ?? '');
    expect(byReference?.event).toBe('');
    expect(byReference?.job?.length).toBeGreaterThan(100);
    const [whole] = await rows(long.name ?? '');
    expect(whole?.eventJob).toBeNull();
    expect(whole?.event.length).toBeGreaterThan(100);
  });

  it('refuses options it cannot use when it is created, saying what was expected', async () => {
    await expect(createPostgresStore({ schema, concurrency: 0 })).rejects.toThrow('concurrency: expected an integer >= 1, got 0');
    await expect(createPostgresStore({ schema, maxQueue: -1 })).rejects.toThrow('maxQueue: expected an integer >= 1, got -1');
    await expect(createPostgresStore({ schema, drainPollMs: 1.5 })).rejects.toThrow('drainPollMs: expected an integer >= 1, got 1.5');
    await expect(createPostgresStore({ schema, pool: DATABASE_URL as unknown as pg.Pool })).rejects.toThrow(
      "Expected the postgres store's pool to be a pg.Pool (new pg.Pool({ connectionString })), got a string (a connection string goes in connectionString)",
    );
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await expect(createPostgresStore({ schema, pool: client as unknown as pg.Pool })).rejects.toThrow(
      "Expected the postgres store's pool to be a pg.Pool (new pg.Pool({ connectionString })), got a client, not a pool (one connection cannot serve the store)",
    );
  });

  it('says which database did not answer', async () => {
    await expect(createPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema })).rejects.toThrow(
      /^Expected PostgreSQL \(postgres:\/\/.*127\.0\.0\.1:1\/test\) to take the postgres store's schema/,
    );
  });
});
