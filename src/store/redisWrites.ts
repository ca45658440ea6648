/**
 * One socket write per event-loop turn for a Redis connection that many workers share.
 * @internal
 * @packageDocumentation
 */
import type { Redis } from 'ioredis';

const COALESCED = Symbol('rap.coalescedWrites');

/**
 * Holds the commands written to `connection` in one turn of the event loop (from the I/O
 * callbacks of one poll, and their promise continuations) in its socket, and sends them in
 * one write once the turn's I/O callbacks have run. The BullMQ workers of every partition
 * share the connection: each socket write to a local Redis costs the writer and wakes the
 * server, and a write per command was most of the store's cost per delivery. Commands and
 * replies keep their order; only their bytes wait, for less than a turn. Every connection
 * the client opens again (a reconnect) is held the same way.
 *
 * @example
 * ```ts
 * const connection = new Redis(url, { lazyConnect: true });
 * coalesceWrites(connection);
 * await connection.connect();
 * ```
 * @internal
 */
export function coalesceWrites(connection: Redis): void {
  connection.on('connect', () => {
    const socket = connection.stream as (typeof connection.stream & { [COALESCED]?: true }) | undefined;
    if (socket === undefined || socket[COALESCED] === true) return;
    socket[COALESCED] = true;
    let corked = false;
    const release = (): void => {
      corked = false;
      socket.uncork();
    };
    const write = socket.write;
    socket.write = function (this: typeof socket, ...args: Parameters<typeof write>): boolean {
      if (!corked) {
        corked = true;
        socket.cork();
        setImmediate(release);
      }
      return write.apply(this, args);
    } as typeof write;
  });
}
