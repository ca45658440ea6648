// A reduced chaos run through createProvisioner with each durable store: 300 hook events over
// 30 records (and a few bad inputs) against the fault suite's receiver process failing 30% of
// requests in mixed ways. Every (event, endpoint) ends in exactly one outcome, none is lost,
// every delivered one reached the receiver under its delivery id, failures are the permanent
// kinds only, and per record the receiver saw the revisions in order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createProvisioner,
  createRedisStore,
  createSqliteStore,
  sqliteStoreAvailability,
  type AppRecord,
  type DeliveryOutcome,
  type DeliveryStore,
  type ProvisionerConfig,
} from '../../src/index.js';
import type { WeightedFault } from '../faults/helpers/faultPlan.js';
import { startFaultReceiver } from '../faults/helpers/faultReceiver.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from '../store/helpers/redis.js';

const EVENTS = 300;
const RECORDS = 30;
const MIX: readonly WeightedFault[] = [
  { fault: { kind: 'status', status: 500 }, weight: 3 },
  { fault: { kind: 'status', status: 503 }, weight: 3 },
  { fault: { kind: 'retry-after', form: 'seconds', seconds: 1 }, weight: 1 },
  { fault: { kind: 'status', status: 429 }, weight: 1 },
  { fault: { kind: 'status', status: 404 }, weight: 0.5 },
  { fault: { kind: 'redirect', status: 302 }, weight: 0.5 },
  { fault: { kind: 'reset-before-body' }, weight: 2 },
  { fault: { kind: 'reset-after-body' }, weight: 2 },
  { fault: { kind: 'hang' }, weight: 0.5 },
  { fault: { kind: 'non-json' }, weight: 1 },
  { fault: { kind: 'empty' }, weight: 1 },
  { fault: { kind: 'no-content' }, weight: 1 },
];

const sqlite = sqliteStoreAvailability();
const dir = mkdtempSync(path.join(tmpdir(), 'rap-store-chaos-'));
const prefix = uniquePrefix();
let usedRedis = false;
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (usedRedis) await removeKeys(prefix);
});

async function chaosRun(store: DeliveryStore): Promise<void> {
  const receiver = await startFaultReceiver({ seed: 20261129, failShare: 0.3, mix: MIX, maxFaultsPerDelivery: 2, record: 'full' });
  const endpoint = `${receiver.url}/documents`;
  const events = {
    rdm_record: {
      [endpoint]: {
        publish: {
          http_method: 'POST',
          payload: ({ record }: { readonly record?: AppRecord | null }) => {
            if (String(record?.id).startsWith('bad-')) throw new Error('this record cannot be formatted');
            return { id: String(record?.id), revision_id: Number(record?.['revision_id']) };
          },
          // A path of its own per event: the receiver draws its faults by path and attempt.
          url_factory: (record: AppRecord | null | undefined) => `${endpoint}/${String(record?.id)}-${String(record?.['revision_id'])}`,
          auth_token: 'tok_chaos',
        },
      },
    },
  } as unknown as ProvisionerConfig;
  const provisioner = createProvisioner({
    events,
    store,
    http: { timeoutMs: 300, retry: { limit: 3, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 50 } },
    signing: { secret: `whsec_${Buffer.from('store-chaos-signing-key-0123456789').toString('base64')}` },
  });
  const outcomes: DeliveryOutcome[] = [];
  provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
  const eventIds: string[] = [];
  provisioner.events$.subscribe((event) => eventIds.push(event.eventId));
  try {
    const hooks = provisioner.hooks('rdm_record');
    for (let n = 0; n < EVENTS; n += 1) {
      hooks.publish({ identity: { id: 1 }, record: { id: `rec-${n % RECORDS}`, revision_id: Math.floor(n / RECORDS) + 1, access: { record: 'public' } } });
    }
    // Bad input: a payload function that throws, and arguments that cannot be copied.
    hooks.publish({ identity: { id: 1 }, record: { id: 'bad-1', access: { record: 'public' } } });
    hooks.publish({ identity: { id: 1 }, record: { id: 'odd-1', access: { record: 'public' }, format: () => 'not data' } as unknown as AppRecord });
    await provisioner.drain();

    expect(eventIds).toHaveLength(EVENTS + 2);
    const byEvent = new Map<string, number>();
    for (const outcome of outcomes) byEvent.set(outcome.event.eventId, (byEvent.get(outcome.event.eventId) ?? 0) + 1);
    expect(eventIds.filter((id) => byEvent.get(id) !== 1)).toEqual([]);
    expect(outcomes).toHaveLength(EVENTS + 2);

    const failures = outcomes.filter((outcome): outcome is Extract<DeliveryOutcome, { kind: 'failed' }> => outcome.kind === 'failed');
    expect(failures.filter((outcome) => outcome.event.recordId === 'bad-1').map((outcome) => outcome.reason)).toEqual(['payload']);
    for (const failure of failures) {
      if (failure.event.recordId === 'bad-1' || failure.event.recordId === 'odd-1') continue;
      expect(['http-status', 'redirect'], `${failure.reason}: ${failure.error.message}`).toContain(failure.reason);
      expect(failure.response === null || (failure.response.status >= 300 && failure.response.status < 500 && failure.response.status !== 429)).toBe(true);
    }

    const requests = await receiver.requests();
    const arrived = new Set(requests.map((request) => request.idempotencyKey));
    for (const outcome of outcomes) {
      if (outcome.kind === 'delivered') expect(arrived.has(outcome.request.deliveryId)).toBe(true);
    }
    // Per record, the revisions of the requests whose body was read never go back.
    const last = new Map<string, number>();
    for (const request of requests) {
      if (request.body === null || request.body === '') continue;
      const body = JSON.parse(request.body) as { id: string; revision_id: number | null };
      if (body.revision_id === null) continue; // the odd record has no revision
      expect(body.revision_id, `${body.id} at request ${request.seq}`).toBeGreaterThanOrEqual(last.get(body.id) ?? 0);
      last.set(body.id, body.revision_id);
    }
    expect(requests.every((request) => request.headers?.['authorization'] === 'Bearer tok_chaos' && request.headers['webhook-signature'] !== undefined)).toBe(true);
    if (process.env['PRINT_FIGURES'] !== undefined) {
      const tally: Record<string, number> = {};
      for (const outcome of outcomes) {
        const key = outcome.kind === 'delivered' ? 'delivered' : `${outcome.kind}:${outcome.reason}`;
        tally[key] = (tally[key] ?? 0) + 1;
      }
      console.info(JSON.stringify({ test: `${store.kind} reduced chaos`, events: EVENTS + 2, outcomes: tally, requests: requests.length, lost: eventIds.length - byEvent.size }));
    }
  } finally {
    await provisioner.close({ timeoutMs: 2_000 });
    await receiver.close();
  }
}

describe('createProvisioner with a durable store, reduced chaos run', () => {
  it.skipIf(!sqlite.available)(`sqlite: ${EVENTS} events with 30% mixed faults and bad input: one outcome each, 0 lost, order kept`, async () => {
    await chaosRun(createSqliteStore({ path: path.join(dir, 'chaos.db') }));
  }, 30_000);

  it(`redis: ${EVENTS} events with 30% mixed faults and bad input: one outcome each, 0 lost, order kept`, async () => {
    await assertRedisReachable();
    usedRedis = true;
    await chaosRun(await createRedisStore({ url: REDIS_URL, prefix, name: 'chaos', partitions: 16, drainPollMs: 20 }));
  }, 30_000);
});
