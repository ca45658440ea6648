/**
 * What is fixed for one endpoint binding (service, endpoint, method): worked out on its first
 * event and kept for the next ones.
 * @internal
 * @packageDocumentation
 */
import type { EventConfig } from '../config/types.js';
import { UrlError } from '../errors.js';
import { endpointIdOf } from '../events/deliveryId.js';
import { messageOf } from '../util/describeValue.js';
import { assertHttpUrl } from '../util/urls.js';
import { configPath } from './subject.js';

/**
 * An endpoint of the config with the event config of one method there.
 * @internal
 */
export type Target = { readonly endpoint: string; readonly eventConfig: EventConfig };

/**
 * A {@link Target} with the config path named in messages, the endpoint's id in delivery
 * ids, the checked endpoint URL and the headers every request to it carries.
 * @internal
 */
export type PreparedTarget = Target & {
  readonly path: string;
  readonly endpointId: string;
  readonly endpointUrl: URL | UrlError;
  /** The config's headers (but `Idempotency-Key`, and `Authorization` when `auth_token` is set), then `Authorization`. */
  readonly headerNames: readonly string[];
  readonly headerValues: readonly string[];
  /** Whether the config's headers set the content type (else JSON bodies get `application/json`). */
  readonly hasContentType: boolean;
};

/** Bindings come from the config index, one frozen object per (service, endpoint, method). */
const preparedTargets = new WeakMap<Target, PreparedTarget>();

/**
 * The prepared form of a binding of the config index, made once per binding.
 *
 * @example
 * ```ts
 * const target = prepareTarget(binding, 'rdm_record', 'publish');
 * target.path; // 'rdm_record["https://search.example.org/api/v1/documents"].publish'
 * ```
 * @internal
 */
export function prepareTarget(binding: Target, serviceType: string, method: string): PreparedTarget {
  let prepared = preparedTargets.get(binding);
  if (prepared !== undefined) return prepared;
  const { endpoint, eventConfig } = binding;
  const path = configPath(serviceType, endpoint, method);
  let endpointUrl: URL | UrlError;
  try {
    endpointUrl = assertHttpUrl(endpoint, `the endpoint of ${path}`);
  } catch (error) {
    endpointUrl = asUrlError(error);
  }
  const headerNames: string[] = [];
  const headerValues: string[] = [];
  let hasContentType = false;
  for (const [name, value] of Object.entries(eventConfig.headers ?? {})) {
    const lowerName = name.toLowerCase();
    if (lowerName === 'idempotency-key' || (lowerName === 'authorization' && eventConfig.auth_token !== undefined)) continue;
    if (lowerName === 'content-type') hasContentType = true;
    headerNames.push(name);
    headerValues.push(value);
  }
  if (eventConfig.auth_token !== undefined) {
    headerNames.push('Authorization');
    headerValues.push(`Bearer ${eventConfig.auth_token}`);
  }
  prepared = { endpoint, eventConfig, path, endpointId: endpointIdOf(endpoint), endpointUrl, headerNames, headerValues, hasContentType };
  preparedTargets.set(binding, prepared);
  return prepared;
}

/**
 * A thrown value as a {@link UrlError}.
 *
 * @example
 * ```ts
 * asUrlError(new TypeError('Invalid URL')); // UrlError: Invalid URL
 * ```
 * @internal
 */
export function asUrlError(error: unknown): UrlError {
  return error instanceof UrlError ? error : new UrlError(messageOf(error), { cause: error });
}
