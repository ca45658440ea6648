/**
 * io-ts codecs of the config's levels (event config, endpoint, service, root). Each codec
 * checks a whole level itself instead of composing `t.type`/`t.record`: `t.record` with a
 * refined key silently drops bad keys, and the
 * generic codecs cannot say "did you mean". Every failure carries its own message in the
 * format described in reporter.ts; the decoded value is the input itself (functions and
 * the app's record types are kept).
 * @internal
 * @packageDocumentation
 */
import * as t from 'io-ts/lib/index.js';
import { COUNTERPART_METHODS, SERVICE_TYPES, isMethodOf, methodsOf, type ServiceType } from '../events/methodTables.js';
import { EVENT_CONFIG_KEYS, type EventConfig, type ProvisionerConfig } from './types.js';
import { describeKind } from '../util/describeValue.js';
import { didYouMeanName, keyedByData, problem } from './reporter.js';
import { suggest } from './suggest.js';

import { ConfigCodec, child, issue, isPlainObject, missing, read, unknownKey, type DescribedDecoder } from './configCodec.js';
import { AllowedOriginsCodec, AuthTokenCodec, BooleanCodec, FunctionCodec, HeadersCodec, HttpMethodCodec, PayloadCodec, RetryCodec, TimeoutCodec, TimingFieldCodec, urlProblem } from './valueCodecs.js';

/** The codec of each event config key, in the order of {@link EVENT_CONFIG_KEYS}. */
const EVENT_KEY_CODECS: { readonly [K in (typeof EVENT_CONFIG_KEYS)[number]]: DescribedDecoder } = {
  http_method: HttpMethodCodec,
  payload: PayloadCodec,
  with_record_owner: BooleanCodec,
  url_factory: FunctionCodec,
  callback: FunctionCodec,
  headers: HeadersCodec,
  auth_token: AuthTokenCodec,
  include_restricted: BooleanCodec,
  timing_field: TimingFieldCodec,
  allowed_origins: AllowedOriginsCodec,
  retry: RetryCodec,
  timeout_ms: TimeoutCodec,
  coalesce: BooleanCodec,
};
const REQUIRED_EVENT_KEYS = ['http_method', 'payload'] as const;
const EVENT_KEY_LIST = EVENT_CONFIG_KEYS.join(', ');

/**
 * What one service method sends to one endpoint: see {@link EventConfig}. Unknown keys get
 * "did you mean"; a missing required key (`http_method`, `payload`) is reported once.
 *
 * @example
 * ```ts
 * EventConfigCodec.is({ http_method: 'DELETE', payload: null }); // true
 * ```
 * @internal
 */
export const EventConfigCodec = new ConfigCodec<EventConfig>('EventConfig', 'an event config object', (input, context) => {
  if (!isPlainObject(input)) {
    return [issue(input, context, problem('an event config object', describeKind(input)))];
  }
  const errors: t.ValidationError[] = [];
  const suggested = new Set<string>();
  for (const key of Object.keys(input)) {
    const value = read(input, key);
    if (Object.prototype.hasOwnProperty.call(EVENT_KEY_CODECS, key)) {
      const required = (REQUIRED_EVENT_KEYS as readonly string[]).includes(key);
      if (value !== undefined || required) {
        errors.push(...child(EVENT_KEY_CODECS[key as keyof typeof EVENT_KEY_CODECS], value, context, key));
      }
      continue;
    }
    const near = suggest(key, EVENT_CONFIG_KEYS);
    if (near === undefined) {
      errors.push(unknownKey(context, key, value, `an event config key (${EVENT_KEY_LIST})`, 'an unknown key'));
    } else {
      suggested.add(near);
      errors.push(unknownKey(context, key, value, 'an event config key', 'an unknown key', didYouMeanName(near)));
    }
  }
  for (const key of REQUIRED_EVENT_KEYS) {
    // A misspelt required key is one problem, not two: its "did you mean" says it all.
    if (!Object.prototype.hasOwnProperty.call(input, key) && !suggested.has(key)) {
      errors.push(missing(EVENT_KEY_CODECS[key], context, key));
    }
  }
  return errors;
});

// --- service levels -----------------------------------------------------------------------

/** Names the seed says Invenio's services use for methods whose components see a shorter name. */
const FULL_METHOD_NAMES: Readonly<Record<string, string>> = {
  mark_record_for_purge: 'mark_record',
  unmark_record_for_purge: 'unmark_record',
  mark_community_for_purge: 'mark',
  unmark_community_for_purge: 'unmark',
};

/** `an rdm_record method` (said "R-D-M"), `a community method`. */
function methodOfService(service: ServiceType): string {
  return `${service === 'rdm_record' ? 'an' : 'a'} ${service} method`;
}

function otherService(service: ServiceType): ServiceType {
  return service === 'rdm_record' ? 'community' : 'rdm_record';
}

/** The issue of a method name that `service` does not have, or `undefined` if it has it. */
function methodNameProblem(service: ServiceType, method: string): { expected: string; found: string; hint?: string } | undefined {
  if (isMethodOf(service, method)) {
    return undefined;
  }
  const expected = methodOfService(service);
  const other = otherService(service);
  const hinted = (name: string | undefined): string | undefined =>
    name !== undefined && isMethodOf(service, name) ? didYouMeanName(name) : undefined;
  if (isMethodOf(other, method)) {
    const hint = hinted(COUNTERPART_METHODS[method]) ?? hinted(suggest(method, methodsOf(service)));
    return hint === undefined ? { expected, found: methodOfService(other) } : { expected, found: methodOfService(other), hint };
  }
  const hint = hinted(FULL_METHOD_NAMES[method]) ?? hinted(suggest(method, methodsOf(service)));
  return hint === undefined
    ? { expected: `${expected} (${methodsOf(service).join(', ')})`, found: 'an unknown method' }
    : { expected, found: 'an unknown method', hint };
}

function endpointCodec(service: ServiceType): ConfigCodec<unknown> {
  const expected = 'an object of method names to event configs';
  return new ConfigCodec(`EndpointConfig<${service}>`, expected, (input, context) => {
    if (!isPlainObject(input)) {
      return [issue(input, context, problem(expected, describeKind(input)))];
    }
    const errors: t.ValidationError[] = [];
    for (const method of Object.keys(input)) {
      const value = read(input, method);
      const bad = methodNameProblem(service, method);
      if (bad === undefined) {
        // `publish: undefined` is the same as leaving the method out.
        if (value !== undefined) {
          errors.push(...child(EventConfigCodec, value, context, method));
        }
      } else {
        errors.push(unknownKey(context, method, value, bad.expected, bad.found, bad.hint));
      }
    }
    return errors;
  });
}

const ENDPOINT_EXPECTED = 'an absolute http(s) URL as the endpoint';

function serviceCodec(service: ServiceType): ConfigCodec<unknown> {
  const endpoint = endpointCodec(service);
  const expected = 'an object of endpoint URLs to method configs';
  // The keys are checked here, on the whole record: `t.record` with a refined key type
  // would drop bad keys instead of reporting them.
  return keyedByData(
    new ConfigCodec(`ServiceConfig<${service}>`, expected, (input, context) => {
      if (!isPlainObject(input)) {
        return [issue(input, context, problem(expected, describeKind(input)))];
      }
      const errors: t.ValidationError[] = [];
      for (const url of Object.keys(input)) {
        const value = read(input, url);
        const bad = urlProblem(url);
        if (bad !== undefined) {
          errors.push(unknownKey(context, url, value, ENDPOINT_EXPECTED, bad.found, bad.hint));
        }
        errors.push(...child(endpoint, value, context, url));
      }
      return errors;
    }),
  );
}

const SERVICE_CODECS: { readonly [S in ServiceType]: ConfigCodec<unknown> } = {
  rdm_record: serviceCodec('rdm_record'),
  community: serviceCodec('community'),
};

const ROOT_EXPECTED = `an object with ${SERVICE_TYPES.join(' and/or ')}`;

/**
 * The io-ts codec of the whole config ({@link ProvisionerConfig}). Its failures carry
 * issue messages; decode with {@link decodeConfig} to get them as a `ConfigError`. A
 * successful decode returns the input object itself.
 *
 * @example
 * ```ts
 * import { isRight } from 'fp-ts/lib/Either.js';
 * isRight(ProvisionerConfigCodec.decode({ rdm_record: {} })); // true
 * ```
 */
export const ProvisionerConfigCodec: t.Type<ProvisionerConfig, ProvisionerConfig, unknown> = new ConfigCodec<ProvisionerConfig>('ProvisionerConfig', ROOT_EXPECTED, (input, context) => {
  if (!isPlainObject(input)) {
    return [issue(input, context, problem(ROOT_EXPECTED, describeKind(input)))];
  }
  const errors: t.ValidationError[] = [];
  for (const key of Object.keys(input)) {
    const value = read(input, key);
    if ((SERVICE_TYPES as readonly string[]).includes(key)) {
      // `rdm_record: undefined` is the same as leaving it out (`cond ? {...} : undefined`).
      if (value !== undefined) {
        errors.push(...child(SERVICE_CODECS[key as ServiceType], value, context, key));
      }
      continue;
    }
    const near = suggest(key, SERVICE_TYPES);
    errors.push(
      unknownKey(
        context,
        key,
        value,
        `a service type (${SERVICE_TYPES.join(' or ')})`,
        'an unknown key',
        near === undefined ? undefined : didYouMeanName(near),
      ),
    );
  }
  return errors;
});
