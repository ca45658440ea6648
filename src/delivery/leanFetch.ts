import type { EventEmitter } from 'node:events';
import { Agent, errors } from 'undici';
import type { Dispatcher } from 'undici';
import { decodedBody, decodersFor } from './decodedBody.js';
import { DispatchedBody, type ResponseBody } from './dispatchedBody.js';
import { LeanResponse } from './leanResponse.js';

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
      // undici then calls onResponseError, which ends the request or its body with this reason.
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

/** How long before the server's advertised keep-alive ends a socket is no longer reused. */
const KEEP_ALIVE_MARGIN_MS = 1_000;

/** How many parsed URLs a lean fetch keeps. */
const MAX_CACHED_TARGETS = 256;

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
