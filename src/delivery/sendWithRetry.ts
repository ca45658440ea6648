import { Observable, catchError, defaultIfEmpty, defer, map, mergeMap, of, take, timer } from 'rxjs';
import type { ProvisionerError } from '../errors.js';
import { NetworkError } from '../errors.js';
import type { HttpEffect } from '../events/httpEffect.js';
import type { FailureReason } from '../events/outcomes.js';
import type { ProvisionerResponse, RequestDescriptor, RetryOptions } from '../events/request.js';
import { logger } from '../log.js';
import { classifyError, classifyResponse, resolveRetryOptions, retryDelay } from './retryPolicy.js';
import type { AttemptVerdict, ResolvedRetryOptions } from './retryPolicy.js';
import { describeUrl } from './urls.js';

const log = logger('delivery');

/** The one result of {@link sendWithRetry}: delivered (2xx) or failed after the last attempt. */
export type SendResult =
  | { readonly kind: 'delivered'; readonly response: ProvisionerResponse; readonly attempts: number }
  | {
      readonly kind: 'failed';
      readonly reason: Extract<FailureReason, 'http-status' | 'network' | 'timeout' | 'redirect'>;
      readonly error: ProvisionerError;
      readonly response: ProvisionerResponse | null;
      readonly attempts: number;
    };

/** What {@link SendOptions.onAttempt} hears after each attempt. */
export type AttemptInfo = {
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly request: RequestDescriptor;
  /** The wait before the next attempt, when there will be one. */
  readonly delayMs?: number;
  readonly response?: ProvisionerResponse;
  readonly error?: unknown;
};

/** Options of {@link sendWithRetry}. */
export type SendOptions = {
  /** Global retry options; the request's own `retry` overrides them field by field. */
  readonly retry?: RetryOptions;
  /** The jitter source, `[0, 1)`. @default Math.random */
  readonly random?: () => number;
  /** The clock for `Retry-After` HTTP dates (ms since epoch). @default Date.now */
  readonly now?: () => number;
  /** Called after every attempt (for metrics and logs); what it throws is ignored. */
  readonly onAttempt?: (info: AttemptInfo) => void;
};

/**
 * Sends a request through an {@link HttpEffect} with the retry policy: 2xx is delivered; 3xx
 * and 4xx other than 408, 425 and 429 fail at once; network errors, timeouts, 408, 425, 429 and
 * 5xx are tried again after an exponential backoff with full jitter (or the response's
 * `Retry-After`, capped), at most `limit + 1` attempts in all. Every attempt subscribes to the
 * effect anew with the same request (same delivery id, same `Idempotency-Key`), so POST is
 * retried safely. Delays are RxJS `timer`s: virtual time in marble tests. It emits exactly one
 * {@link SendResult} and completes; it never errors. Unsubscribing aborts the attempt in flight
 * or cancels the wait.
 *
 * ```
 * effect:   --503|            (wait random() * 1000)   --200|
 * result:   ------------------------------------------------(delivered, attempts 2)|
 *
 * effect:   --404|
 * result:   --(failed http-status, attempts 1)|
 * ```
 *
 * @example
 * ```ts
 * sendWithRetry(createKyEffect(), request, { retry: { limit: 3 } }).subscribe((result) => {
 *   if (result.kind === 'failed') console.warn(result.reason, result.error.message, result.attempts);
 * });
 * ```
 */
export function sendWithRetry(effect: HttpEffect, request: RequestDescriptor, options: SendOptions = {}): Observable<SendResult> {
  return defer(() => {
    const retry = resolveRetryOptions(options.retry, request.retry);
    const random = options.random ?? Math.random;
    const now = options.now ?? Date.now;
    return attempt(effect, request, retry, random, now, options.onAttempt, 1);
  }).pipe(catchError((error: unknown) => of(unexpectedFailure(request, error))));
}

function attempt(
  effect: HttpEffect,
  request: RequestDescriptor,
  retry: ResolvedRetryOptions,
  random: () => number,
  now: () => number,
  onAttempt: SendOptions['onAttempt'],
  attemptNumber: number,
): Observable<SendResult> {
  return defer(() => effect(request)).pipe(
    take(1),
    map((response): { response: ProvisionerResponse } | { error: unknown } => ({ response })),
    defaultIfEmpty<{ response: ProvisionerResponse } | { error: unknown }, { error: unknown }>({
      error: new NetworkError(`Expected a response from ${request.method} ${describeUrl(request.url)}, got an effect that completed without one`),
    }),
    catchError((error: unknown) => of({ error })),
    mergeMap((outcome): Observable<SendResult> => {
      const verdict: AttemptVerdict =
        'response' in outcome ? classifyResponse(request, outcome.response) : classifyError(request, outcome.error);
      if (verdict.kind === 'delivered') {
        notify(onAttempt, { attempt: attemptNumber, request, response: verdict.response });
        return of({ kind: 'delivered', response: verdict.response, attempts: attemptNumber });
      }
      const failed: SendResult = {
        kind: 'failed',
        reason: verdict.reason,
        error: verdict.error,
        response: verdict.response,
        attempts: attemptNumber,
      };
      const detail = 'response' in outcome ? { response: outcome.response } : { error: outcome.error };
      if (verdict.kind === 'fail' || attemptNumber > retry.limit) {
        notify(onAttempt, { attempt: attemptNumber, request, ...detail });
        return of(failed);
      }
      const delayMs = retryDelay(attemptNumber - 1, verdict.response, retry, random, now);
      notify(onAttempt, { attempt: attemptNumber, request, delayMs, ...detail });
      log('delivery %s attempt %d failed (%s), retrying in %d ms', request.deliveryId, attemptNumber, verdict.reason, Math.round(delayMs));
      return timer(delayMs).pipe(mergeMap(() => attempt(effect, request, retry, random, now, onAttempt, attemptNumber + 1)));
    }),
  );
}

function notify(onAttempt: SendOptions['onAttempt'], info: AttemptInfo): void {
  if (onAttempt === undefined) return;
  try {
    onAttempt(info);
  } catch (error) {
    log('onAttempt threw for delivery %s: %s', info.request.deliveryId, error instanceof Error ? error.message : String(error));
  }
}

/** Only reached if the options themselves are invalid (e.g. a negative retry limit). */
function unexpectedFailure(request: RequestDescriptor, error: unknown): SendResult {
  const found = error instanceof Error ? error.message : String(error);
  return {
    kind: 'failed',
    reason: 'network',
    error: new NetworkError(`Expected to send ${request.method} ${describeUrl(request.url)}, got an error before the first attempt: ${found}`, {
      cause: error,
    }),
    response: null,
    attempts: 0,
  };
}
