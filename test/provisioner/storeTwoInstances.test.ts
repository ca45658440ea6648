// The two-instance check through createProvisioner: two app processes
// (helpers/storeApp.ts) on one Redis store each call the publish hook for half of 500 records,
// 10,000 calls in all (each record's events come from one process, in order); both deliver,
// and one is SIGKILLed when half the events have arrived at the receiver. The survivor takes
// the killed one's deliveries over once their lock expires and drains: 0 lost, per-record
// order kept at the receiver, repeats only under their own delivery id, and the survivor's
// outcomes$ saw the deliveries of both. It needs the real Redis (127.0.0.1:6379 here and in
// CI, REDIS_URL overrides): when it does not answer the test fails saying so, it is not
// skipped. A file of its own, so that it runs beside the others (it takes 30–60 s on 2 cores).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe } from 'vitest';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from '../store/helpers/redis.js';
import { twoInstancesTest } from './helpers/twoInstances.js';

const EVENTS = 10_000;
const RECORDS = 500;
const PARTITIONS = 16;
const prefix = uniquePrefix();

beforeAll(assertRedisReachable);
afterAll(async () => {
  await removeKeys(prefix);
});

describe('createProvisioner with the redis store, two instances', () => {
  twoInstancesTest({
    title: `delivers all of ${EVENTS} hook events over ${RECORDS} records when one of two instances is SIGKILLed halfway: 0 lost, order per record kept, outcomes seen by the survivor`,
    store: 'redis',
    app: fileURLToPath(new URL('./helpers/storeApp.ts', import.meta.url)),
    events: EVENTS,
    records: RECORDS,
    // A lock of 5 s rather than 2: a busy machine that delays a lock's renewal past its expiry lets the other instance run that delivery again, one repeat more than the kill causes.
    env: { STORE: 'redis', REDIS_URL, PREFIX: prefix, NAME: 'two', PARTITIONS: String(PARTITIONS), LOCK_MS: '5000', JOURNAL_COUNT: String(EVENTS), HOOK_BATCH: '100' },
    journaled: 'journaled',
    // At most one request per partition was in flight in the killed instance.
    maxDuplicates: PARTITIONS,
    // Outcomes the killed instance settled in the instant before it died may not have been published: at most one per partition.
    minOutcomesSeen: EVENTS - PARTITIONS,
    journalFigures: (journaled) => ({ partitions: PARTITIONS, hookPerEventUs: journaled.map((m) => Math.round(Number(m['perEventUs']))) }),
    timeoutMs: 150_000,
  });
});
