import type { ProvisionerResponse } from './events/request.js';

/**
 * Base class of every error the library creates. Errors in the pipeline travel as values
 * inside outcomes, never thrown into the app.
 */
export class ProvisionerError extends Error {
  override name: string = 'ProvisionerError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The config is invalid; `issues` lists every problem as `path: expected X, got Y`. */
export class ConfigError extends ProvisionerError {
  override name = 'ConfigError' as const;
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`Invalid remote API provisioner config (${issues.length} ${issues.length === 1 ? 'issue' : 'issues'}):\n- ${issues.join('\n- ')}`);
    this.issues = issues;
  }
}

/** The endpoint answered with a status that is not 2xx (and not 3xx: see {@link RedirectError}). */
export class HttpStatusError extends ProvisionerError {
  override name = 'HttpStatusError' as const;
  readonly response: ProvisionerResponse;
  constructor(message: string, response: ProvisionerResponse) {
    super(message);
    this.response = response;
  }
}

/** The endpoint answered 3xx; redirects are never followed. */
export class RedirectError extends ProvisionerError {
  override name = 'RedirectError' as const;
  readonly response: ProvisionerResponse;
  constructor(message: string, response: ProvisionerResponse) {
    super(message);
    this.response = response;
  }
}

/** The connection failed or broke before a response was read. */
export class NetworkError extends ProvisionerError {
  override name = 'NetworkError' as const;
}

/** An attempt took longer than its timeout. */
export class TimeoutError extends ProvisionerError {
  override name = 'TimeoutError' as const;
}

/** A payload function threw, or returned something that is not a JSON object. */
export class PayloadError extends ProvisionerError {
  override name = 'PayloadError' as const;
}

/** A URL is not absolute http(s), or leaves its endpoint's origin without permission. */
export class UrlError extends ProvisionerError {
  override name = 'UrlError' as const;
}

/** `resolveOwner` threw, rejected or timed out. */
export class OwnerError extends ProvisionerError {
  override name = 'OwnerError' as const;
}

/** The delivery queue was full (`maxQueue`). */
export class OverflowError extends ProvisionerError {
  override name = 'OverflowError' as const;
}

/** The provisioner was closed before the work could be done. */
export class ClosedError extends ProvisionerError {
  override name = 'ClosedError' as const;
}

/** A callback threw, rejected, errored or did not settle in time. */
export class CallbackError extends ProvisionerError {
  override name = 'CallbackError' as const;
}

/** Whether `error` is a {@link ProvisionerError}. */
export const isProvisionerError = (error: unknown): error is ProvisionerError => error instanceof ProvisionerError;
/** Whether `error` is a {@link ConfigError}. */
export const isConfigError = (error: unknown): error is ConfigError => error instanceof ConfigError;
/** Whether `error` is an {@link HttpStatusError}. */
export const isHttpStatusError = (error: unknown): error is HttpStatusError => error instanceof HttpStatusError;
/** Whether `error` is a {@link RedirectError}. */
export const isRedirectError = (error: unknown): error is RedirectError => error instanceof RedirectError;
/** Whether `error` is a {@link NetworkError}. */
export const isNetworkError = (error: unknown): error is NetworkError => error instanceof NetworkError;
/** Whether `error` is a {@link TimeoutError}. */
export const isTimeoutError = (error: unknown): error is TimeoutError => error instanceof TimeoutError;
/** Whether `error` is a {@link PayloadError}. */
export const isPayloadError = (error: unknown): error is PayloadError => error instanceof PayloadError;
/** Whether `error` is a {@link UrlError}. */
export const isUrlError = (error: unknown): error is UrlError => error instanceof UrlError;
/** Whether `error` is an {@link OwnerError}. */
export const isOwnerError = (error: unknown): error is OwnerError => error instanceof OwnerError;
/** Whether `error` is an {@link OverflowError}. */
export const isOverflowError = (error: unknown): error is OverflowError => error instanceof OverflowError;
/** Whether `error` is a {@link ClosedError}. */
export const isClosedError = (error: unknown): error is ClosedError => error instanceof ClosedError;
/** Whether `error` is a {@link CallbackError}. */
export const isCallbackError = (error: unknown): error is CallbackError => error instanceof CallbackError;
