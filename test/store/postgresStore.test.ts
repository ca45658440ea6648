import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deliveryIdOf } from '../../src/events/deliveryId.js';
import type { DeliveryStore } from '../../src/store/deliveryStore.js';
import { createPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgresStore.js';
import { collect, describeStoreContract } from './helpers/contract.js';
import { publishEvent } from '../helpers/factories.js';
import { TEST_TOKEN, testHandlers } from './helpers/handlers.js';
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

describe('postgres store', () => {
  let receiver: Receiver;
  const open: DeliveryStore[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close()));
    await receiver?.close();
  });

  it('shares the work between instances: order per record holds, every instance sees every outcome', async () => {
    receiver = await startReceiver({ delayMs: 3 });
    const shared = options();
    // `app` only journals (no workers); `one` and `two` deliver.
    const [app, one, two] = await Promise.all([createPostgresStore(shared), createPostgresStore(shared), createPostgresStore(shared)]);
    open.push(app, one, two);
    const seen = [app, one, two].map((store) => collect(store));
    one.start(testHandlers());
    two.start(testHandlers());
    const entries = [];
    for (let revision = 1; revision <= 10; revision += 1) {
      for (let record = 0; record < 8; record += 1) entries.push({ event: publishEvent(`rec-${record}`, revision), endpoints: [receiver.url()] });
    }
    app.journal(entries);
    await app.drain();
    await Promise.all([one.drain(), two.drain()]);

    for (let record = 0; record < 8; record += 1) {
      expect(receiver.requests.filter((x) => x.recordId === `rec-${record}`).map((x) => x.revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    }
    const ids = entries.map(({ event }) => deliveryIdOf(event.eventId, receiver.url())).sort();
    for (const outcomes of seen) expect(outcomes.map((o) => o.deliveryId).sort()).toEqual(ids);
    const [atApp = [], atOne = [], atTwo = []] = seen;
    expect(atApp.filter((o) => o.local)).toEqual([]);
    const localOne = new Set(atOne.filter((o) => o.local).map((o) => o.deliveryId));
    const localTwo = new Set(atTwo.filter((o) => o.local).map((o) => o.deliveryId));
    expect(localOne.size + localTwo.size).toBe(80);
    expect([...localOne].filter((id) => localTwo.has(id))).toEqual([]);
    const remote = atApp[0];
    expect(remote?.outcome.kind === 'delivered' && remote.outcome.response.status).toBe(200);
    expect(remote?.outcome.kind === 'delivered' && remote.outcome.request.deliveryId).toBe(remote?.deliveryId);
    expect(remote?.outcome.kind === 'delivered' && remote.outcome.request.headers).not.toHaveProperty('Authorization');
    expect(remote?.outcome.event.serviceType).toBe('rdm_record');
  });

  it('never writes secret headers to the database, and restores them for the attempt', async () => {
    receiver = await startReceiver({ status: () => 422 });
    const shared = options();
    const store = await createPostgresStore(shared);
    open.push(store);
    store.journal([{ event: publishEvent('rec-a', 1), endpoints: [receiver.url()] }]);
    store.start(testHandlers());
    await store.drain();
    expect(receiver.requests.map((a) => a.authorization)).toEqual([TEST_TOKEN]);
    const rows = await query(
      `SELECT (SELECT coalesce(string_agg(row_to_json(d)::text, ''), '') FROM ${schema}.rap_dead_letter d WHERE store = $1)
       || (SELECT coalesce(string_agg(row_to_json(o)::text, ''), '') FROM ${schema}.rap_outcome o WHERE store = $1) AS text`,
      [shared.name],
    );
    const text = String(rows[0]?.['text']);
    expect(text).toContain('Idempotency-Key');
    expect(text).not.toContain(TEST_TOKEN.slice('Bearer '.length));
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

  it('says which database did not answer', async () => {
    await expect(createPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema })).rejects.toThrow(
      /^Expected PostgreSQL \(postgres:\/\/.*127\.0\.0\.1:1\/test\) to take the postgres store's schema/,
    );
  });
});
