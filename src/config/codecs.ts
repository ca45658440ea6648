import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts/lib/index.js';
import { COUNTERPART_METHODS, SERVICE_TYPES, isMethodOf, methodsOf, type ServiceType } from '../events/methodTables.js';
import { HTTP_METHODS } from '../events/request.js';
import { EVENT_CONFIG_KEYS, type EventConfig, type ProvisionerConfig } from './types.js';
import { describeHidden, describeKind, describeValue, quote } from '../util/describeValue.js';
import { withoutCredentials } from '../util/redact.js';
import { isSecretName } from '../util/secretNames.js';
import { didYouMeanName, didYouMeanValue, keyedByData, problem } from './reporter.js';
import { suggest } from './suggest.js';

/*
 * io-ts codecs of the config. Each codec checks a whole level itself instead of composing
 * `t.type`/`t.record`: `t.record` with a refined key silently drops bad keys, and the
 * generic codecs cannot say "did you mean". Every failure carries its own message in the
 * format described in reporter.ts; the decoded value is the input itself (functions and
 * the app's record types are kept).
 */

type Check = (input: unknown, context: t.Context) => t.Errors;

/**
 * An io-ts codec of one config level whose failures carry issue messages, and which knows
 * how to say what it expects (used for "got nothing" when a required key is missing).
 *
 * @example
 * ```ts
 * const Flag = new ConfigCodec<boolean>('Flag', 'a boolean', (input, context) =>
 *   typeof input === 'boolean' ? [] : [issue(input, context, problem('a boolean', describeValue(input)))]);
 * ```
 * @internal
 */
export class ConfigCodec<A> extends t.Type<A, A, unknown> {
  /** What the codec expects, as said in issues: `a boolean`, `a JSON object, null or a function`. */
  readonly expected: string;
  constructor(name: string, expected: string, check: Check) {
    super(
      name,
      (input): input is A => check(input, []).length === 0,
      (input, context) => {
        const errors = check(input, context);
        return errors.length === 0 ? t.success(input as A) : t.failures(errors);
      },
      t.identity,
    );
    this.expected = expected;
  }
}

/** Any config codec, seen as a decoder that can say what it expects. */
type DescribedDecoder = t.Decoder<unknown, unknown> & { readonly expected: string };

/**
 * One validation error with its message.
 *
 * @example
 * ```ts
 * issue(input, context, problem('a boolean', describeValue(input)));
 * ```
 * @internal
 */
export function issue(value: unknown, context: t.Context, message: string): t.ValidationError {
  return { value, context, message };
}

/** The errors of `codec` on the child `key` of the value at `context`. */
function child(codec: t.Decoder<unknown, unknown>, value: unknown, context: t.Context, key: string): t.Errors {
  const result = codec.validate(value, t.appendContext(context, key, codec, value));
  return isLeft(result) ? result.left : [];
}

/** The error of a required key that is absent. */
function missing(codec: DescribedDecoder, context: t.Context, key: string): t.ValidationError {
  return issue(undefined, t.appendContext(context, key, codec, undefined), problem(codec.expected, 'nothing', 'the key is required'));
}

/** The error of a key that is not allowed, on the key's own path. */
function unknownKey(context: t.Context, key: string, value: unknown, expected: string, found: string, hint?: string): t.ValidationError {
  return issue(value, t.appendContext(context, key, UnknownKey, value), problem(expected, found, hint));
}

const UnknownKey = new t.Type<never, never, unknown>('UnknownKey', (_): _ is never => false, (input, context) => t.failure(input, context), t.identity);

/**
 * Whether a value is a plain object: `{}` literals, JSON objects, `Object.create(null)`.
 *
 * @example
 * ```ts
 * isPlainObject({ a: 1 });    // true
 * isPlainObject(new Date());  // false
 * ```
 * @internal
 */
export function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return false;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype;
}

function read(object: Readonly<Record<string, unknown>>, key: string): unknown {
  return object[key];
}

/** A codec of one kind of leaf value. */
function leaf<A>(name: string, expected: string, accepts: (input: unknown) => boolean, describe: (input: unknown) => string = describeValue): ConfigCodec<A> {
  return new ConfigCodec<A>(name, expected, (input, context) => (accepts(input) ? [] : [issue(input, context, problem(expected, describe(input)))]));
}

// --- leaves -------------------------------------------------------------------------------

const HTTP_METHOD_LIST = HTTP_METHODS.join(', ');

/**
 * `http_method`: one of {@link HTTP_METHODS} (case-sensitive) or a function.
 *
 * @example
 * ```ts
 * HttpMethodCodec.is('PUT');   // true
 * HttpMethodCodec.is('put');   // false: "did you mean "PUT"?"
 * ```
 * @internal
 */
export const HttpMethodCodec = new ConfigCodec<EventConfig['http_method']>(
  'HttpMethod',
  `one of ${HTTP_METHOD_LIST} or a function`,
  (input, context) => {
    if (typeof input === 'function' || (typeof input === 'string' && (HTTP_METHODS as readonly string[]).includes(input))) {
      return [];
    }
    if (typeof input === 'string') {
      const near = suggest(input, HTTP_METHODS);
      return [issue(input, context, problem(`one of ${HTTP_METHOD_LIST}`, quote(input), near === undefined ? undefined : didYouMeanValue(near)))];
    }
    return [issue(input, context, problem(`one of ${HTTP_METHOD_LIST} or a function`, describeValue(input)))];
  },
);

/** Payloads nested deeper than this are rejected rather than walked. */
const MAX_JSON_DEPTH = 64;

/** A JSON value inside a payload object: the walk reports every non-JSON value by path. */
const JsonValueCodec: ConfigCodec<unknown> = new ConfigCodec<unknown>('JsonValue', 'a JSON value', (input, context) => jsonErrors(input, context, new Set(), 0));

function jsonErrors(input: unknown, context: t.Context, ancestors: Set<object>, depth: number): t.Errors {
  switch (typeof input) {
    case 'string':
    case 'boolean':
      return [];
    case 'number':
      return Number.isFinite(input) ? [] : [issue(input, context, problem('a JSON value', describeValue(input)))];
    case 'object':
      break;
    default:
      return [issue(input, context, problem('a JSON value', describeKind(input)))];
  }
  if (input === null) {
    return [];
  }
  if (!Array.isArray(input) && !isPlainObject(input)) {
    return [issue(input, context, problem('a JSON value', describeKind(input)))];
  }
  if (ancestors.has(input)) {
    return [issue(input, context, problem('a JSON value', 'a circular reference'))];
  }
  if (depth >= MAX_JSON_DEPTH) {
    return [issue(input, context, problem(`JSON nested at most ${MAX_JSON_DEPTH} levels deep`, 'deeper nesting'))];
  }
  ancestors.add(input);
  const errors: t.ValidationError[] = [];
  const entries: [string, unknown][] = Array.isArray(input)
    ? Array.from(input, (item: unknown, index) => [String(index), item])
    : Object.keys(input).map((key) => [key, read(input, key)]);
  for (const [key, value] of entries) {
    errors.push(...jsonErrors(value, t.appendContext(context, key, JsonValueCodec, value), ancestors, depth + 1));
  }
  ancestors.delete(input);
  return errors;
}

/**
 * `payload`: a plain JSON object, `null`, or a function; every non-JSON value inside an
 * object payload is reported at its own path.
 *
 * @example
 * ```ts
 * PayloadCodec.is({ title: 'A Romans Story' }); // true
 * PayloadCodec.is({ when: new Date() });         // false
 * ```
 * @internal
 */
export const PayloadCodec = new ConfigCodec<EventConfig['payload']>('Payload', 'a JSON object, null or a function', (input, context) => {
  if (input === null || typeof input === 'function') {
    return [];
  }
  if (!isPlainObject(input)) {
    return [issue(input, context, problem('a JSON object, null or a function', describeKind(input)))];
  }
  return jsonErrors(input, context, new Set(), 0);
});

const BooleanCodec = leaf<boolean>('Boolean', 'a boolean', (input) => typeof input === 'boolean');
const FunctionCodec = leaf<(...args: never[]) => unknown>('Function', 'a function', (input) => typeof input === 'function');

/** Header names are RFC 9110 tokens. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Characters that would split or end a header line. */
const LINE_BREAK = /[\r\n\0]/;

const HeaderValueCodec = new ConfigCodec<string>('HeaderValue', 'a string', () => []);

/**
 * `headers`: an object of header names (tokens) to string values, never echoed.
 *
 * @example
 * ```ts
 * HeadersCodec.is({ 'X-Source': 'records-app' }); // true
 * ```
 * @internal
 */
export const HeadersCodec = keyedByData(
  new ConfigCodec<Readonly<Record<string, string>>>('Headers', 'an object of header names to string values', (input, context) => {
    if (!isPlainObject(input)) {
      return [issue(input, context, problem('an object of header names to string values', describeKind(input)))];
    }
    const errors: t.ValidationError[] = [];
    for (const name of Object.keys(input)) {
      const value = read(input, name);
      const at = t.appendContext(context, name, HeaderValueCodec, value);
      // Header values are never echoed: any header may carry a credential. Secret-looking
      // names say so with `(hidden)`.
      const secret = isSecretName(name);
      if (!HEADER_NAME.test(name)) {
        errors.push(issue(value, at, problem("a header name of letters, digits and !#$%&'*+-.^_`|~ only", name === '' ? 'an empty name' : 'a name with other characters')));
      }
      if (typeof value !== 'string') {
        errors.push(issue(value, at, problem('a string', secret ? describeHidden(value) : describeKind(value))));
      } else if (LINE_BREAK.test(value)) {
        errors.push(issue(value, at, problem('a header value without line breaks', `a string with a line break${secret ? ' (hidden)' : ''}`)));
      }
    }
    return errors;
  }),
);

/**
 * `auth_token`: a non-empty string without line breaks; never echoed.
 *
 * @example
 * ```ts
 * AuthTokenCodec.is('');  // false: "got an empty string"
 * ```
 * @internal
 */
export const AuthTokenCodec = new ConfigCodec<string>('AuthToken', 'a non-empty string', (input, context) => {
  if (typeof input === 'string' && input !== '' && !LINE_BREAK.test(input)) {
    return [];
  }
  if (typeof input === 'string' && input !== '') {
    return [issue('[hidden]', context, problem('a non-empty string without line breaks', 'a string with a line break (hidden)'))];
  }
  return [issue(typeof input === 'string' ? input : '[hidden]', context, problem('a non-empty string', describeHidden(input)))];
});

/**
 * Why a string is not an absolute http(s) URL, as the "got" part of an issue, or
 * `undefined` when it is one.
 *
 * @example
 * ```ts
 * urlProblem('/api/v1/documents');       // { found: 'a relative path' }
 * urlProblem('ftp://files.example.org'); // { found: 'a URL with scheme ftp:' }
 * ```
 * @internal
 */
export function urlProblem(text: string): { found: string; hint?: string } | undefined {
  if (text === '') {
    return { found: 'an empty string' };
  }
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url !== undefined && text.includes('://')) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return { found: `a URL with scheme ${url.protocol}` };
    }
    if (url.hostname === '') {
      return { found: 'a URL without a host' };
    }
    if (url.username !== '' || url.password !== '') {
      return { found: 'a URL with credentials', hint: 'put them in auth_token or headers' };
    }
    return undefined;
  }
  if (text.startsWith('//')) {
    return { found: 'a protocol-relative URL', hint: didYouMeanValue(`https:${text}`) };
  }
  if (/^\.{0,2}\//.test(text)) {
    return { found: 'a relative path' };
  }
  if (/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:\d+)?(\/\S*)?$/.test(text) || /^localhost(:\d+)?(\/\S*)?$/.test(text)) {
    return { found: 'a host without a scheme', hint: didYouMeanValue(`https://${text}`) };
  }
  if (url !== undefined) {
    return { found: `a URL with scheme ${url.protocol}` };
  }
  return { found: 'text that is not a URL' };
}

const ORIGIN_EXPECTED = 'an absolute http(s) origin';

/** One origin of `allowed_origins`: scheme, host and optional port, nothing else. */
const OriginCodec = new ConfigCodec<string>('Origin', ORIGIN_EXPECTED, (input, context) => {
  if (typeof input !== 'string') {
    return [issue(input, context, problem(ORIGIN_EXPECTED, describeValue(input)))];
  }
  const bad = urlProblem(input);
  if (bad !== undefined) {
    return [issue(input, context, problem(ORIGIN_EXPECTED, quote(withoutCredentials(input)), bad.hint === undefined ? bad.found : `${bad.found}; ${bad.hint}`))];
  }
  const url = new URL(input);
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(input)) {
    return [issue(input, context, problem(ORIGIN_EXPECTED, quote(input), `has a path, query or fragment; did you mean ${JSON.stringify(url.origin)}?`))];
  }
  return [];
});

const ALLOWED_ORIGINS_EXPECTED = 'true or an array of absolute http(s) origins';

/**
 * `allowed_origins`: `true`, or an array of absolute http(s) origins.
 *
 * @example
 * ```ts
 * AllowedOriginsCodec.is(['https://search.example.org']); // true
 * AllowedOriginsCodec.is(['https://x.org/path']);         // false
 * ```
 * @internal
 */
export const AllowedOriginsCodec = new ConfigCodec<true | readonly string[]>('AllowedOrigins', ALLOWED_ORIGINS_EXPECTED, (input, context) => {
  if (input === true) {
    return [];
  }
  if (!Array.isArray(input)) {
    return [issue(input, context, problem(ALLOWED_ORIGINS_EXPECTED, describeValue(input)))];
  }
  return input.flatMap((origin: unknown, index) => child(OriginCodec, origin, context, String(index)));
});

const isNonNegative = (input: unknown): boolean => typeof input === 'number' && Number.isFinite(input) && input >= 0;
const RetryLimitCodec = leaf<number>('RetryLimit', 'an integer >= 0', (input) => isNonNegative(input) && Number.isInteger(input));
const DelayCodec = leaf<number>('DelayMs', 'a number >= 0', isNonNegative);

const RETRY_OPTIONS = {
  limit: RetryLimitCodec,
  baseDelayMs: DelayCodec,
  maxDelayMs: DelayCodec,
  maxRetryAfterMs: DelayCodec,
} as const;
const RETRY_OPTION_NAMES = Object.keys(RETRY_OPTIONS);

/**
 * `retry`: an object of retry options (`limit`, `baseDelayMs`, `maxDelayMs`, `maxRetryAfterMs`).
 *
 * @example
 * ```ts
 * RetryCodec.is({ limit: 3, baseDelayMs: 100 }); // true
 * ```
 * @internal
 */
export const RetryCodec = new ConfigCodec<NonNullable<EventConfig['retry']>>('Retry', 'an object of retry options', (input, context) => {
  if (!isPlainObject(input)) {
    return [issue(input, context, problem(`an object of retry options (${RETRY_OPTION_NAMES.join(', ')})`, describeKind(input)))];
  }
  const errors: t.ValidationError[] = [];
  for (const key of Object.keys(input)) {
    const value = read(input, key);
    if (Object.prototype.hasOwnProperty.call(RETRY_OPTIONS, key)) {
      if (value !== undefined) {
        errors.push(...child(RETRY_OPTIONS[key as keyof typeof RETRY_OPTIONS], value, context, key));
      }
      continue;
    }
    const near = suggest(key, RETRY_OPTION_NAMES);
    errors.push(
      near === undefined
        ? unknownKey(context, key, value, `a retry option (${RETRY_OPTION_NAMES.join(', ')})`, 'an unknown key')
        : unknownKey(context, key, value, 'a retry option', 'an unknown key', didYouMeanName(near)),
    );
  }
  return errors;
});

/**
 * `timeout_ms`: a positive number.
 *
 * @example
 * ```ts
 * TimeoutCodec.is(0); // false
 * ```
 * @internal
 */
export const TimeoutCodec = leaf<number>('TimeoutMs', 'a positive number', (input) => typeof input === 'number' && Number.isFinite(input) && input > 0);

// --- event config -------------------------------------------------------------------------

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
  allowed_origins: AllowedOriginsCodec,
  retry: RetryCodec,
  timeout_ms: TimeoutCodec,
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
