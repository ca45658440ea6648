import type { ProvisionerResponse } from './events/request.js';

/**
 * Base class of every error the library creates. Errors in the pipeline travel as values
 * inside outcomes, never thrown into the app.
 *
 * @example
 * ```ts
 * provisioner.outcomes$.subscribe((outcome) => {
 *   if (outcome.kind === 'failed') console.error(`${outcome.error.name}: ${outcome.error.message}`, outcome.error.cause);
 * });
 * ```
 */
export class ProvisionerError extends Error {
  override name: string = 'ProvisionerError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The config is invalid; `issues` lists every problem as `path: expected X, got Y`.
 *
 * @example
 * ```ts
 * try {
 *   createProvisioner({ events });
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(error.issues.join('\n'));
 *   // rdm_record["https://search.example.org/api/v1/documents"].publish.http_method: expected one of GET, POST, PUT, PATCH, DELETE, got "PUTT" (did you mean "PUT"?)
 * }
 * ```
 */
export class ConfigError extends ProvisionerError {
  override name = 'ConfigError' as const;
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`Invalid remote API provisioner config (${issues.length} ${issues.length === 1 ? 'issue' : 'issues'}):\n- ${issues.join('\n- ')}`);
    this.issues = issues;
  }
}

/**
 * The endpoint answered with a status that is not 2xx (and not 3xx: see {@link RedirectError}).
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && outcome.error instanceof HttpStatusError) {
 *   console.error(outcome.error.response.status, outcome.error.response.body); // e.g. 422 { detail: '...' }
 * }
 * ```
 */
export class HttpStatusError extends ProvisionerError {
  override name = 'HttpStatusError' as const;
  readonly response: ProvisionerResponse;
  constructor(message: string, response: ProvisionerResponse) {
    super(message);
    this.response = response;
  }
}

/**
 * The endpoint answered 3xx; redirects are never followed.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && outcome.error instanceof RedirectError) {
 *   console.error('endpoint moved to', outcome.error.response.headers['location']); // fix the config's endpoint
 * }
 * ```
 */
export class RedirectError extends ProvisionerError {
  override name = 'RedirectError' as const;
  readonly response: ProvisionerResponse;
  constructor(message: string, response: ProvisionerResponse) {
    super(message);
    this.response = response;
  }
}

/**
 * The connection failed or broke before a response was read.
 *
 * @example
 * ```ts
 * // A custom HttpEffect reports a connection that broke before any response like this:
 * const effect: HttpEffect = (request) =>
 *   throwError(() => new NetworkError(`Expected a response from ${request.method} ${request.url}, got ECONNRESET`));
 * ```
 */
export class NetworkError extends ProvisionerError {
  override name = 'NetworkError' as const;
}

/**
 * An attempt took longer than its timeout.
 *
 * @example
 * ```ts
 * // A custom HttpEffect reports an attempt that took too long like this (it is retried):
 * const effect: HttpEffect = (request) =>
 *   timer(5_000).pipe(mergeMap(() => throwError(() => new TimeoutError(`Expected a response from ${request.url} within 5000 ms, got none`))));
 * ```
 */
export class TimeoutError extends ProvisionerError {
  override name = 'TimeoutError' as const;
}

/**
 * A payload function threw, or returned something that is not a JSON object.
 *
 * @example
 * ```ts
 * // A payload function that throws fails its delivery with reason 'payload':
 * publish: { http_method: 'POST', payload: ({ record }) => { if (!record) throw new Error('no record'); return { id: String(record.id) }; } }
 * // outcome: { kind: 'failed', reason: 'payload', error: PayloadError (cause: the Error), request: null, attempts: 0 }
 * ```
 */
export class PayloadError extends ProvisionerError {
  override name = 'PayloadError' as const;
}

/**
 * A URL is not absolute http(s), or leaves its endpoint's origin without permission.
 *
 * @example
 * ```ts
 * recordUrl('https://search.example.org/api/v1/documents', '..');
 * // throws UrlError: Expected path segment 1 of recordUrl to be a non-empty value other than "." and "..", got ".."
 * ```
 */
export class UrlError extends ProvisionerError {
  override name = 'UrlError' as const;
}

/**
 * `resolveOwner` threw, rejected or timed out.
 *
 * @example
 * ```ts
 * createProvisioner({ events, resolveOwner: async () => { throw new Error('user service down'); } });
 * // deliveries of with_record_owner events: { kind: 'failed', reason: 'owner', error: OwnerError }
 * ```
 */
export class OwnerError extends ProvisionerError {
  override name = 'OwnerError' as const;
}

/**
 * The delivery queue was full (`maxQueue`).
 *
 * @example
 * ```ts
 * provisioner.outcomes$.subscribe((outcome) => {
 *   if (outcome.kind === 'failed' && outcome.error instanceof OverflowError) metrics.increment('provisioner.overflow');
 * });
 * ```
 */
export class OverflowError extends ProvisionerError {
  override name = 'OverflowError' as const;
}

/**
 * The provisioner was closed before the work could be done.
 *
 * @example
 * ```ts
 * await provisioner.close();
 * provisioner.hooks('rdm_record').publish({ identity, record, draft });
 * // outcome: { kind: 'failed', reason: 'closed', error: ClosedError }
 * ```
 */
export class ClosedError extends ProvisionerError {
  override name = 'ClosedError' as const;
}

/**
 * A delivery waited longer than `http.maxDeliveryAgeMs` (its endpoint paused or its circuit
 * open) and was given up: it ends `failed` with reason `expired` and stays a dead letter to replay.
 *
 * @example
 * ```ts
 * provisioner.outcomes$.subscribe((outcome) => {
 *   if (outcome.kind === 'failed' && outcome.error instanceof ExpiredError) alert(outcome.endpoint);
 * });
 * ```
 */
export class ExpiredError extends ProvisionerError {
  override name = 'ExpiredError' as const;
}

/**
 * A callback threw, rejected, errored or did not settle in time.
 *
 * @example
 * ```ts
 * provisioner.callbacks$.subscribe((outcome) => {
 *   if (outcome.kind === 'error') console.error(outcome.error.message, outcome.error.cause); // a CallbackError
 * });
 * ```
 */
export class CallbackError extends ProvisionerError {
  override name = 'CallbackError' as const;
}

/**
 * Whether `error` is a {@link ProvisionerError}.
 *
 * @example
 * ```ts
 * isProvisionerError(new ConfigError(['(root): expected an object, got null'])); // true
 * isProvisionerError(new Error('other'));                                          // false
 * ```
 */
export const isProvisionerError = (error: unknown): error is ProvisionerError => error instanceof ProvisionerError;
/**
 * Whether `error` is a {@link ConfigError}.
 *
 * @example
 * ```ts
 * try { parseConfig(loaded); } catch (error) { if (isConfigError(error)) console.error(error.issues); }
 * ```
 */
export const isConfigError = (error: unknown): error is ConfigError => error instanceof ConfigError;
/**
 * Whether `error` is an {@link HttpStatusError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && isHttpStatusError(outcome.error)) console.error(outcome.error.response.status);
 * ```
 */
export const isHttpStatusError = (error: unknown): error is HttpStatusError => error instanceof HttpStatusError;
/**
 * Whether `error` is a {@link RedirectError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && isRedirectError(outcome.error)) console.error(outcome.error.response.headers['location']);
 * ```
 */
export const isRedirectError = (error: unknown): error is RedirectError => error instanceof RedirectError;
/**
 * Whether `error` is a {@link NetworkError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && isNetworkError(outcome.error)) alerts.raise(`endpoint unreachable: ${outcome.endpoint}`);
 * ```
 */
export const isNetworkError = (error: unknown): error is NetworkError => error instanceof NetworkError;
/**
 * Whether `error` is a {@link TimeoutError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && isTimeoutError(outcome.error)) console.warn('slow endpoint', outcome.endpoint, outcome.attempts);
 * ```
 */
export const isTimeoutError = (error: unknown): error is TimeoutError => error instanceof TimeoutError;
/**
 * Whether `error` is a {@link PayloadError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && isPayloadError(outcome.error)) console.error('payload function failed', outcome.error.cause);
 * ```
 */
export const isPayloadError = (error: unknown): error is PayloadError => error instanceof PayloadError;
/**
 * Whether `error` is a {@link UrlError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && isUrlError(outcome.error)) console.error('url_factory refused:', outcome.error.message);
 * ```
 */
export const isUrlError = (error: unknown): error is UrlError => error instanceof UrlError;
/**
 * Whether `error` is an {@link OwnerError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && isOwnerError(outcome.error)) console.error('owner lookup failed:', outcome.error.message);
 * ```
 */
export const isOwnerError = (error: unknown): error is OwnerError => error instanceof OwnerError;
/**
 * Whether `error` is an {@link OverflowError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && isOverflowError(outcome.error)) metrics.increment('provisioner.overflow');
 * ```
 */
export const isOverflowError = (error: unknown): error is OverflowError => error instanceof OverflowError;
/**
 * Whether `error` is a {@link ClosedError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && isClosedError(outcome.error)) undelivered.push(outcome.event); // replay after restart
 * ```
 */
export const isClosedError = (error: unknown): error is ClosedError => error instanceof ClosedError;
/**
 * Whether `error` is an {@link ExpiredError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'failed' && isExpiredError(outcome.error)) await provisioner.replay({ reason: 'expired' });
 * ```
 */
export const isExpiredError = (error: unknown): error is ExpiredError => error instanceof ExpiredError;
/**
 * Whether `error` is a {@link CallbackError}.
 *
 * @example
 * ```ts
 * if (outcome.kind === 'error' && isCallbackError(outcome.error)) console.error(outcome.error.message);
 * ```
 */
export const isCallbackError = (error: unknown): error is CallbackError => error instanceof CallbackError;
