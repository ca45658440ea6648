/**
 * What the lean fetch answers with, and how the default effect reads any response: a
 * {@link LeanResponse} passes for a `Response` while its body stays the chunks undici handed
 * over; {@link readBodyBounded} and {@link responseHeaders} read lean and ordinary responses
 * alike.
 * @internal
 * @packageDocumentation
 */
import { redactUrl } from '../util/redact.js';
import type { BoundedBody, ResponseBody } from './dispatchedBody.js';

const EMPTY = Buffer.alloc(0);

/**
 * A response of the lean fetch. It passes for a `Response` (`instanceof Response` holds, so ky
 * accepts it, and it has every member of one), but its body is the chunks undici handed over
 * ({@link DispatchedBody}): the body methods read them directly and a web stream is only made
 * if `body` is asked for. Headers are kept as the plain lower-case record undici parsed; a `Headers` object
 * is built only when `headers` is read. No `Response` is constructed underneath (that, with its
 * header list and body state, cost more than the rest of this object).
 *
 * @internal
 */
export class LeanResponse {
  readonly #status: number;
  readonly #statusText: string;
  readonly #url: string;
  readonly #rawHeaders: Readonly<Record<string, string>>;
  #dispatchedBody: ResponseBody | null;
  /** Whether the body was handed out (to a reader, a web stream or a body method). */
  #bodyTaken = false;
  #headers: Headers | undefined;
  #webBody: ReadableStream<Uint8Array> | null | undefined;

  constructor(status: number, statusText: string, url: string, headers: Readonly<Record<string, string>>, body: ResponseBody | null) {
    this.#status = status;
    this.#statusText = statusText;
    this.#url = url;
    this.#rawHeaders = headers;
    this.#dispatchedBody = body;
  }

  get status(): number {
    return this.#status;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText(): string {
    return this.#statusText;
  }

  get url(): string {
    return this.#url;
  }

  get redirected(): boolean {
    return false;
  }

  get type(): Response['type'] {
    return 'basic';
  }

  get headers(): Headers {
    if (this.#headers === undefined) {
      const headers = new Headers();
      for (const name in this.#rawHeaders) {
        headers.append(name, this.#rawHeaders[name] ?? '');
      }
      this.#headers = headers;
    }
    return this.#headers;
  }

  /** The response headers as undici parsed them: lower-case names, repeated values joined. */
  get plainHeaders(): Readonly<Record<string, string>> {
    return this.#rawHeaders;
  }

  /** True once the body was handed out (asking for `body` counts, unlike in the fetch standard). */
  get bodyUsed(): boolean {
    return this.#bodyTaken;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#webBody === undefined) {
      const body = this.takeBody();
      this.#webBody = body === null ? null : webStreamOf(body);
    }
    return this.#webBody;
  }

  /**
   * Hands over the body (decoded, when the response has a `content-encoding`), once; later calls
   * get `null`.
   * @internal
   */
  takeBody(): ResponseBody | null {
    const body = this.#dispatchedBody;
    this.#dispatchedBody = null;
    if (body !== null) {
      this.#bodyTaken = true;
    }
    return body;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.#readAll();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  async text(): Promise<string> {
    return (await this.#readAll()).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }

  async blob(): Promise<Blob> {
    return new Blob([await this.arrayBuffer()], { type: this.#rawHeaders['content-type'] ?? '' });
  }

  async formData(): Promise<FormData> {
    return new Response(await this.arrayBuffer(), { headers: this.#rawHeaders }).formData();
  }

  /**
   * A copy for ky's `afterResponse` hooks: the body becomes a web stream teed between this
   * response and the copy (only when a user gave such hooks; deliveries without them never
   * clone).
   */
  clone(): Response {
    if (this.#bodyTaken && this.#webBody === undefined) {
      throw new TypeError('Expected a response whose body is unread, got one already read');
    }
    const body = this.body;
    let copyBody: ReadableStream<Uint8Array> | null = null;
    if (body !== null) {
      const [mine, theirs] = body.tee();
      this.#webBody = mine;
      copyBody = theirs;
    }
    return new Response(copyBody, { status: this.#status, statusText: this.#statusText, headers: this.headers });
  }

  get [Symbol.toStringTag](): string {
    return 'Response';
  }

  /** What `util.inspect` shows (the inherited one expects a `Response`'s internal state). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `LeanResponse { status: ${this.#status}, url: ${JSON.stringify(redactUrl(this.#url))}, bodyUsed: ${this.#bodyTaken} }`;
  }

  async #readAll(): Promise<Buffer> {
    if (this.#bodyTaken) {
      throw new TypeError('Expected an unread response body, got one already read');
    }
    const body = this.takeBody();
    return body === null ? EMPTY : (await body.readAll(Number.POSITIVE_INFINITY)).bytes;
  }
}

// Every member of `Response.prototype` is overridden above, so none of its internal-state
// checks ever runs on a lean response; `instanceof Response` holds.
Object.setPrototypeOf(LeanResponse.prototype, Response.prototype);

/** A web stream over a dispatched body, for those who ask a lean response for `body`. */
function webStreamOf(body: ResponseBody): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await body.read();
      if (chunk === null) controller.close();
      else controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    },
    cancel() {
      body.cancel();
    },
  });
}

/**
 * Reads a response body up to `maxBytes`: past the cap it stops reading, cancels the rest (the
 * connection is dropped rather than drained) and says `truncated`. Works on lean responses
 * (their dispatched body) and on any other `Response` (its web stream).
 *
 * @example
 * ```ts
 * const { bytes, truncated } = await readBodyBounded(response, 1024 * 1024);
 * ```
 * @internal
 */
export function readBodyBounded(response: Response, maxBytes: number): Promise<BoundedBody> {
  if (response instanceof LeanResponse && !response.bodyUsed) {
    const body = response.takeBody();
    return body === null ? Promise.resolve({ bytes: EMPTY, truncated: false }) : body.readAll(maxBytes);
  }
  // Another fetch's response, or a lean one cloned for afterResponse hooks (its body is a web stream now).
  return readWebBody(response.body, maxBytes);
}

/**
 * The headers of a response as a plain record with lower-case names.
 * @internal
 */
export function responseHeaders(response: Response): Readonly<Record<string, string>> {
  if (response instanceof LeanResponse) {
    return response.plainHeaders;
  }
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return headers;
}

async function readWebBody(stream: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<BoundedBody> {
  if (stream === null) {
    return { bytes: EMPTY, truncated: false };
  }
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      return { bytes: Buffer.concat(chunks, length), truncated: false };
    }
    if (length + value.byteLength > maxBytes) {
      chunks.push(value.subarray(0, maxBytes - length));
      length = maxBytes;
      await reader.cancel().catch(ignore);
      return { bytes: Buffer.concat(chunks, length), truncated: true };
    }
    chunks.push(value);
    length += value.byteLength;
  }
}

function ignore(): void {}
