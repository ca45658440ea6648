// Outcomes reach every instance even when a connection is lost: two provisioners share a
// Redis store; while one of them backfills records that both deliver, its outcome reader's
// connection is killed again and again (CLIENT KILL, as a Redis restart or a network cut
// would). The outcomes the other instance reached in the meantime are read on from the
// stream, so the backfill and drain() in the first instance still finish, with every outcome
// seen once. Needs the real Redis (127.0.0.1:6379, REDIS_URL overrides); fails, not skipped,
// when it does not answer.
import { Redis } from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvisioner, createRedisStore, deliveryIdOf, type AppRecord, type DeliveryOutcome, type ProvisionerConfig } from '../../src/index.js';
import { startReceiver } from '../helpers/receiver.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from '../store/helpers/redis.js';

const prefix = uniquePrefix();
beforeAll(assertRedisReachable);
afterAll(async () => {
  await removeKeys(prefix);
});

/** The config of one instance; its callback runs where the delivery settled, so `reached` counts the instance's own. */
function configFor(url: string, reached: string[]): ProvisionerConfig {
  return {
    rdm_record: {
      [url]: {
        publish: {
          http_method: 'POST',
          payload: ({ record }: { readonly record?: AppRecord | null }) => ({ id: String(record?.id), revision_id: 1 }),
          callback: (_response: unknown, meta: { readonly record_id: string | null }) => {
            reached.push(String(meta.record_id));
          },
        },
      },
    },
  } as unknown as ProvisionerConfig;
}

const record = (id: string): AppRecord => ({ id, revision_id: 1, access: { record: 'public' } });

/**
 * Kills the connections whose client name starts with `name`; resolves with how many. A
 * reader killed a moment ago may still be reconnecting: look again for a while until one is there.
 */
async function killClients(admin: Redis, name: string): Promise<number> {
  for (let look = 0; look < 40; look += 1) {
    const list = String(await admin.client('LIST'));
    let killed = 0;
    for (const line of list.split('\n')) {
      const id = /\bid=(\d+)/.exec(line)?.[1];
      const clientName = /\bname=(\S*)/.exec(line)?.[1] ?? '';
      if (id === undefined || !clientName.startsWith(name)) continue;
      await admin.client('KILL', 'ID', id);
      killed += 1;
    }
    if (killed > 0) return killed;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return 0;
}

/** Resolves once `count` workers of queues under `prefix` wait for a job (BullMQ names their blocking connections `prefix:…`). */
async function workersWaiting(admin: Redis, prefix: string, count: number): Promise<void> {
  for (let look = 0; look < 200; look += 1) {
    const list = String(await admin.client('LIST'));
    const waiting = list.split('\n').filter((line) => line.includes(` name=${prefix}:`) && line.includes(' cmd=bzpopmin')).length;
    if (waiting >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Expected ${count} workers waiting for jobs within 10 s, found fewer`);
}

describe('createProvisioner with the redis store, an outcome connection lost', () => {
  it('finishes backfill() and drain() in one instance while its outcome reader is killed, with every outcome of the other instance seen once', async () => {
    const receiver = await startReceiver({ delayMs: 15 });
    const options = { url: REDIS_URL, prefix, name: 'lost', partitions: 4, lockDurationMs: 2_000, stalledIntervalMs: 1_000, drainPollMs: 20 };
    const [storeA, storeB] = await Promise.all([createRedisStore(options), createRedisStore(options)]);
    const reachedByA: string[] = [];
    const reachedByB: string[] = [];
    // b, the other instance, starts its workers (one per partition) first. A partition's queue
    // runs one job at a time across instances and a worker that finishes a job takes the
    // queue's next one at once, so who gets a queue's first job tends to keep it: b waiting
    // longest gets the first jobs whatever the machine's load, and a its share as queues drain.
    const admin = new Redis(REDIS_URL);
    const b = createProvisioner({ events: configFor(receiver.url(), reachedByB), store: storeB });
    await workersWaiting(admin, prefix, 4);
    const a = createProvisioner({ events: configFor(receiver.url(), reachedByA), store: storeA });
    await workersWaiting(admin, prefix, 8);
    const seen: DeliveryOutcome[] = [];
    const kills: Promise<number>[] = [];
    a.outcomes$.subscribe((outcome) => {
      seen.push(outcome);
      // Kill a's outcome reader three times while the work goes on.
      if (seen.length === 3 || seen.length === 12 || seen.length === 24) kills.push(killClients(admin, `${prefix}:lost:outcome-reader:`));
    });
    try {
      const records = Array.from({ length: 48 }, (_, n) => record(`lost-${n}`));
      const backfill = lastValueFrom(a.backfill(records, { service: 'rdm_record', method: 'publish', concurrency: 16 }));
      let deadline: ReturnType<typeof setTimeout> | undefined;
      const last = await Promise.race([
        backfill,
        new Promise<never>((_, reject) => {
          deadline = setTimeout(() => reject(new Error('Expected the backfill to finish within 30 s, it did not: outcomes were lost')), 30_000);
        }),
      ]).finally(() => clearTimeout(deadline));
      await a.drain();
      await b.drain();

      // The readers of both instances match the name; each kill found at least one of them.
      const killed = await Promise.all(kills);
      expect(killed).toHaveLength(3);
      expect(killed.every((count) => count > 0)).toBe(true);
      expect(last).toEqual({ done: 48, delivered: 48, failed: 0, skipped: 0, inFlight: 0, total: 48 });
      expect(new Set(receiver.requests.map((arrival) => arrival.recordId)).size).toBe(48);
      // b delivered (a may have too); a saw the outcomes of both, each once.
      expect(reachedByB.length).toBeGreaterThan(0);
      expect(reachedByA.length + reachedByB.length).toBe(48);
      const ids = seen.map((outcome) => deliveryIdOf(outcome.event.eventId, receiver.url()));
      expect(seen.every((outcome) => outcome.kind === 'delivered')).toBe(true);
      expect(ids).toHaveLength(48);
      expect(new Set(ids).size).toBe(48);
    } finally {
      admin.disconnect();
      await Promise.all([a.close({ timeoutMs: 2_000 }), b.close({ timeoutMs: 2_000 })]);
      await receiver.close();
    }
  }, 60_000);
});
