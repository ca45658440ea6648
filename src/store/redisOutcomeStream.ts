/**
 * The Redis store's outcome stream: every instance appends the outcomes it reaches (and its
 * announcements of new endpoints) to one Redis stream, and reads the stream from where it
 * last stopped. Unlike pub/sub, a reader that loses its connection (a restart of Redis, a
 * killed client, a network cut) misses nothing: it reads on from the last entry id it saw.
 * @internal
 * @packageDocumentation
 */
import type { Redis } from 'ioredis';
import { logger } from '../util/log.js';

const log = logger('delivery');

/** Entries read at once at most. */
const READ_COUNT = 500;
/** How long one read blocks waiting for entries; closing does not wait for it. */
const READ_BLOCK_MS = 1_000;

/** Options of {@link OutcomeStream}. @internal */
export type OutcomeStreamOptions = {
  /** The stream's key. */
  readonly key: string;
  /** Entries kept, about (`MAXLEN ~`): a reader further behind than that misses the oldest. */
  readonly maxLength: number;
  /** The id after which this reader starts (the stream's last id when the store was created). */
  readonly startId: string;
  /** The reader connection's client name (`CLIENT LIST` shows it). */
  readonly readerName: string;
  /** Each entry's message, in stream order. */
  readonly onMessage: (message: string) => void;
};

/**
 * The id of the newest entry of a stream, `0-0` when it has none: a new reader starts after it.
 *
 * @example
 * ```ts
 * const startId = await latestEntryId(connection, 'rap:deliveries:outcome-stream');
 * ```
 * @internal
 */
export async function latestEntryId(connection: Redis, key: string): Promise<string> {
  const [last] = await connection.xrevrange(key, '+', '-', 'COUNT', 1);
  return last?.[0] ?? '0-0';
}

/**
 * Appends to and reads one Redis stream, on a connection of its own for the blocking reads.
 *
 * @example
 * ```ts
 * const stream = new OutcomeStream(connection, { key, maxLength: 10_000, startId, readerName, onMessage: receive });
 * await stream.append(JSON.stringify(wire));
 * stream.close();
 * ```
 * @internal
 */
export class OutcomeStream {
  readonly #connection: Redis;
  readonly #reader: Redis;
  readonly #options: OutcomeStreamOptions;
  #lastId: string;
  #closed = false;

  constructor(connection: Redis, options: OutcomeStreamOptions) {
    this.#connection = connection;
    this.#options = options;
    this.#lastId = options.startId;
    this.#reader = connection.duplicate({ connectionName: options.readerName });
    this.#reader.on('error', (error: Error) => log('store (redis): outcome reader: %s', error.message));
    void this.#read();
  }

  /** Appends a message; the stream keeps about `maxLength` entries. */
  async append(message: string): Promise<void> {
    await this.#connection.xadd(this.#options.key, 'MAXLEN', '~', this.#options.maxLength, '*', 'm', message);
  }

  /** Stops reading and drops the reader's connection. */
  close(): void {
    this.#closed = true;
    this.#reader.disconnect();
  }

  async #read(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      try {
        const result = await this.#reader.xread('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', this.#options.key, this.#lastId);
        failures = 0;
        for (const [, entries] of result ?? []) {
          for (const [id, fields] of entries) {
            this.#lastId = id;
            const message = fields[1];
            if (this.#closed) return;
            if (fields[0] === 'm' && message !== undefined) this.#options.onMessage(message);
          }
        }
      } catch (error) {
        if (this.#closed) return;
        failures += 1;
        // The connection dropped: ioredis reconnects; reading goes on from the last id seen.
        log('store (redis): reading outcomes failed (%d in a row), reading on from %s: %s', failures, this.#lastId, error instanceof Error ? error.message : String(error));
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** failures, 2_000)));
      }
    }
  }
}
