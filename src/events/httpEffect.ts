import type { Observable } from 'rxjs';
import type { ProvisionerResponse, RequestDescriptor } from './request.js';

/**
 * Sends one attempt of a request. It emits the response whatever its status (the retry
 * policy classifies statuses) and errors only when no response was read: with a
 * `NetworkError` or a `TimeoutError`. Each subscription is a new attempt; unsubscribing
 * aborts it. The default one is built on ky; tests pass `cold(...)` observables.
 *
 * @example
 * ```ts
 * // An effect that answers every request with 201, for a test; `createKyEffect()` is the real one.
 * const effect: HttpEffect = (request) => of({ status: 201, headers: {}, body: { _id: 'doc-1' }, url: request.url });
 * const provisioner = createProvisioner({ events, http: { effect } });
 * ```
 */
export type HttpEffect = (request: RequestDescriptor) => Observable<ProvisionerResponse>;
