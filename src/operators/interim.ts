/**
 * Stand-ins for modules other parts of the library provide (retry, URL checks), used until those land. Each is replaced by an import of the real one.
 * @internal
 * @packageDocumentation
 */
import { Observable, catchError, defer, map, of } from 'rxjs';
import { HttpStatusError, NetworkError, ProvisionerError, RedirectError, TimeoutError } from '../errors.js';
import type { HttpEffect } from '../events/httpEffect.js';
import type { FailureReason } from '../events/outcomes.js';
import type { ProvisionerResponse, RequestDescriptor, RetryOptions } from '../events/request.js';

/** @internal */
export type SendResult =
  | { readonly kind: 'delivered'; readonly response: ProvisionerResponse; readonly attempts: number }
  | {
      readonly kind: 'failed';
      readonly reason: FailureReason;
      readonly error: ProvisionerError;
      readonly response: ProvisionerResponse | null;
      readonly attempts: number;
    };

/** One attempt, no retries. @internal */
export function sendWithRetry(
  effect: HttpEffect,
  request: RequestDescriptor,
  _options: { readonly retry?: RetryOptions; readonly random?: () => number; readonly now?: () => number } = {},
): Observable<SendResult> {
  return defer(() => effect(request)).pipe(
    map((response): SendResult => {
      if (response.status >= 200 && response.status < 300) return { kind: 'delivered', response, attempts: 1 };
      if (response.status >= 300 && response.status < 400) {
        return { kind: 'failed', reason: 'redirect', error: new RedirectError(`redirect ${response.status}`, response), response, attempts: 1 };
      }
      return { kind: 'failed', reason: 'http-status', error: new HttpStatusError(`status ${response.status}`, response), response, attempts: 1 };
    }),
    catchError((error: unknown) =>
      of<SendResult>({
        kind: 'failed',
        reason: error instanceof TimeoutError ? 'timeout' : 'network',
        error: error instanceof ProvisionerError ? error : new NetworkError(String(error), { cause: error }),
        response: null,
        attempts: 1,
      }),
    ),
  );
}

/** @internal */
export function assertHttpUrl(url: string): URL {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`Expected an http(s) URL, got ${parsed.protocol}`);
  return parsed;
}
