import { afterAll, beforeAll, describe } from 'vitest';
import { assertRedisReachable, removeKeys, uniquePrefix } from './helpers/redis.js';
import { twoInstanceTest } from './helpers/twoInstances.js';

// The figure: two instances, 10,000 events over 500 records, one killed halfway. It
// needs the real Redis (127.0.0.1:6379 here and in CI, REDIS_URL overrides): when it does not
// answer the test fails with a message saying so, it is not skipped.
const PARTITIONS = 16;
const prefix = uniquePrefix();

beforeAll(assertRedisReachable);
afterAll(async () => {
  await removeKeys(prefix);
});

describe('redis store, two instances at the scale the issue names', () => {
  twoInstanceTest(prefix, PARTITIONS, { events: 10_000, records: 500 });
});
