/**
 * A response body fed by an undici dispatch handler, read without a stream in between: undici's
 * `request()` wraps every body in a node `Readable` (with its buffers, events and state), which
 * cost a delivery more than reading the one or two chunks a receiver's answer usually is.
 */

/** What {@link DispatchedBody.readAll} read. */
export type BoundedBody = {
  readonly bytes: Buffer;
  /** The body was longer than the cap and was cut; the rest was never read. */
  readonly truncated: boolean;
};

/**
 * A response body as the lean fetch hands it out: read whole up to a cap, or chunk by chunk, or
 * let go of. A {@link DispatchedBody} is one; so is the decoded body of a compressed response.
 *
 * @example
 * ```ts
 * const body: ResponseBody = new DispatchedBody(abortConnection, resumeSocket);
 * const { bytes, truncated } = await body.readAll(1024 * 1024);
 * ```
 * @internal
 */
export type ResponseBody = {
  /** Reads the whole body up to `maxBytes`; past the cap it lets go of the rest and says `truncated`. */
  readAll(maxBytes: number): Promise<BoundedBody>;
  /** The next chunk, or `null` at the end. */
  read(): Promise<Buffer | null>;
  /** Lets go of the body; a connection still receiving it is dropped. */
  cancel(): void;
};

/** Past this many unread bytes the socket is paused until a reader takes them. */
const HIGH_WATER_MARK = 64 * 1024;

const EMPTY = Buffer.alloc(0);

/**
 * The body of one response: undici pushes chunks into it as they arrive, then ends or fails it;
 * a reader takes them, all at once ({@link readAll}) or one by one ({@link read}). Unread bytes
 * past 64 KiB pause the socket until they are read. Cancelling drops the connection (rather than
 * draining a body nobody reads).
 *
 * @example
 * ```ts
 * const body = new DispatchedBody(abortConnection, resumeSocket);
 * // in the dispatch handler: body.push(chunk), then body.end() or body.fail(error)
 * const { bytes, truncated } = await body.readAll(1024 * 1024);
 * ```
 * @internal
 */
export class DispatchedBody implements ResponseBody {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | undefined;
  #cancelled = false;
  #paused = false;
  #waiter: (() => void) | undefined;
  readonly #abortConnection: () => void;
  readonly #resumeSocket: () => void;

  /**
   * @param abortConnection drops the connection the body arrives on
   * @param resumeSocket resumes a socket paused because the reader fell behind
   */
  constructor(abortConnection: () => void, resumeSocket: () => void) {
    this.#abortConnection = abortConnection;
    this.#resumeSocket = resumeSocket;
  }

  /** A chunk arrived; `false` asks undici to pause the socket until it is read. */
  push(chunk: Buffer): boolean {
    if (this.#cancelled) return true;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    this.#wake();
    this.#paused = this.#buffered >= HIGH_WATER_MARK;
    return !this.#paused;
  }

  /** The body is complete. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** The body will not complete (an abort, a reset connection, a timeout of undici's own). */
  fail(error: Error): void {
    if (this.#ended) return;
    this.#error ??= error;
    this.#wake();
  }

  /** Whether the body arrived whole (a cancel or a failure after that changes nothing). */
  get complete(): boolean {
    return this.#ended;
  }

  /**
   * Reads the whole body, up to `maxBytes`: past the cap it stops, drops the connection and says
   * `truncated`. Rejects if the body fails before its end.
   */
  async readAll(maxBytes: number): Promise<BoundedBody> {
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      for (const chunk of this.#takeBuffered()) {
        if (length + chunk.length > maxBytes) {
          chunks.push(chunk.subarray(0, maxBytes - length));
          length = maxBytes;
          this.cancel();
          return { bytes: Buffer.concat(chunks, length), truncated: true };
        }
        chunks.push(chunk);
        length += chunk.length;
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) {
        return { bytes: chunks.length === 1 ? (chunks[0] as Buffer) : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, length), truncated: false };
      }
      await this.#more();
    }
  }

  /** The next chunk, or `null` at the end; rejects if the body fails before its end. */
  async read(): Promise<Buffer | null> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        this.#buffered -= chunk.length;
        this.#resumeIfDrained();
        return chunk;
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      await this.#more();
    }
  }

  /** Lets go of the body: what is unread is dropped, and so is the connection if it is not over. */
  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#chunks = [];
    this.#buffered = 0;
    if (!this.#ended && this.#error === undefined) {
      this.#error = new Error('Expected to read a response body, got one cancelled by its reader');
      this.#abortConnection();
    }
    this.#wake();
  }

  #takeBuffered(): Buffer[] {
    const chunks = this.#chunks;
    if (chunks.length === 0) return chunks;
    this.#chunks = [];
    this.#buffered = 0;
    this.#resumeIfDrained();
    return chunks;
  }

  #resumeIfDrained(): void {
    if (this.#paused && this.#buffered < HIGH_WATER_MARK) {
      this.#paused = false;
      this.#resumeSocket();
    }
  }

  #more(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#waiter = resolve;
    });
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter();
    }
  }
}
