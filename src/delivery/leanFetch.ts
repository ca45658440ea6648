import type { EventEmitter } from 'node:events';
import { Agent, errors } from 'undici';
import type { Dispatcher } from 'undici';
import { redactUrl } from '../log.js';
import { decodedBody, decodersFor } from './decodedBody.js';
import { DispatchedBody, type BoundedBody, type ResponseBody } from './dispatchedBody.js';

/** Options of {@link createLeanFetch}. */
export type LeanFetchOptions = {
  /** Most sockets per origin. @default unlimited (the pipeline's concurrency bounds it) */
  readonly connections?: number;
  /** How long an idle keep-alive socket stays open. @default 4000 */
  readonly keepAliveTimeoutMs?: number;
};

/**
 * Per-request extras the lean fetch reads from its `init` under the `lean` key. ky hands every
 * option it does not know to `fetch` (as it does undici's `dispatcher`), so these travel through
 * ky untouched.
 */
export type LeanFetchExtras = {
  /**
   * The exact bytes to send. Used instead of reading the `Request`'s body stream, which saves
   * the web-stream wrapping and the clone ky makes for its retries.
   */
  readonly body?: string | Uint8Array | null;
  /**
   * The request headers, sent as they are instead of the `Request`'s (which ky copies into
   * `Headers` objects several times per request).
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Aborts the request, or the reading of its response body, when it emits `'abort'`. When
   * given, the `Request`'s signal is not listened to: the caller aborts through the emitter
   * (on unsubscribe, or at the attempt's deadline). An {@link AttemptAbort} also remembers an
   * abort that came before the request was sent: the request is then not sent at all.
   */
  readonly abortEmitter?: AbortEmitter;
};

/**
 * What the lean fetch listens to for an abort: a node `EventEmitter` emitting `'abort'`, or an
 * {@link AttemptAbort}.
 *
 * @example
 * ```ts
 * const abortEmitter: AbortEmitter = new EventEmitter(); // or new AttemptAbort()
 * await leanFetch(url, { lean: { abortEmitter } });
 * ```
 * @internal
 */
export type AbortEmitter = {
  on(event: 'abort', listener: () => void): unknown;
  once(event: 'abort', listener: () => void): unknown;
  removeListener(event: 'abort', listener: () => void): unknown;
  /** Set once aborted (an `EventEmitter` has no such flag: an abort before the request is sent is lost). */
  readonly aborted?: boolean;
};

/**
 * The abort of one attempt: lighter than an `EventEmitter` (one is made per attempt) and it
 * keeps the fact that it was aborted, so that an abort that comes before the request is sent
 * (an unsubscribe in the same tick, say) still stops it.
 *
 * @example
 * ```ts
 * const abortEmitter = new AttemptAbort();
 * const pending = leanFetch(url, { lean: { abortEmitter } });
 * abortEmitter.abort(); // the request is not sent, or is cut where it is
 * ```
 * @internal
 */
export class AttemptAbort {
  #listeners: ((...args: unknown[]) => void)[] | undefined;
  #aborted = false;

  get aborted(): boolean {
    return this.#aborted;
  }

  on(_event: string | symbol, listener: (...args: unknown[]) => void): this {
    (this.#listeners ??= []).push(listener);
    return this;
  }

  /** The same as `on`: listeners are called once at most, as there is one abort. */
  once(event: string | symbol, listener: (...args: unknown[]) => void): this {
    return this.on(event, listener);
  }

  removeListener(_event: string | symbol, listener: (...args: unknown[]) => void): this {
    const listeners = this.#listeners;
    const index = listeners === undefined ? -1 : listeners.indexOf(listener);
    if (index >= 0) listeners?.splice(index, 1);
    return this;
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) {
      for (const listener of listeners) listener();
    }
  }
}

/** The `init` of the lean fetch: a `RequestInit` plus {@link LeanFetchExtras}. */
export type LeanFetchInit = RequestInit & { readonly lean?: LeanFetchExtras };

/** A `fetch` for ky over one keep-alive undici pool; `close()` closes the pool. */
export type LeanFetch = {
  (input: string | URL | Request, init?: LeanFetchInit): Promise<Response>;
  /** Closes the keep-alive pool; in-flight requests finish first. */
  close(): Promise<void>;
};

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

/**
 * A minimal `fetch` for ky that dispatches over one keep-alive undici `Agent`. It never
 * follows redirects: a 3xx comes back as it is, like `redirect: 'manual'` in Node's fetch.
 * It honours the `Request`'s signal (ky's timeout) and the {@link LeanFetchExtras} ky passes
 * through; its responses are {@link LeanResponse}s.
 *
 * A body sent with a `content-encoding` (gzip, x-gzip, deflate, br, zstd, several listed right
 * to left) is decoded as `fetch` decodes it, and an unknown coding leaves it as it is; caps on
 * reading count decoded bytes. Unlike `fetch` it sends no `accept-encoding` of its own: the
 * answers of receivers are short, and compressing them would cost both sides CPU for nothing.
 * A request that gives one (an endpoint's `headers`) gets its answer decoded.
 *
 * @example
 * ```ts
 * const fetch = createLeanFetch({ connections: 16 });
 * const response = await ky.post(url, { fetch, body, retry: 0, redirect: 'manual' });
 * await fetch.close();
 * ```
 * @internal
 */
export function createLeanFetch(options: LeanFetchOptions = {}): LeanFetch {
  const agent = new Agent({
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
    // undici stops reusing a socket this long before the server's advertised keep-alive ends
    // (2 s by default): receivers that keep idle connections 2 s (gunicorn's default, say) would
    // get a new connection per delivery. 1 s still leaves a margin for the server's own timer.
    keepAliveTimeoutThreshold: KEEP_ALIVE_MARGIN_MS,
    ...(options.connections === undefined ? {} : { connections: options.connections }),
  });

  const leanFetch = async (input: string | URL | Request, init?: LeanFetchInit): Promise<Response> => {
    const isRequest = typeof input === 'object' && input instanceof Request;
    const href = isRequest ? input.url : String(input);
    const method = isRequest ? input.method : (init?.method ?? 'GET').toUpperCase();
    const extras = init?.lean;
    let headers: Readonly<Record<string, string>> | string[];
    if (extras?.headers !== undefined) {
      headers = extras.headers;
    } else {
      headers = flattenHeaders(isRequest ? input.headers : new Headers(init?.headers));
    }
    let body: string | Uint8Array | null;
    if (extras?.body !== undefined) {
      body = extras.body;
    } else if (isRequest) {
      body = input.body === null ? null : new Uint8Array(await input.arrayBuffer());
    } else {
      body = init?.body === undefined || init.body === null ? null : new Uint8Array(await new Response(init.body).arrayBuffer());
    }
    const signal = extras?.abortEmitter ?? (isRequest ? input.signal : (init?.signal ?? null));
    if (signal?.aborted === true) {
      throw new Error('Expected a request to send, got one aborted before it was sent');
    }

    const target = targetOf(href);
    const dispatchOptions: Dispatcher.DispatchOptions = { origin: target.origin, path: target.path, method: method as Dispatcher.HttpMethod, headers, body };
    return (await dispatchLean(agent, dispatchOptions, href, signal)) as unknown as Response;
  };

  // URLs repeat (an endpoint, or a few per record): parse each once. Bounded, as factory URLs
  // may differ per record.
  const targets = new Map<string, { readonly origin: string; readonly path: string }>();
  const targetOf = (href: string): { readonly origin: string; readonly path: string } => {
    let target = targets.get(href);
    if (target === undefined) {
      const url = new URL(href);
      target = { origin: url.origin, path: url.pathname + url.search };
      if (targets.size >= MAX_CACHED_TARGETS) targets.clear();
      targets.set(href, target);
    }
    return target;
  };

  return Object.assign(leanFetch, { close: () => agent.close() });
}

/**
 * Sends one request through the pool and answers with a {@link LeanResponse} once its headers
 * are in. It dispatches with a handler of its own rather than through `Agent.request()`, which
 * builds a node `Readable` and an async resource per response and costs more CPU per delivery
 * even before a `Response` is made of it (docs/performance.md): the body's chunks go straight
 * into a {@link DispatchedBody}. `signal` aborts the request, or the reading of its
 * body, until the body is complete.
 */
function dispatchLean(agent: Agent, options: Dispatcher.DispatchOptions, href: string, signal: AbortSource | null): Promise<LeanResponse> {
  const bodyAllowed = options.method !== 'HEAD';
  return new Promise<LeanResponse>((resolve, reject) => {
    let abortConnection: ((reason: Error) => void) | undefined;
    let abortReason: Error | undefined;
    let body: DispatchedBody | null = null;
    let answered = false;
    const onAbort = (): void => {
      abortReason ??= abortReasonOf(signal);
      // undici then calls onError, which ends the request or its body with this reason.
      abortConnection?.(abortReason);
    };
    const stopListening = signal === null ? ignore : listenForAbort(signal, onAbort);
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        abortConnection = (reason) => controller.abort(reason);
        if (abortReason !== undefined) controller.abort(abortReason);
      },
      onResponseStart(controller, statusCode, headers, statusMessage) {
        // 1xx: informational, the answer is still to come.
        if (statusCode < 200) return;
        const plain = plainHeaders(headers);
        let responseBody: ResponseBody | null = null;
        if (bodyAllowed && statusCode !== 204 && statusCode !== 304) {
          const contentEncoding = plain['content-encoding'];
          let decoders: ReturnType<typeof decodersFor> = [];
          try {
            decoders = decodersFor(contentEncoding);
          } catch (error) {
            controller.abort(error as Error);
            return;
          }
          body = new DispatchedBody(() => abortConnection?.(new errors.RequestAbortedError()), () => controller.resume());
          responseBody = decoders.length === 0 ? body : decodedBody(body, decoders, contentEncoding);
        }
        answered = true;
        resolve(new LeanResponse(statusCode, statusMessage ?? '', href, plain, responseBody));
      },
      onResponseData(controller, chunk) {
        // Past the body's high-water mark the socket waits until the reader catches up.
        if (body !== null && !body.push(chunk)) controller.pause();
      },
      onResponseEnd() {
        stopListening();
        body?.end();
      },
      onResponseError(_controller, error) {
        stopListening();
        if (answered) body?.fail(error);
        else reject(error);
      },
    };
    try {
      agent.dispatch(options, handler);
    } catch (error) {
      stopListening();
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/** What can abort a lean request: an {@link AbortEmitter} or the `Request`'s `AbortSignal`. */
type AbortSource = AbortEmitter | AbortSignal;

/** Listens for the abort of `source`; the result stops listening. */
function listenForAbort(source: AbortSource, onAbort: () => void): () => void {
  if ('addEventListener' in source) {
    source.addEventListener('abort', onAbort, { once: true });
    return () => source.removeEventListener('abort', onAbort);
  }
  source.once('abort', onAbort);
  return () => source.removeListener('abort', onAbort);
}

/** The error a request ends with when it is aborted: the signal's reason, or undici's own. */
function abortReasonOf(source: AbortSource | null): Error {
  const reason: unknown = source !== null && 'reason' in source ? source.reason : undefined;
  return reason instanceof Error ? reason : new errors.RequestAbortedError();
}

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

/** How long before the server's advertised keep-alive ends a socket is no longer reused. */
const KEEP_ALIVE_MARGIN_MS = 1_000;

/** How many parsed URLs a lean fetch keeps. */
const MAX_CACHED_TARGETS = 256;

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

function flattenHeaders(headers: Headers): string[] {
  const flat: string[] = [];
  headers.forEach((value, name) => {
    flat.push(name, value);
  });
  return flat;
}

function plainHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string> {
  const plain: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) {
      plain[name] = typeof value === 'string' ? value : value.join(', ');
    }
  }
  return plain;
}

function ignore(): void {}
