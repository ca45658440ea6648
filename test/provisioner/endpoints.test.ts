// Delivery that respects the receiver, against real receivers on 127.0.0.1, with every store:
// an endpoint down for longer than the retry schedule loses nothing (circuit breaker), a
// Retry-After pauses the whole endpoint, a rate limit spaces request starts, coalescing sends
// the newest state of a record, and a paused endpoint does not hold up the others.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  createMemoryStore,
  createPostgresStore,
  createProvisioner,
  createRedisStore,
  createSqliteStore,
  sqliteStoreAvailability,
  type AppRecord,
  type DeliveryOutcome,
  type DeliveryStore,
  type EndpointStatus,
  type ProvisionerConfig,
  type ProvisionerHttpOptions,
} from '../../src/index.js';
import { DATABASE_URL, assertPostgresReachable, dropSchema, uniqueSchema } from '../store/helpers/postgres.js';
import { assertRedisReachable, removeKeys, uniquePrefix } from '../store/helpers/redis.js';
import { startReceiver, type RecordedRequest } from '../helpers/receiver.js';

const sqlite = sqliteStoreAvailability();
const dir = mkdtempSync(path.join(tmpdir(), 'rap-endpoints-'));
const prefix = uniquePrefix();
const schemas: string[] = [];
beforeAll(async () => {
  await assertRedisReachable();
  await assertPostgresReachable();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await removeKeys(prefix);
  for (const schema of schemas) await dropSchema(schema);
});

const record = (id: string, revision: number): AppRecord => ({ id, revision, access: { record: 'public' } });
const payload = ({ record: subject }: { readonly record?: AppRecord | null }) => ({ id: String(subject?.id), revision_id: Number(subject?.['revision']) });

function configFor(url: string, extra: Record<string, unknown> = {}): ProvisionerConfig {
  return { rdm_record: { [url]: { publish: { http_method: 'POST', payload, ...extra } } } } as unknown as ProvisionerConfig;
}

const stores: { readonly name: string; readonly skip: boolean; readonly make: (label: string) => Promise<DeliveryStore> }[] = [
  { name: 'memory', skip: false, make: async () => createMemoryStore() },
  { name: 'sqlite', skip: !sqlite.available, make: async (label) => createSqliteStore({ path: path.join(dir, `${label}.db`) }) },
  { name: 'redis', skip: false, make: (label) => createRedisStore({ prefix, name: label, partitions: 4, lockDurationMs: 5_000, drainPollMs: 20 }) },
  {
    name: 'postgres',
    skip: false,
    make: (label) => {
      const schema = uniqueSchema();
      schemas.push(schema);
      return createPostgresStore({ connectionString: DATABASE_URL, schema, name: label, lockDurationMs: 5_000, drainPollMs: 50 });
    },
  },
];

function inOrderPerRecord(arrivals: readonly RecordedRequest[]): boolean {
  const last = new Map<string, number>();
  for (const { recordId, revision } of arrivals) {
    if ((last.get(recordId) ?? 0) > revision) return false;
    last.set(recordId, revision);
  }
  return true;
}

/** The most requests that arrived within any one second. */
function busiestSecond(arrivals: readonly RecordedRequest[]): number {
  const times = arrivals.map((arrival) => arrival.at).sort((a, b) => a - b);
  let most = 0;
  for (let first = 0, last = 0; last < times.length; last += 1) {
    while ((times[last] as number) - (times[first] as number) >= 1_000) first += 1;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

async function run(store: DeliveryStore, config: ProvisionerConfig, http: ProvisionerHttpOptions) {
  const provisioner = createProvisioner({ events: config, store, http });
  const outcomes: DeliveryOutcome[] = [];
  const statuses: EndpointStatus[] = [];
  provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
  provisioner.endpoints$.subscribe((status) => statuses.push(status));
  return { provisioner, outcomes, statuses, hooks: provisioner.hooks('rdm_record') };
}

describe.each(stores)('endpoints with the $name store', ({ name, skip, make }) => {
  it.skipIf(skip)(
    'an endpoint that refuses connections for 10 s, longer than the retry schedule, loses nothing: 300 deliveries over 30 records, in order, 0 failed',
    async () => {
      const receiver = await startReceiver();
      await receiver.close();
      const { provisioner, outcomes, statuses, hooks } = await run(await make(`${name}-down`), configFor(receiver.url()), { retry: { limit: 2, baseDelayMs: 100 } });
      try {
        for (let revision = 1; revision <= 10; revision += 1) {
          for (let n = 0; n < 30; n += 1) hooks.publish({ identity: { id: 1 }, record: record(`rec-${n}`, revision) });
        }
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        const attemptsWhileDown = statuses.filter((status) => status.state === 'half-open').length;
        await receiver.restart();
        await provisioner.drain();
        expect(outcomes.filter((outcome) => outcome.kind === 'delivered')).toHaveLength(300);
        expect(outcomes.filter((outcome) => outcome.kind !== 'delivered')).toEqual([]);
        expect(new Set(receiver.requests.map((arrival) => `${arrival.recordId}/${arrival.revision}`)).size).toBe(300);
        expect(inOrderPerRecord(receiver.requests)).toBe(true);
        // Probes while it was down: one per cool-down (1 s, 2 s, 4 s, ...): at most 4 in 10 s.
        expect(attemptsWhileDown).toBeGreaterThanOrEqual(2);
        expect(attemptsWhileDown).toBeLessThanOrEqual(4);
        expect(statuses.at(-1)).toMatchObject({ state: 'closed', reason: 'recovered' });
      } finally {
        await provisioner.close({ timeoutMs: 2_000 });
        await receiver.close();
      }
    },
    60_000,
  );

  it.skipIf(skip)(
    '429 with Retry-After: 2 to one delivery under load pauses the endpoint: no attempt starts for 2 s, then everything is delivered',
    async () => {
      let refused: number | null = null;
      const receiver = await startReceiver((arrival, response) => {
        if (refused === null && receiver.requests.length >= 20) {
          refused = arrival.at;
          response.writeHead(429, { 'retry-after': '2' }).end();
        } else response.writeHead(200).end('{}');
      });
      const { provisioner, outcomes, hooks } = await run(await make(`${name}-429`), configFor(receiver.url()), {});
      try {
        for (let n = 0; n < 100; n += 1) hooks.publish({ identity: { id: 1 }, record: record(`rec-${n}`, 1) });
        await provisioner.drain();
        expect(outcomes.map((outcome) => outcome.kind)).toEqual(Array(100).fill('delivered'));
        const pausedAt = refused as unknown as number;
        // Requests already in flight when the 429 came (at most 15 besides it) may arrive after it;
        // none starts in the pause. Without the pause, the other 80 would arrive in it.
        const duringPause = receiver.requests.filter((arrival) => arrival.at > pausedAt && arrival.at < pausedAt + 1_900);
        expect(duringPause.length).toBeLessThanOrEqual(15);
        expect(receiver.requests.filter((arrival) => arrival.at >= pausedAt + 1_900).length).toBeGreaterThan(50);
      } finally {
        await provisioner.close({ timeoutMs: 2_000 });
        await receiver.close();
      }
    },
    30_000,
  );

  it.skipIf(skip)(
    'ratePerSecond: 50: no one-second window at the receiver holds more than 55 requests',
    async () => {
      const receiver = await startReceiver();
      const { provisioner, outcomes, hooks } = await run(await make(`${name}-rate`), configFor(receiver.url()), { endpoints: { [receiver.url()]: { ratePerSecond: 50 } } });
      try {
        for (let n = 0; n < 150; n += 1) hooks.publish({ identity: { id: 1 }, record: record(`rec-${n}`, 1) });
        await provisioner.drain();
        expect(outcomes.filter((outcome) => outcome.kind === 'delivered')).toHaveLength(150);
        expect(busiestSecond(receiver.requests)).toBeLessThanOrEqual(55);
        expect(busiestSecond(receiver.requests)).toBeGreaterThanOrEqual(40);
      } finally {
        await provisioner.close({ timeoutMs: 2_000 });
        await receiver.close();
      }
    },
    30_000,
  );

  it.skipIf(skip)(
    'coalesce: 20 publishes of one record while its lane is blocked send at most 2 requests, the last with the newest state; 20 outcomes',
    async () => {
      let release: () => void = () => undefined;
      const blocked = new Promise<void>((resolve) => (release = resolve));
      const receiver = await startReceiver((arrival, response) => {
        if (arrival.revision === 1) void blocked.then(() => response.writeHead(200).end('{}'));
        else response.writeHead(200).end('{}');
      });
      const { provisioner, outcomes, hooks } = await run(await make(`${name}-coalesce`), configFor(receiver.url(), { coalesce: true }), {});
      try {
        hooks.publish({ identity: { id: 1 }, record: record('busy', 1) });
        while (receiver.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
        for (let revision = 2; revision <= 20; revision += 1) hooks.publish({ identity: { id: 1 }, record: record('busy', revision) });
        release();
        await provisioner.drain();
        expect(receiver.requests.map((arrival) => arrival.revision)).toEqual([1, 20]);
        expect(outcomes).toHaveLength(20);
        expect(outcomes.filter((outcome) => outcome.kind === 'skipped' && outcome.reason === 'superseded')).toHaveLength(18);
        expect(outcomes.filter((outcome) => outcome.kind === 'delivered').map((outcome) => outcome.kind === 'delivered' && JSON.parse(String(outcome.request.body)).revision_id)).toEqual([1, 20]);
      } finally {
        await provisioner.close({ timeoutMs: 2_000 });
        await receiver.close();
      }
    },
    30_000,
  );
});

// PostgreSQL reserves each start's slot by a query; a reservation answered late is taken again
// (postgresRate.ts), so its start does not crowd among the next slots' starts.
const sharedStores: { readonly name: string; readonly busiest: number; readonly make: () => Promise<DeliveryStore> }[] = [
  { name: 'Redis', busiest: 55, make: () => createRedisStore({ prefix, name: 'shared-rate', partitions: 4, drainPollMs: 20 }) },
  {
    name: 'PostgreSQL',
    busiest: 55,
    make: () => createPostgresStore({ connectionString: DATABASE_URL, schema: sharedRateSchema, name: 'shared-rate', lockDurationMs: 5_000, drainPollMs: 50 }),
  },
];
const sharedRateSchema = uniqueSchema();
schemas.push(sharedRateSchema);

describe.each(sharedStores)('a rate limit shared through $name', ({ make, busiest }) => {
  it(`two instances on one store hold an endpoint to ratePerSecond together: no one-second window holds more than ${busiest}`, async () => {
    const receiver = await startReceiver();
    const http = { endpoints: { [receiver.url()]: { ratePerSecond: 50 } } };
    const one = await run(await make(), configFor(receiver.url()), http);
    const two = await run(await make(), configFor(receiver.url()), http);
    try {
      for (let n = 0; n < 100; n += 1) one.hooks.publish({ identity: { id: 1 }, record: record(`one-${n}`, 1) });
      for (let n = 0; n < 100; n += 1) two.hooks.publish({ identity: { id: 1 }, record: record(`two-${n}`, 1) });
      await Promise.all([one.provisioner.drain(), two.provisioner.drain()]);
      expect(new Set(receiver.requests.map((request) => request.deliveryId)).size).toBe(200);
      expect(busiestSecond(receiver.requests)).toBeLessThanOrEqual(busiest);
    } finally {
      await Promise.all([one.provisioner.close({ timeoutMs: 2_000 }), two.provisioner.close({ timeoutMs: 2_000 })]);
      await receiver.close();
    }
  }, 30_000);
});

describe('endpoints are independent', () => {
  it('an endpoint whose circuit is open holds its own deliveries, not those of another endpoint', async () => {
    const down = await startReceiver();
    await down.close();
    const up = await startReceiver();
    const config = { rdm_record: { ...configFor(down.url()).rdm_record, ...configFor(up.url().replace('/documents', '/registry')).rdm_record } } as ProvisionerConfig;
    const { provisioner, outcomes, statuses, hooks } = await run(createMemoryStore(), config, { retry: { limit: 1, baseDelayMs: 50 }, concurrency: 4 });
    try {
      for (let n = 0; n < 40; n += 1) hooks.publish({ identity: { id: 1 }, record: record(`rec-${n}`, 1) });
      const deadline = Date.now() + 5_000;
      while (outcomes.length < 40 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(outcomes.filter((outcome) => outcome.kind === 'delivered' && outcome.endpoint.endsWith('/registry'))).toHaveLength(40);
      expect(statuses.some((status) => status.state === 'open' && status.endpoint === down.url())).toBe(true);
      expect(outcomes.filter((outcome) => outcome.endpoint === down.url())).toEqual([]);
    } finally {
      await provisioner.close({ timeoutMs: 500 });
      await up.close();
    }
  }, 20_000);

  it('a delivery that waits for its endpoint longer than http.maxDeliveryAgeMs fails with reason expired, to replay later', async () => {
    const down = await startReceiver();
    await down.close();
    const { provisioner, outcomes, hooks } = await run(createMemoryStore(), configFor(down.url()), {
      retry: { limit: 1, baseDelayMs: 20 },
      maxDeliveryAgeMs: 1_500,
      circuitBreaker: { minCooldownMs: 5_000 },
    });
    try {
      for (let n = 0; n < 8; n += 1) hooks.publish({ identity: { id: 1 }, record: record(`rec-${n}`, 1) });
      await provisioner.drain();
      const expired = outcomes.filter((outcome) => outcome.kind === 'failed' && outcome.reason === 'expired');
      expect(expired.length).toBeGreaterThan(0);
      expect(expired[0]?.kind === 'failed' && expired[0].error.message).toMatch(/Expected delivery .* to start within http\.maxDeliveryAgeMs \(1500 ms\)/);
      expect((await provisioner.deadLetters({ reason: 'expired' })).length).toBe(expired.length);
    } finally {
      await provisioner.close({ timeoutMs: 500 });
    }
  }, 20_000);

  it('rejects limits for an endpoint the config does not have, with "did you mean", and limits out of range', () => {
    const url = 'https://search.example.org/api/v1/documents';
    let thrown: unknown;
    try {
      createProvisioner({
        events: configFor(url),
        http: { endpoints: { 'https://search.example.org/api/v1/document': { ratePerSecond: 0, burst: 3 } as never }, circuitBreaker: { failureTreshold: 3 } as never },
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).issues).toEqual([
      `http.endpoints["https://search.example.org/api/v1/document"]: expected an endpoint of the config, got one it does not have (did you mean "${url}"?)`,
      'http.endpoints["https://search.example.org/api/v1/document"].ratePerSecond: expected a positive number, got 0',
      'http.endpoints["https://search.example.org/api/v1/document"].burst: expected one of ratePerSecond, concurrency, got an unknown key',
      'http.circuitBreaker.failureTreshold: expected one of failureThreshold, windowMs, minCooldownMs, maxCooldownMs, got an unknown key (did you mean "failureThreshold"?)',
    ]);
  });
});
