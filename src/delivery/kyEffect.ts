import ky, { isTimeoutError as isKyTimeoutError } from 'ky';
import type { AfterResponseHook, BeforeErrorHook, BeforeRequestHook, Options as KyOptions } from 'ky';
import { Observable } from 'rxjs';
import { NetworkError, TimeoutError } from '../errors.js';
import type { HttpEffect } from '../events/httpEffect.js';
import type { ProvisionerResponse, RequestDescriptor } from '../events/request.js';
import { AttemptAbort, createLeanFetch } from './leanFetch.js';
import { LeanResponse, readBodyBounded, responseHeaders } from './leanResponse.js';
import type { LeanFetchExtras, LeanFetchInit } from './leanFetch.js';
import { describeUrl } from '../util/urls.js';

/**
 * What a user adds to the ky client of every delivery: ky's own `hooks` and `headers`, with
 * ky's meaning. `headers` are defaults: a request's own headers (the config's `headers`,
 * `auth_token`, the signature) win over them. `beforeRequest` hooks may change the request's
 * headers or return another `Request` (or a `Response`, which is then the answer);
 * `afterResponse` hooks see every response, whatever its status, and may return another one;
 * `beforeError` hooks see network errors and timeouts (an HTTP status is never an error here:
 * the retry policy judges it).
 *
 * @example
 * ```ts
 * const kyOptions: KyClientOptions = {
 *   headers: { 'user-agent': 'my-records-app/1.4' },
 *   hooks: {
 *     beforeRequest: [({ request }) => { request.headers.set('x-request-source', 'records-app'); }],
 *     afterResponse: [({ response }) => { metrics.count(`status.${response.status}`); }],
 *   },
 * };
 * createProvisioner({ events, http: { ky: kyOptions } });
 * ```
 */
export type KyClientOptions = {
  readonly hooks?: {
    readonly beforeRequest?: readonly BeforeRequestHook[];
    readonly afterResponse?: readonly AfterResponseHook[];
    readonly beforeError?: readonly BeforeErrorHook[];
  };
  /** Headers sent with every request, under the request's own. */
  readonly headers?: Readonly<Record<string, string>>;
};

/**
 * Options of {@link createKyEffect}.
 *
 * @example
 * ```ts
 * const options: KyEffectOptions = { timeoutMs: 5_000, maxResponseBytes: 64 * 1024, connections: 32 };
 * const effect = createKyEffect(options);
 * ```
 */
export type KyEffectOptions = {
  /** Per-attempt timeout (until the whole body is read); a request's own `timeoutMs` wins. @default 10000 */
  readonly timeoutMs?: number;
  /** Longest response body read, decoded bytes counted; the rest is cut and `bodyTruncated` set. @default 1048576 (1 MiB) */
  readonly maxResponseBytes?: number;
  /** Most keep-alive sockets per origin. @default unlimited (the pipeline's concurrency bounds it) */
  readonly connections?: number;
  /**
   * The `fetch` under ky. By default a lean one dispatching over an undici keep-alive pool
   * of this effect; pass another (e.g. the global `fetch`) for custom transports. It must not
   * follow redirects (the effect asks for `redirect: 'manual'`).
   */
  readonly fetch?: (input: Request, init?: RequestInit) => Promise<Response>;
  /** ky `hooks` and `headers` applied to every request. */
  readonly ky?: KyClientOptions;
};

/**
 * The effect {@link createKyEffect} makes: an {@link HttpEffect} that owns a connection pool.
 *
 * @example
 * ```ts
 * const effect: KyEffect = createKyEffect();
 * // ... deliver with it ...
 * await effect.close();
 * ```
 */
export type KyEffect = HttpEffect & {
  /** Closes the keep-alive connection pool; requests in flight finish first. */
  close(): Promise<void>;
};

/** The default timeout of one attempt. */
const DEFAULT_TIMEOUT_MS = 10_000;
/** The default cap of a response body. */
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
/** The longest delay `setTimeout` takes as it is. */
const MAX_TIMER_MS = 2_147_483_647;
const JSON_CONTENT_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * The default {@link HttpEffect}: one ky request per subscription, over a lean `fetch` on
 * undici with a keep-alive pool. ky's own retries are off (retries happen in RxJS, see
 * `sendWithRetry`), redirects are never followed (a 3xx is emitted as it is), each attempt has a
 * timeout, the body is sent as the exact string of the request (signatures are over those
 * bytes) and the response body is read once, decoded as `fetch` decodes a `content-encoding`
 * (gzip, deflate, br, zstd; one that does not decode is a `NetworkError`): JSON when the content type says so (invalid JSON
 * stays text), text otherwise, `null` when empty, at most `maxResponseBytes` (then the rest is
 * dropped and `bodyTruncated` set). It emits the response for any status and errors only with
 * a `TimeoutError` or a `NetworkError` (whose message never shows headers). Unsubscribing aborts
 * the request. `close()` closes the connection pool.
 *
 * ky builds a `Request` for every call; to keep that cheap, the exact body and the headers
 * travel to the lean fetch as a pass-through option (ky hands its `fetch` the options it does
 * not know, as it does undici's `dispatcher`), so they are never turned into web streams or
 * copied between `Headers` objects. ky is called with as few options as it needs (it merges
 * each key per call) and its own retries and timeout off: with no retries it does not clone its
 * `Request` before calling `fetch`. ky still builds the request, runs the user's hooks and
 * settles the response. With another `fetch`, the body and headers go through ky as usual.
 *
 * ```
 * request ──► effect(request) ──────────(response|)      any status, one emission
 *                               ────────#                 TimeoutError | NetworkError
 * ```
 *
 * @example
 * ```ts
 * const effect = createKyEffect({ timeoutMs: 5_000 });
 * effect(request).subscribe((response) => console.info(response.status, response.body));
 * await effect.close();
 * ```
 */
export function createKyEffect(options: KyEffectOptions = {}): KyEffect {
  const defaultTimeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const customFetch = options.fetch;
  const leanFetch = customFetch === undefined ? createLeanFetch(options.connections === undefined ? {} : { connections: options.connections }) : undefined;
  const userHooks = options.ky?.hooks;
  const userHeaders = options.ky?.headers === undefined ? undefined : lowerCaseKeys(options.ky.headers);
  const userBeforeRequest = userHooks?.beforeRequest ?? [];
  // Requests that a user's beforeRequest hook put in place of ky's: their body is theirs, not ours.
  const replacedRequests = new WeakSet<Request>();
  const hasUserHooks = userBeforeRequest.length > 0 || (userHooks?.afterResponse?.length ?? 0) > 0 || (userHooks?.beforeError?.length ?? 0) > 0;
  const userHookList: KyOptions['hooks'] = {
    beforeRequest: [
      // Any hook of the user's sees ky's Request with the headers sent (afterResponse and
      // beforeError get it too); with another fetch they go through ky's own option, as usual.
      ...(leanFetch === undefined || !hasUserHooks ? [] : [putHeadersOnRequest]),
      ...userBeforeRequest.map(
        (hook): BeforeRequestHook =>
          async (state) => {
            const result = await hook(state);
            if (result instanceof Request) replacedRequests.add(result);
            return result;
          },
      ),
    ],
    afterResponse: [...(userHooks?.afterResponse ?? [])],
    beforeError: [...(userHooks?.beforeError ?? [])],
  };

  // ky calls its `fetch` with its Request and the options it does not know (`lean` among them).
  // Chosen once: the lean fetch itself, or, when a user's beforeRequest hook may have changed
  // the headers (read them from the Request) or put another Request in place (send its body,
  // not ours), a wrapper that says so.
  const kyFetch =
    leanFetch === undefined || userBeforeRequest.length === 0
      ? leanFetch
      : (kyRequest: Request, init?: LeanFetchInit): Promise<Response> => {
          const lean = init?.lean;
          const extras = replacedRequests.has(kyRequest) ? { abortEmitter: lean?.abortEmitter } : { body: lean?.body, abortEmitter: lean?.abortEmitter };
          return leanFetch(kyRequest, { ...init, lean: extras as LeanFetchExtras });
        };
  const effect = (request: RequestDescriptor): Observable<ProvisionerResponse> =>
    new Observable<ProvisionerResponse>((subscriber) => {
      const timeoutMs = request.timeoutMs ?? defaultTimeoutMs;
      // The lean fetch is aborted through its own handle (no AbortSignal to combine); another
      // fetch through the signal ky combines with its own.
      const abortEmitter = leanFetch === undefined ? undefined : new AttemptAbort();
      const abortController = leanFetch === undefined ? new AbortController() : undefined;
      let settled = false;
      let timedOut = false;
      const abort = (): void => {
        abortEmitter?.abort();
        abortController?.abort();
      };
      // One deadline for the whole attempt, connection to last body byte; ky's own timeout stops
      // at the response headers, so it is off.
      const timer = setTimeout(() => {
        timedOut = true;
        abort();
      }, Math.min(timeoutMs, MAX_TIMER_MS));
      const headers = userHeaders === undefined ? request.headers : { ...userHeaders, ...lowerCaseKeys(request.headers) };

      const init: KyOptions & LeanFetchInit =
        leanFetch === undefined
          ? {
              method: request.method,
              headers,
              body: request.body,
              signal: (abortController as AbortController).signal,
              retry: 0,
              throwHttpErrors: false,
              redirect: 'manual',
              timeout: false,
              fetch: customFetch as NonNullable<KyOptions['fetch']>,
              ...(hasUserHooks ? { hooks: userHookList } : {}),
            }
          : {
              // Only what the lean fetch needs: ky merges every option key per call.
              method: request.method,
              retry: 0,
              throwHttpErrors: false,
              // Our own timer covers the whole attempt; ky's would only add a race per call.
              timeout: false,
              fetch: kyFetch as NonNullable<KyOptions['fetch']>,
              ...(hasUserHooks ? { hooks: userHookList } : {}),
              lean: { headers, body: request.body, abortEmitter: abortEmitter as AttemptAbort },
            };

      ky(request.url, init)
        .then((response) => {
          if (!settled) return readResponse(request, response, maxResponseBytes);
          discardBody(response);
          return undefined;
        })
        .then(
          (response) => {
            clearTimeout(timer);
            if (settled || response === undefined) return;
            settled = true;
            subscriber.next(response);
            subscriber.complete();
          },
          (error: unknown) => {
            clearTimeout(timer);
            if (settled) return;
            settled = true;
            subscriber.error(toTransportError(request, timeoutMs, timedOut || isKyTimeoutError(error), error));
          },
        );

      return () => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          abort();
        }
      };
    });

  return Object.assign(effect, { close: async () => leanFetch?.close() });
}

/**
 * The first beforeRequest hook when a user gave hooks: puts the request's headers on ky's
 * `Request`, where the user's hooks see (and a beforeRequest hook may change) them. Given to ky as its `headers`
 * option instead, they would be validated into four `Headers` objects per call (ky merges,
 * checks the content type, and the `Request` copies); here, once.
 */
const putHeadersOnRequest: BeforeRequestHook = ({ request, options }) => {
  const headers = (options as LeanFetchInit).lean?.headers;
  if (headers === undefined) return;
  for (const name in headers) request.headers.set(name, headers[name] as string);
};

/** Lets go of a response nobody waits for any more, so that its connection is freed. */
function discardBody(response: Response): void {
  if (response instanceof LeanResponse && !response.bodyUsed) {
    response.takeBody()?.cancel();
  } else {
    response.body?.cancel().catch(ignoreError);
  }
}

function ignoreError(): void {}

/** Header names in lower case, so that a request's own header replaces a default of another case. */
function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  const lower: Record<string, string> = {};
  for (const name in headers) lower[name.toLowerCase()] = headers[name] as string;
  return lower;
}

async function readResponse(request: RequestDescriptor, response: Response, maxResponseBytes: number): Promise<ProvisionerResponse> {
  const { bytes, truncated } = await readBodyBounded(response, maxResponseBytes);
  const headers = responseHeaders(response);
  return {
    status: response.status,
    headers,
    body: decodeBody(bytes, headers['content-type']),
    url: request.url,
    ...(truncated ? { bodyTruncated: true } : {}),
  };
}

function decodeBody(bytes: Buffer, contentType: string | undefined): unknown {
  if (bytes.length === 0) {
    return null;
  }
  const text = bytes.toString('utf8');
  if (contentType !== undefined && JSON_CONTENT_TYPE.test(contentType)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** Our error for what ky threw; never built from the request's headers (they may hold tokens). */
function toTransportError(request: RequestDescriptor, timeoutMs: number, timedOut: boolean, error: unknown): TimeoutError | NetworkError {
  const target = `${request.method} ${describeUrl(request.url)}`;
  if (timedOut) {
    return new TimeoutError(`Expected a response from ${target} within ${timeoutMs} ms, got none in time`);
  }
  return new NetworkError(`Expected a response from ${target}, got ${describeCause(error)}`, { cause: stripRequest(error) });
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) {
    return `a non-error rejection (${typeof error})`;
  }
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = (cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
  const detail = cause === undefined ? error.message : `${error.message}: ${cause.message}`;
  return `${error.name}${typeof code === 'string' ? ` ${code}` : ''} (${detail})`;
}

/** ky's errors carry the `Request` (with its headers); keep only the name, message and code. */
function stripRequest(error: unknown): unknown {
  if (error instanceof Error && 'request' in error) {
    return { name: error.name, message: error.message };
  }
  return error;
}
