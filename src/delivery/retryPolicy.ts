import { HttpStatusError, NetworkError, ProvisionerError, RedirectError, TimeoutError } from '../errors.js';
import type { ProvisionerResponse, RequestDescriptor, RetryOptions } from '../events/request.js';
import { parseRetryAfter } from './retryAfter.js';
import { describeUrl } from '../util/urls.js';

/**
 * {@link RetryOptions} with every field set.
 *
 * @example
 * ```ts
 * const resolved: ResolvedRetryOptions = resolveRetryOptions({ limit: 2 });
 * resolved.maxDelayMs; // 30000
 * ```
 */
export type ResolvedRetryOptions = { readonly [K in keyof RetryOptions]-?: number };

/**
 * The retry defaults: 5 retries (6 attempts at most, like the original), backoff from 1 s
 * doubling up to 30 s with full jitter, `Retry-After` honoured up to 60 s.
 *
 * @example
 * ```ts
 * createProvisioner({ events, http: { retry: { ...DEFAULT_RETRY_OPTIONS, limit: 2 } } });
 * ```
 */
export const DEFAULT_RETRY_OPTIONS: ResolvedRetryOptions = Object.freeze({
  limit: 5,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
});

/**
 * The failure reasons one attempt can end with.
 *
 * @example
 * ```ts
 * // The reasons a retry can follow; 'redirect' always ends the delivery at once.
 * const retriable: readonly AttemptFailureReason[] = ['network', 'timeout', 'http-status'];
 * ```
 */
export type AttemptFailureReason = 'http-status' | 'network' | 'timeout' | 'redirect';

/**
 * What one attempt's result means: `delivered` (2xx), `retry` (worth another attempt) or
 * `fail` (final at once: 3xx and 4xx other than 408, 425, 429).
 *
 * @example
 * ```ts
 * const verdict: AttemptVerdict = classifyResponse(request, { status: 503, headers: {}, body: null, url });
 * verdict.kind; // 'retry'
 * ```
 */
export type AttemptVerdict =
  | { readonly kind: 'delivered'; readonly response: ProvisionerResponse }
  | {
      readonly kind: 'retry' | 'fail';
      readonly reason: AttemptFailureReason;
      readonly error: ProvisionerError;
      readonly response: ProvisionerResponse | null;
    };

const RETRIED_STATUSES: ReadonlySet<number> = new Set([408, 425, 429]);

/**
 * Merges retry options field by field: later layers win, `undefined` fields fall through, and
 * {@link DEFAULT_RETRY_OPTIONS} fill the rest. Negative or non-finite numbers are refused.
 *
 * @example
 * ```ts
 * resolveRetryOptions({ limit: 3 }, request.retry); // per event config over the global options
 * ```
 */
export function resolveRetryOptions(...layers: readonly (RetryOptions | undefined)[]): ResolvedRetryOptions {
  const resolved = { ...DEFAULT_RETRY_OPTIONS };
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const key of Object.keys(DEFAULT_RETRY_OPTIONS) as (keyof ResolvedRetryOptions)[]) {
      const value = layer[key];
      if (value === undefined) continue;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new RangeError(`Expected retry option \`${key}\` to be a finite number >= 0, got ${String(value)}`);
      }
      resolved[key] = key === 'limit' ? Math.floor(value) : value;
    }
  }
  return resolved;
}

/**
 * Whether a status is worth retrying: 408, 425, 429 and every 5xx.
 *
 * @example
 * ```ts
 * isRetryableStatus(503); // true
 * isRetryableStatus(404); // false
 * ```
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || RETRIED_STATUSES.has(status);
}

/**
 * Classifies a response: 2xx delivered; 3xx fails at once with a {@link RedirectError}
 * (redirects are never followed); 408, 425, 429 and 5xx are retried; other 4xx (and
 * anything else) fail at once with an {@link HttpStatusError}.
 *
 * @example
 * ```ts
 * classifyResponse(request, { status: 404, headers: {}, body: null, url }).kind; // 'fail'
 * ```
 */
export function classifyResponse(request: RequestDescriptor, response: ProvisionerResponse): AttemptVerdict {
  const { status } = response;
  if (status >= 200 && status <= 299) {
    return { kind: 'delivered', response };
  }
  const target = `${request.method} ${describeUrl(request.url)}`;
  if (status >= 300 && status <= 399) {
    const location = headerValue(response.headers, 'location');
    const where = location === undefined ? '' : ` to ${describeUrl(location)}`;
    return {
      kind: 'fail',
      reason: 'redirect',
      error: new RedirectError(`Expected a 2xx response from ${target}, got a ${status} redirect${where} (redirects are not followed)`, response),
      response,
    };
  }
  return {
    kind: isRetryableStatus(status) ? 'retry' : 'fail',
    reason: 'http-status',
    error: new HttpStatusError(`Expected a 2xx response from ${target}, got ${status}`, response),
    response,
  };
}

/** undici's codes for response headers past its `maxHeaderSize` (16 KiB by default). */
const HEADERS_OVERFLOW_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_OVERFLOW', 'HPE_HEADER_OVERFLOW']);
/** How deep the `cause` chain of an effect's error is searched. */
const MAX_CAUSE_DEPTH = 5;

/**
 * Why a response can never be read, from undici's error anywhere in the `cause` chain:
 * headers past the size limit, or a response its HTTP parser refuses (`HTTPParserError`: a
 * status line, headers or framing that are not HTTP/1.1). The receiver sends the same
 * response to every attempt, so a retry only repeats the failure.
 */
function unreadableResponse(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && typeof current === 'object' && current !== null; depth += 1) {
    const { code, name, message } = current as { readonly code?: unknown; readonly name?: unknown; readonly message?: unknown };
    if (typeof code === 'string' && HEADERS_OVERFLOW_CODES.has(code)) {
      return `its headers are larger than the client accepts (16 KiB; ${code})`;
    }
    if (name === 'HTTPParserError') {
      return `it is not valid HTTP/1.1 (${typeof code === 'string' ? `${code}: ` : ''}${typeof message === 'string' ? message : 'HTTPParserError'})`;
    }
    current = (current as { readonly cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Classifies an error from an {@link HttpEffect}: timeouts and network errors are retried,
 * but a response that can never be read (headers over undici's limit, a status line or
 * headers that are not valid HTTP) fails at once with reason `network`, as a retry would get
 * the same response. Anything else an effect throws (it should not) counts as a network error.
 *
 * @example
 * ```ts
 * classifyError(request, new TimeoutError('...')); // { kind: 'retry', reason: 'timeout', ... }
 * ```
 */
export function classifyError(request: RequestDescriptor, error: unknown): AttemptVerdict {
  if (error instanceof TimeoutError) {
    return { kind: 'retry', reason: 'timeout', error, response: null };
  }
  const unreadable = unreadableResponse(error);
  if (unreadable !== undefined) {
    const message = `Expected a readable response from ${request.method} ${describeUrl(request.url)}, got one that can never be read: ${unreadable}; not retried, as the receiver would send it again`;
    return { kind: 'fail', reason: 'network', error: new NetworkError(message, { cause: error }), response: null };
  }
  if (error instanceof NetworkError) {
    return { kind: 'retry', reason: 'network', error, response: null };
  }
  const found = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    kind: 'retry',
    reason: 'network',
    error: new NetworkError(`Expected a response from ${request.method} ${describeUrl(request.url)}, got an error: ${found}`, {
      cause: error,
    }),
    response: null,
  };
}

/**
 * The exponential backoff with full jitter before retry number `retryIndex + 1`:
 * `random() * min(maxDelayMs, baseDelayMs * 2 ** retryIndex)`.
 *
 * @example
 * ```ts
 * backoffDelay(0, DEFAULT_RETRY_OPTIONS, () => 0.5); // 500
 * backoffDelay(3, DEFAULT_RETRY_OPTIONS, () => 0.5); // 4000
 * ```
 */
export function backoffDelay(retryIndex: number, options: ResolvedRetryOptions, random: () => number): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retryIndex);
  return random() * ceiling;
}

/**
 * How long to wait before the next attempt after a retried result: the response's
 * `Retry-After` (seconds or HTTP date, at least 0, at most `maxRetryAfterMs`) when it has a
 * valid one, the jittered {@link backoffDelay} otherwise.
 *
 * @example
 * ```ts
 * retryDelay(0, response, DEFAULT_RETRY_OPTIONS, Math.random, Date.now); // 1000 for `Retry-After: 1`
 * ```
 */
export function retryDelay(
  retryIndex: number,
  response: ProvisionerResponse | null,
  options: ResolvedRetryOptions,
  random: () => number,
  now: () => number,
): number {
  const retryAfter = response === null ? null : parseRetryAfter(headerValue(response.headers, 'retry-after'), now());
  if (retryAfter !== null) {
    return Math.min(retryAfter, options.maxRetryAfterMs);
  }
  return backoffDelay(retryIndex, options, random);
}

/** A header by lower-case name, falling back to a case-insensitive search (effects other than ours may keep the case). */
function headerValue(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === name) return headers[key];
  }
  return undefined;
}
