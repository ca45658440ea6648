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
import { INSTANCE_TTL_MS, type Heartbeat } from './liveInstances.js';
import { APPEND_OUTCOME, redisHeartbeat } from './redisInstances.js';

const log = logger('delivery');

/** Entries read at once at most. */
const READ_COUNT = 500;
/** How long one read blocks waiting for entries; closing does not wait for it. */
const READ_BLOCK_MS = 1_000;
/** An entry's fields: `m`, the message, comes first, where readers look for it; `i`, the instance that wrote it. */
const MESSAGE_FIELD = Buffer.from('m');
const WRITER_FIELD = Buffer.from('i');

/** The script command the stream defines on its connection. */
type OutcomeCommands = { rapAppendOutcome(...args: (string | number)[]): Promise<[number, number]> };

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
  /** The id of this instance, which marks the entries it appends. */
  readonly instance: string;
  /** The key of the store's set of live instances (`redisInstances`). */
  readonly instancesKey: string;
  /** Each entry's message, in stream order, but for the entries this instance appended. */
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
 * Appends to and reads one Redis stream: the appends go on the store's connection (whose
 * writes of one turn leave together, see `coalesceWrites`: they join the workers' commands),
 * the blocking reads on a connection of their own.
 *
 * @example
 * ```ts
 * const stream = new OutcomeStream(connection, { key, maxLength: 10_000, startId, readerName, instance, onMessage: receive });
 * await stream.append(JSON.stringify(wire));
 * await stream.close();
 * ```
 * @internal
 */
export class OutcomeStream {
  readonly #reader: Redis;
  readonly #writer: Redis;
  readonly #options: OutcomeStreamOptions;
  readonly #instanceBytes: Buffer;
  #lastId: string;
  #closed = false;
  /** The last append's write: once it is answered, every append so far is. */
  #written: Promise<void> = Promise.resolve();
  /** Whether the last outcome appended found another instance alive (at first, assumed so). */
  #othersAlive = true;
  readonly #heartbeat: Heartbeat;

  constructor(connection: Redis, options: OutcomeStreamOptions) {
    this.#options = options;
    this.#lastId = options.startId;
    this.#instanceBytes = Buffer.from(options.instance);
    this.#reader = connection.duplicate({ connectionName: options.readerName });
    this.#reader.on('error', (error: Error) => log('store (redis): outcome reader: %s', error.message));
    this.#writer = connection;
    connection.defineCommand('rapAppendOutcome', { numberOfKeys: 2, lua: APPEND_OUTCOME });
    this.#heartbeat = redisHeartbeat(connection, options.instancesKey, options.instance);
    void this.#read();
  }

  /** Says this instance is alive (`redisInstances`): the others append their outcomes for it from now on. */
  open(): Promise<void> {
    return this.#heartbeat.open();
  }

  /**
   * Appends a message; the stream keeps about `maxLength` entries. On the store's connection,
   * the messages appended in one event-loop turn leave in one write with the workers' commands
   * (`coalesceWrites`).
   */
  append(message: string): Promise<void> {
    const { key, maxLength, instance } = this.#options;
    const written = this.#writer.xadd(key, 'MAXLEN', '~', maxLength, '*', 'm', message, 'i', instance).then(() => undefined);
    // Replies come in order: once the last append is answered, every earlier one is.
    this.#written = written;
    return written;
  }

  /**
   * Appends an outcome when another instance may read it: one alive (see `redisInstances`) or
   * the one that journaled the delivery (`elsewhere`). The message is built only when the last
   * append found another instance alive, or for `elsewhere`; when the script finds one the
   * guess missed, the message is sent after all.
   */
  appendOutcome(message: () => string, elsewhere: boolean): Promise<void> {
    const { key, maxLength, instance, instancesKey } = this.#options;
    const append = (text?: string): Promise<[number, number]> => {
      const args = [key, instancesKey, maxLength, instance, INSTANCE_TTL_MS, elsewhere ? '1' : '0', ...(text === undefined ? [] : [text])];
      return (this.#writer as unknown as OutcomeCommands).rapAppendOutcome(...args);
    };
    const guessed = elsewhere || this.#othersAlive;
    const written = append(guessed ? message() : undefined).then(async ([code, alive]) => {
      this.#othersAlive = alive === 1;
      if (code === 2) await append(message());
    });
    this.#written = written;
    return written;
  }

  /** Stops reading and drops the reader's connection; resolves when what was appended is written (the store's connection stays open). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#reader.disconnect();
    await this.#heartbeat.close();
    await this.#written.catch(() => undefined);
  }

  async #read(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      try {
        // As bytes: the entries this instance wrote are skipped without being decoded.
        const result = await this.#reader.xreadBuffer('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', this.#options.key, this.#lastId);
        failures = 0;
        for (const [, entries] of result ?? []) {
          for (const [id, fields] of entries) {
            this.#lastId = id.toString();
            if (this.#closed) return;
            const [name, message, writerField, writer] = fields;
            const own = writerField !== undefined && writer !== undefined && WRITER_FIELD.equals(writerField) && this.#instanceBytes.equals(writer);
            // Entries of earlier versions have no `i`.
            if (!own && name !== undefined && message !== undefined && MESSAGE_FIELD.equals(name)) this.#options.onMessage(message.toString());
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
