// A failed delivery says how many attempts were made ("… got 503 (after 3 attempts)") whether
// the default (no store option) or a store (memory, SQLite, Redis) delivered it, and the durable
// stores' dead letters keep that message. Receivers on 127.0.0.1; Redis at 127.0.0.1:6379.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryStore,
  createProvisioner,
  createRedisStore,
  createSqliteStore,
  sqliteStoreAvailability,
  type AppRecord,
  type DeliveryOutcome,
  type DeliveryStore,
  type ProvisionerConfig,
} from '../../src/index.js';
import { startReceiver } from '../helpers/receiver.js';
import { assertRedisReachable, removeKeys, uniquePrefix } from '../store/helpers/redis.js';

const sqlite = sqliteStoreAvailability();
const dir = mkdtempSync(path.join(tmpdir(), 'rap-attempts-note-'));
const prefix = uniquePrefix();
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await removeKeys(prefix);
});

function configFor(url: string): ProvisionerConfig {
  const config = {
    rdm_record: {
      [url]: {
        publish: {
          http_method: 'POST',
          payload: ({ record }: { readonly record?: AppRecord | null }) => ({ id: String(record?.id), revision_id: 1 }),
          retry: { limit: 2, baseDelayMs: 5, maxDelayMs: 10 },
        },
      },
    },
  };
  return config as unknown as ProvisionerConfig;
}

const stores: { readonly name: string; readonly skip: boolean; readonly make: (label: string) => Promise<DeliveryStore | undefined> }[] = [
  { name: 'no store (the default memory store)', skip: false, make: async () => undefined },
  { name: 'memory store', skip: false, make: async () => createMemoryStore() },
  { name: 'sqlite store', skip: !sqlite.available, make: async (label) => createSqliteStore({ path: path.join(dir, `${label}.db`) }) },
  {
    name: 'redis store',
    skip: false,
    make: async (label) => createRedisStore({ prefix, name: label, partitions: 1, lockDurationMs: 2_000, stalledIntervalMs: 1_000, drainPollMs: 20 }),
  },
];

beforeAll(assertRedisReachable);

describe.each(stores)('the attempts note on failures, with $name', ({ name, skip, make }) => {
  const label = name.split(' ')[0] ?? name;

  it.skipIf(skip)('ends the message of a delivery failed after its retries with "(after 3 attempts)", in outcomes and dead letters', async () => {
    const receiver = await startReceiver({ status: () => 503 });
    const store = await make(`${label}-retried`);
    const provisioner = createProvisioner({ events: configFor(receiver.url()), ...(store !== undefined ? { store } : {}) });
    const outcomes: DeliveryOutcome[] = [];
    provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    try {
      provisioner.hooks('rdm_record').publish({ identity: { id: 1 }, record: { id: 'note-1', access: { record: 'public' } } });
      await provisioner.drain();
      const expected = `Expected a 2xx response from POST ${receiver.url()}, got 503 (after 3 attempts)`;
      expect(outcomes).toHaveLength(1);
      const [outcome] = outcomes;
      expect(outcome).toMatchObject({ kind: 'failed', reason: 'http-status', attempts: 3 });
      expect(outcome?.kind === 'failed' && outcome.error.message).toBe(expected);
      expect(receiver.requests).toHaveLength(3);
      // Without a store, the default memory store keeps the dead letter.
      const letters = await provisioner.deadLetters();
      expect(letters.map((letter) => ({ reason: letter.reason, attempts: letter.attempts, status: letter.response?.status, message: letter.error.message }))).toEqual([
        { reason: 'http-status', attempts: 3, status: 503, message: expected },
      ]);
    } finally {
      await provisioner.close({ timeoutMs: 2_000 });
      await receiver.close();
    }
  }, 20_000);

  it.skipIf(skip)('says "(after 1 attempt)" when the status is not retried', async () => {
    const receiver = await startReceiver({ status: () => 404 });
    const store = await make(`${label}-once`);
    const provisioner = createProvisioner({ events: configFor(receiver.url()), ...(store !== undefined ? { store } : {}) });
    const outcomes: DeliveryOutcome[] = [];
    provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    try {
      provisioner.hooks('rdm_record').publish({ identity: { id: 1 }, record: { id: 'note-2', access: { record: 'public' } } });
      await provisioner.drain();
      expect(outcomes.map((outcome) => outcome.kind === 'failed' && { reason: outcome.reason, attempts: outcome.attempts, message: outcome.error.message })).toEqual([
        { reason: 'http-status', attempts: 1, message: `Expected a 2xx response from POST ${receiver.url()}, got 404 (after 1 attempt)` },
      ]);
    } finally {
      await provisioner.close({ timeoutMs: 2_000 });
      await receiver.close();
    }
  }, 20_000);
});
