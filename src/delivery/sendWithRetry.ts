import { Observable, timer } from 'rxjs';
import type { Subscription } from 'rxjs';
import type { ProvisionerError } from '../errors.js';
import { NetworkError } from '../errors.js';
import type { HttpEffect } from '../events/httpEffect.js';
import type { FailureReason } from '../events/outcomes.js';
import type { ProvisionerResponse, RequestDescriptor, RetryOptions } from '../events/request.js';
import { logger } from '../util/log.js';
import { DEFAULT_RETRY_OPTIONS, classifyError, classifyResponse, resolveRetryOptions, retryDelay } from './retryPolicy.js';
import type { AttemptVerdict, ResolvedRetryOptions } from './retryPolicy.js';
import { describeUrl } from '../util/urls.js';

const log = logger('delivery');

/**
 * The one result of {@link sendWithRetry}: delivered (2xx) or failed after the last attempt.
 *
 * @example
 * ```ts
 * const result: SendResult = await lastValueFrom(sendWithRetry(effect, request));
 * if (result.kind === 'failed') console.warn(`${result.reason} after ${result.attempts} attempts: ${result.error.message}`);
 * ```
 */
export type SendResult =
  | { readonly kind: 'delivered'; readonly response: ProvisionerResponse; readonly attempts: number }
  | {
      readonly kind: 'failed';
      readonly reason: Extract<FailureReason, 'http-status' | 'network' | 'timeout' | 'redirect'>;
      readonly error: ProvisionerError;
      readonly response: ProvisionerResponse | null;
      readonly attempts: number;
    };

/**
 * What {@link SendOptions.onAttempt} hears after each attempt.
 *
 * @example
 * ```ts
 * const onAttempt = ({ attempt, response, error, delayMs }: AttemptInfo) =>
 *   log('attempt %d: %s, next in %s ms', attempt, response?.status ?? String(error), delayMs ?? '-');
 * ```
 */
export type AttemptInfo = {
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly request: RequestDescriptor;
  /** The wait before the next attempt, when there will be one. */
  readonly delayMs?: number;
  readonly response?: ProvisionerResponse;
  readonly error?: unknown;
};

/**
 * Options of {@link sendWithRetry}.
 *
 * @example
 * ```ts
 * const options: SendOptions = { retry: { limit: 3, baseDelayMs: 500 }, onAttempt: (info) => metrics.count(info.attempt) };
 * sendWithRetry(effect, request, options);
 * ```
 */
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
 * {@link SendResult} and completes; it never errors. A failure's error is the last attempt's,
 * its message ending with how many attempts were made (`… got 503 (after 6 attempts)`).
 * Unsubscribing aborts the attempt in flight or cancels the wait.
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
  // Written out by hand rather than as an operator chain: it runs once per delivery, and a
  // chain of defer/take/map/catchError/mergeMap costs more than the rest of the attempt.
  return new Observable<SendResult>((subscriber) => {
    let retry: ResolvedRetryOptions;
    try {
      retry = retryOptionsFor(options.retry, request.retry);
    } catch (error) {
      subscriber.next(unexpectedFailure(request, error));
      subscriber.complete();
      return undefined;
    }
    const random = options.random ?? Math.random;
    const now = options.now ?? Date.now;
    const onAttempt = options.onAttempt;
    /** The attempt in flight or the wait before the next one. */
    let current: Subscription | undefined;

    const settle = (attemptNumber: number, verdict: AttemptVerdict, detail: { response: ProvisionerResponse } | { error: unknown }): void => {
      if (verdict.kind === 'delivered') {
        notify(onAttempt, { attempt: attemptNumber, request, response: verdict.response });
        subscriber.next({ kind: 'delivered', response: verdict.response, attempts: attemptNumber });
        subscriber.complete();
        return;
      }
      if (verdict.kind === 'fail' || attemptNumber > retry.limit) {
        notify(onAttempt, { attempt: attemptNumber, request, ...detail });
        noteAttempts(verdict.error, attemptNumber);
        subscriber.next({ kind: 'failed', reason: verdict.reason, error: verdict.error, response: verdict.response, attempts: attemptNumber });
        subscriber.complete();
        return;
      }
      const delayMs = retryDelay(attemptNumber - 1, verdict.response, retry, random, now);
      notify(onAttempt, { attempt: attemptNumber, request, delayMs, ...detail });
      if (log.enabled) log('delivery %s attempt %d failed (%s), retrying in %d ms', request.deliveryId, attemptNumber, verdict.reason, Math.round(delayMs));
      current = timer(delayMs).subscribe(() => run(attemptNumber + 1));
    };

    const run = (attemptNumber: number): void => {
      // An answer at once has set `current` already (to the wait before the next attempt).
      const attempt = attemptOnce(effect, request, ({ verdict, detail }) => settle(attemptNumber, verdict, detail));
      if (attempt !== undefined) current = attempt;
    };

    run(1);
    return () => current?.unsubscribe();
  });
}

/**
 * What one attempt came to: the retry policy's verdict, with the response or error it judged.
 * @internal
 */
export type AttemptAnswer = {
  readonly verdict: AttemptVerdict;
  readonly detail: { readonly response: ProvisionerResponse } | { readonly error: unknown };
};

/**
 * One attempt through an {@link HttpEffect}: its first response, error or completion,
 * classified by the retry policy, handed to `answer` once (synchronously when the effect
 * answers synchronously; it never gets an error). The attempt step of the provisioner's
 * pipeline and of {@link sendWithRetry} both go through it, so an attempt is judged the same
 * everywhere. Written with a callback rather than as an Observable: it runs once per attempt.
 * Unsubscribing the result aborts the request; it is `undefined` when the answer came already.
 *
 * ```
 * effect:  --503|
 * answer:  --a          a: { verdict: { kind: 'retry', reason: 'http-status' } }
 * ```
 *
 * @example
 * ```ts
 * const running = attemptOnce(effect, request, ({ verdict }) => console.info(verdict.kind));
 * ```
 * @internal
 */
export function attemptOnce(effect: HttpEffect, request: RequestDescriptor, answer: (answer: AttemptAnswer) => void): Subscription | undefined {
  let answered = false;
  let attempt: Subscription | undefined;
  const settle = (verdict: AttemptVerdict, detail: AttemptAnswer['detail']): void => {
    if (answered) return;
    answered = true;
    // One response per attempt: let go of the effect before anything else happens.
    attempt?.unsubscribe();
    answer({ verdict, detail });
  };
  let source: Observable<ProvisionerResponse>;
  try {
    source = effect(request);
  } catch (error) {
    settle(classifyError(request, error), { error });
    return undefined;
  }
  attempt = source.subscribe({
    next: (response) => settle(classifyResponse(request, response), { response }),
    error: (error: unknown) => settle(classifyError(request, error), { error }),
    complete: () => {
      if (answered) return;
      const error = new NetworkError(`Expected a response from ${request.method} ${describeUrl(request.url)}, got an effect that completed without one`);
      settle(classifyError(request, error), { error });
    },
  });
  if (!answered) return attempt;
  attempt.unsubscribe();
  return undefined;
}

const resolvedGlobally = new WeakMap<RetryOptions, ResolvedRetryOptions>();

/** Resolves the options, reusing the result for the global options alone (the common case). */
function retryOptionsFor(global: RetryOptions | undefined, own: RetryOptions | undefined): ResolvedRetryOptions {
  if (own !== undefined) return resolveRetryOptions(global, own);
  if (global === undefined) return DEFAULT_RETRY_OPTIONS;
  let resolved = resolvedGlobally.get(global);
  if (resolved === undefined) {
    resolved = resolveRetryOptions(global);
    resolvedGlobally.set(global, resolved);
  }
  return resolved;
}

/** Matches the note {@link noteAttempts} leaves at the end of a message. */
const ATTEMPTS_NOTE = / \(after \d+ attempts?\)$/;

/**
 * Ends the final error's message with how many attempts were made (`… got 503 (after 6
 * attempts)`). The error is the last attempt's own (made for that attempt by the retry policy
 * or the effect), so it is annotated in place; an effect that hands out one error object more
 * than once gets one note, the latest. Shared with the store handlers, so that a failure reads
 * the same whichever store delivered it.
 *
 * @example
 * ```ts
 * noteAttempts(verdict.error, 3); // "Expected a 2xx response from POST …, got 503 (after 3 attempts)"
 * ```
 * @internal
 */
export function noteAttempts(error: ProvisionerError, attempts: number): void {
  const note = ` (after ${attempts} ${attempts === 1 ? 'attempt' : 'attempts'})`;
  try {
    error.message = error.message.replace(ATTEMPTS_NOTE, '') + note;
  } catch {
    // A frozen error from a custom effect keeps its message; `attempts` still says it.
  }
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
