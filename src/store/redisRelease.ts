/**
 * How the Redis store lets go of Redis when it closes, within its close timeout even when
 * Redis does not answer.
 * @internal
 * @packageDocumentation
 */
import type { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { ClosedError } from '../errors.js';
import { logger } from '../util/log.js';
import type { OutcomeStream } from './redisOutcomeStream.js';
import { withTimeout } from './waits.js';

const log = logger('delivery');

/** What a Redis store holds of Redis. @internal */
export type RedisClients = {
  readonly workers: readonly Worker[];
  readonly queues: readonly Promise<Queue>[];
  readonly stream: OutcomeStream;
  readonly connection: Redis;
  /** The attempts running here, aborted when they are abandoned. */
  readonly inFlight: ReadonlyMap<string, AbortController>;
};

/**
 * Closes the workers (letting running attempts finish until `deadline`, a `Date.now()` time,
 * then abandoning them: their lock expires and another instance takes them over), the queues,
 * the outcome stream and the connection. Everything after the workers' gentle close waits on
 * Redis too, which may not answer at all (an outage): that part ends at the same deadline, and
 * then every connection is dropped (a second at most), so that close() ends and the process
 * can exit.
 * @internal
 */
export async function releaseRedis(clients: RedisClients, deadline: number): Promise<void> {
  const { workers, queues, stream, connection, inFlight } = clients;
  const left = (): number => Math.max(0, deadline - Date.now());
  const abandon = (): void => {
    for (const abort of inFlight.values()) abort.abort(new ClosedError('The redis store was closed'));
  };
  const gentle = await withTimeout(Promise.all(workers.map((worker) => worker.close())), left()).then(
    () => true,
    () => false,
  );
  const released = await withTimeout(
    (async () => {
      if (!gentle) {
        abandon();
        await Promise.allSettled(workers.map((worker) => worker.close(true)));
      }
      await Promise.allSettled(queues.map(async (queue) => (await queue).close()));
      await stream.close();
      await Promise.allSettled([connection.quit()]);
    })(),
    left(),
  ).then(
    () => true,
    () => false,
  );
  if (released) return;
  log('store (redis): Redis did not answer before the close deadline: its connections are dropped');
  abandon();
  connection.disconnect();
  const opened = (await Promise.allSettled(queues)).flatMap((queue) => (queue.status === 'fulfilled' ? [queue.value] : []));
  await withTimeout(Promise.allSettled([...workers, ...opened].map((client) => client.disconnect())), 1_000).catch(() => undefined);
}
