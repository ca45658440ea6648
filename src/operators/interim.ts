/**
 * Stand-ins for modules other parts of the library provide (config index, retry, cause
 * context, URL checks), used until those land. Each is replaced by an import of the real one.
 * @internal
 * @packageDocumentation
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import createDebug from 'debug';
import { Observable, catchError, defer, map, of } from 'rxjs';
import type { EventConfig, ProvisionerConfig } from '../config/types.js';
import { HttpStatusError, NetworkError, ProvisionerError, RedirectError, TimeoutError } from '../errors.js';
import type { HttpEffect } from '../events/httpEffect.js';
import type { ServiceType } from '../events/methodTables.js';
import type { FailureReason } from '../events/outcomes.js';
import type { ProvisionerResponse, RequestDescriptor, RetryOptions } from '../events/request.js';
import type { EventCause } from '../events/serviceEvent.js';

/** @internal */
export type EndpointTarget = { readonly endpoint: string; readonly eventConfig: EventConfig };

/** @internal */
export function endpointsFor(config: ProvisionerConfig<never>, service: ServiceType, method: string): readonly EndpointTarget[] {
  const serviceConfig = (config as ProvisionerConfig)[service] as Readonly<Record<string, Readonly<Record<string, EventConfig | undefined>>>> | undefined;
  if (serviceConfig === undefined) return [];
  const targets: EndpointTarget[] = [];
  for (const [endpoint, methods] of Object.entries(serviceConfig)) {
    const eventConfig = Object.prototype.hasOwnProperty.call(methods, method) ? methods[method] : undefined;
    if (eventConfig !== undefined) targets.push({ endpoint, eventConfig });
  }
  return targets;
}

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

const causeStorage = new AsyncLocalStorage<EventCause>();
/** @internal */
export function runWithCause<T>(cause: EventCause, fn: () => T): T {
  return causeStorage.run(cause, fn);
}
/** @internal */
export function currentCause(): EventCause | null {
  return causeStorage.getStore() ?? null;
}

/** @internal */
export function logger(area: string): createDebug.Debugger {
  return createDebug(`remote-api-provisioner:${area}`);
}

/** @internal */
export function assertHttpUrl(url: string): URL {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`Expected an http(s) URL, got ${parsed.protocol}`);
  return parsed;
}
