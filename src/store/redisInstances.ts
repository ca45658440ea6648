/**
 * The Redis store's live instances: a sorted set of instance ids, each scored by when it last
 * said it was alive (Redis's clock), on open and every few seconds; an instance leaves it when
 * it closes. An outcome is appended to the outcome stream only when another instance was seen
 * lately, or when the delivery was journaled elsewhere: a lone instance, the usual deployment,
 * neither writes nor reads back its outcomes.
 * @internal
 * @packageDocumentation
 */
import type { Redis } from 'ioredis';
import { logger } from '../util/log.js';

const log = logger('delivery');

/** How long an instance counts as alive after it last said so (ms): six heartbeats. */
export const INSTANCE_TTL_MS = 30_000;

/** How often an instance says it is alive (ms). */
const HEARTBEAT_MS = 5_000;

/** Redis's clock in ms, in a script. */
const NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/** KEYS[1] the set, ARGV[1] the instance: scores it now, and drops instances not seen for an hour. */
const HEARTBEAT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
return now`;

/**
 * KEYS[1] the outcome stream, KEYS[2] the set of instances; ARGV: the stream's length, this
 * instance, the time to live, '1' when the delivery was journaled elsewhere, and the message
 * (left out when the caller guessed nobody needs it). Appends the message when another
 * instance is alive or the delivery was journaled elsewhere. Answers { code, alive }: code 1
 * appended, 0 nobody needs it, 2 needed but not given.
 * @internal
 */
export const APPEND_OUTCOME = `${NOW}
local alive = 0
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], now - tonumber(ARGV[3]), '+inf')) do
  if member ~= ARGV[2] then alive = 1 break end
end
if ARGV[4] ~= '1' and alive == 0 then return { 0, alive } end
if ARGV[5] == nil then return { 2, alive } end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[5], 'i', ARGV[2])
return { 1, alive }`;

/** The key of the set of live instances of a store. @internal */
export function instancesKey(prefix: string, name: string): string {
  return `${prefix}:${name}:instances`;
}

/** This instance's place in the set: taken on open, kept every {@link HEARTBEAT_MS}, given back on close. @internal */
export class RedisInstances {
  readonly #connection: Redis;
  readonly #key: string;
  readonly #instance: string;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(connection: Redis, key: string, instance: string) {
    this.#connection = connection;
    this.#key = key;
    this.#instance = instance;
  }

  /** Says this instance is alive before it journals or reads anything, then keeps saying so. */
  async open(): Promise<void> {
    await this.#heartbeat();
    this.#timer = setInterval(() => {
      this.#heartbeat().catch((error: unknown) => log('store (redis): could not say this instance is alive: %s', error instanceof Error ? error.message : String(error)));
    }, HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Stops saying so and leaves the set (best effort: an instance left there counts for {@link INSTANCE_TTL_MS} only). */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#connection.zrem(this.#key, this.#instance).catch(() => undefined);
  }

  async #heartbeat(): Promise<void> {
    await this.#connection.eval(HEARTBEAT, 1, this.#key, this.#instance);
  }
}
