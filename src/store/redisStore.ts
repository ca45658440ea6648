import type { AppRecord } from '../events/serviceEvent.js';
import { ConfigError, ProvisionerError } from '../errors.js';
import { logger } from '../util/log.js';
import { redactUrl } from '../util/redact.js';
import type { DeliveryStore } from './deliveryStore.js';
import { positiveInteger } from './memoryStore.js';
import type { BullModule } from './redisJob.js';
import { latestEntryId } from './redisOutcomeStream.js';
import { outcomeStreamKey, RedisSharedStore } from './redisSharedStore.js';
import { coalesceWrites } from './redisWrites.js';
import { withTimeout } from './waits.js';

const log = logger('delivery');

/**
 * Options of {@link createRedisStore}: the same `url`, `prefix`, `name` and `partitions` in
 * every instance that shares the work.
 *
 * @example
 * ```ts
 * const options: RedisStoreOptions = { url: process.env.REDIS_URL, name: 'search-index', partitions: 32 };
 * createProvisioner({ events, store: await createRedisStore(options) });
 * ```
 */
export type RedisStoreOptions = {
  /** The Redis server. @default process.env.REDIS_URL, else 'redis://127.0.0.1:6379' */
  readonly url?: string;
  /** The prefix of every key (BullMQ's `prefix`). @default 'rap' */
  readonly prefix?: string;
  /** The name of this store's queues, outcome stream and keys under the prefix. @default 'deliveries' */
  readonly name?: string;
  /**
   * Queues per endpoint; a delivery goes to the one its (endpoint, record) key hashes to, and
   * each runs one delivery at a time across all instances. More partitions, more deliveries
   * in flight (and more Redis connections: one per partition and instance). Every instance
   * must use the same number; it is recorded in Redis and a different one is refused.
   * @default 16
   */
  readonly partitions?: number;
  /** How long a worker's lock on a delivery lasts before another instance may take it over (renewed while it runs). @default 30000 */
  readonly lockDurationMs?: number;
  /** How often workers look for deliveries whose instance died. @default 30000 */
  readonly stalledIntervalMs?: number;
  /** How many times a delivery may be taken over from a dead instance before it fails (a delivery that crashes every process). @default 10 */
  readonly maxStalledCount?: number;
  /**
   * Deliveries this instance journaled and has not seen settled (by any instance), at most;
   * past it `journal` answers `overflow`. Per instance: the shared queue holds at most the
   * sum over the instances. @default 10000
   */
  readonly maxQueue?: number;
  /**
   * Entries the outcome stream keeps, about: every instance reads every outcome from it, and
   * one that falls further behind than this (a long disconnection under load) misses the
   * oldest. @default 10000
   */
  readonly outcomeStreamLength?: number;
  /** How long creating the store waits for Redis to answer. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** How often `drain()` looks at the queues. @default 100 */
  readonly drainPollMs?: number;
  /**
   * How often a started instance looks for endpoints that other instances journaled to and
   * it has no workers for (they also announce new ones at once on the outcome stream).
   * @default 10000
   */
  readonly discoveryIntervalMs?: number;
};

/** Default of {@link RedisStoreOptions.partitions}. */
export const DEFAULT_REDIS_PARTITIONS = 16;

/** Default of {@link RedisStoreOptions.maxQueue}. */
const DEFAULT_REDIS_MAX_QUEUE = 10_000;
/** Default of {@link RedisStoreOptions.outcomeStreamLength}. */
const DEFAULT_OUTCOME_STREAM_LENGTH = 10_000;

/**
 * The multi-instance store, on Redis with BullMQ (both optional dependencies to install beside
 * this library). Every app instance that creates it with the same Redis, prefix and name shares
 * the work: a delivery goes to one of `partitions` queues of its endpoint, chosen by its
 * (endpoint, record) key; each queue runs one delivery at a time across all instances (BullMQ
 * global concurrency 1), so deliveries of a record keep their order whichever instance runs
 * them. A retry puts the delivery back at the head of its queue and holds the queue for the
 * backoff (BullMQ's rate limiter, a Redis key with a time to live), so nothing overtakes it; a
 * worker that dies mid-delivery loses its lock and another instance takes the delivery over
 * after `lockDurationMs`. Outcomes are appended to a Redis stream that every instance reads
 * from where it stopped (a lost connection loses none): every instance's `outcomes$` sees them
 * all, `local` telling where the delivery ran; `drain()` waits on the queues' own state.
 * Failed deliveries stay in BullMQ's failed set as dead letters.
 *
 * `journal` cannot wait for Redis: it buffers the deliveries and sends them at once; they are
 * durable when Redis acknowledges them (`await store.flush()` waits for that). A crash in
 * between (usually well under a millisecond) loses them.
 *
 * @throws {@link ProvisionerError} when bullmq or ioredis cannot be loaded, when Redis does not
 *   answer within `connectTimeoutMs`, or when the store was created with another number of
 *   partitions.
 *
 * @example
 * ```ts
 * const store = await createRedisStore({ url: process.env.REDIS_URL, partitions: 32 });
 * store.start({ plan: planOne, attempt: sendOnce, endpoints: Object.keys(config.rdm_record ?? {}) });
 * ```
 */
export async function createRedisStore<R = AppRecord>(options: RedisStoreOptions = {}): Promise<DeliveryStore<R>> {
  // Every option checked before connecting: a bad one later left the connection (and the process) open, or crashed a worker.
  const partitions = positiveInteger('partitions', options.partitions ?? DEFAULT_REDIS_PARTITIONS);
  const maxQueue = positiveInteger('maxQueue', options.maxQueue ?? DEFAULT_REDIS_MAX_QUEUE);
  const outcomeStreamLength = positiveInteger('outcomeStreamLength', options.outcomeStreamLength ?? DEFAULT_OUTCOME_STREAM_LENGTH);
  const lockDurationMs = positiveInteger('lockDurationMs', options.lockDurationMs ?? 30_000);
  const stalledIntervalMs = positiveInteger('stalledIntervalMs', options.stalledIntervalMs ?? 30_000);
  const drainPollMs = positiveInteger('drainPollMs', options.drainPollMs ?? 100);
  const discoveryIntervalMs = positiveInteger('discoveryIntervalMs', options.discoveryIntervalMs ?? 10_000);
  const timeoutMs = positiveInteger('connectTimeoutMs', options.connectTimeoutMs ?? 5_000);
  const maxStalledCount = options.maxStalledCount ?? 10;
  if (!Number.isInteger(maxStalledCount) || maxStalledCount < 0) {
    throw new ConfigError([`maxStalledCount: expected an integer >= 0, got ${typeof maxStalledCount === 'number' ? String(maxStalledCount) : JSON.stringify(maxStalledCount)}`]);
  }
  const url = options.url ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  if (typeof url !== 'string') throw new ConfigError([`url: expected a redis:// or rediss:// URL, got ${typeof url}`]);
  const [bull, { Redis: RedisClient }] = await Promise.all([loadOptional<BullModule>('bullmq', () => import('bullmq')), loadOptional('ioredis', () => import('ioredis'))]);
  const connection = new RedisClient(url, { maxRetriesPerRequest: null, lazyConnect: true, connectTimeout: timeoutMs, retryStrategy: (times) => Math.min(times * 200, 2_000) });
  // The connection's own error says why (ECONNREFUSED…); the failed command only says it closed.
  let connectionError: Error | undefined;
  connection.on('error', (error: Error) => {
    connectionError = error;
    log('store (redis): connection error: %s', error.message);
  });
  coalesceWrites(connection);
  try {
    await withTimeout(connection.connect(), timeoutMs);
    await withTimeout(connection.ping(), timeoutMs);
  } catch (error) {
    connection.disconnect();
    const cause = connectionError ?? error;
    throw new ProvisionerError(`Expected Redis at ${redactUrl(url)} to answer within ${timeoutMs} ms, it did not: ${messageOf(cause)}`, { cause });
  }
  const prefix = options.prefix ?? 'rap';
  const name = options.name ?? 'deliveries';
  const metaKey = `${prefix}:${name}:meta`;
  await connection.hsetnx(metaKey, 'partitions', String(partitions));
  const recorded = Number(await connection.hget(metaKey, 'partitions'));
  if (recorded !== partitions) {
    connection.disconnect();
    throw new ProvisionerError(
      `Expected the Redis store ${prefix}:${name} to have ${partitions} partitions, found ${recorded} recorded by the instances that use it: every instance must use the same number (change it only with the queues drained, under a new name)`,
    );
  }
  const streamStart = await latestEntryId(connection, outcomeStreamKey(prefix, name));
  const store = new RedisSharedStore<R>(bull, connection, {
    prefix,
    name,
    partitions,
    lockDurationMs,
    stalledIntervalMs,
    maxStalledCount,
    maxQueue,
    drainPollMs,
    discoveryIntervalMs,
    outcomeStreamLength,
    streamStart,
  });
  await store.open();
  return store;
}

async function loadOptional<M>(name: string, load: () => Promise<M>): Promise<M> {
  try {
    return await load();
  } catch (error) {
    throw new ProvisionerError(`Expected the optional dependency ${name} to be installed for the Redis store, but loading it failed: ${messageOf(error)}`, { cause: error });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
