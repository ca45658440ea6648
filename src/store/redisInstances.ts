/**
 * The Redis store's record of live instances: a sorted set of instance ids, each scored by when
 * it last said it was alive (Redis's clock; see `liveInstances` for the rule and its timing),
 * and the script that appends an outcome to the outcome stream only when another instance may
 * read it: a lone instance neither writes nor reads back its outcomes.
 * @internal
 * @packageDocumentation
 */
import type { Redis } from 'ioredis';
import { Heartbeat, INSTANCE_FORGOTTEN_MS } from './liveInstances.js';

/** Redis's clock in ms, in a script. */
const NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/** KEYS[1] the set, ARGV[1] the instance: scores it now, and drops the instances that crashed. */
const HEARTBEAT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ${INSTANCE_FORGOTTEN_MS})
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

/** This instance's place in the set: scored by Redis's clock on open and at every beat, removed on close. @internal */
export function redisHeartbeat(connection: Redis, key: string, instance: string): Heartbeat {
  return new Heartbeat(
    'redis',
    () => connection.eval(HEARTBEAT, 1, key, instance),
    () => connection.zrem(key, instance),
  );
}
