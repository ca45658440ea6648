// Redis for the store tests: the real server (127.0.0.1:6379 here and in CI; REDIS_URL
// overrides), a prefix of its own per test run, and its keys removed afterwards.
import { Redis } from 'ioredis';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Fails with a clear message when Redis does not answer: these tests need it, they are not skipped. */
export async function assertRedisReachable(): Promise<void> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(
      `Expected Redis at ${REDIS_URL} for the Redis store tests (start redis-server, or set REDIS_URL), but it did not answer: ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    client.disconnect();
  }
}

/** A key prefix no other test run uses. */
export function uniquePrefix(): string {
  return `rap-test-${process.pid.toString(36)}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Deletes every key under `prefix`. */
export async function removeKeys(prefix: string): Promise<number> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let removed = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) removed += await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return removed;
}
