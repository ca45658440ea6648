/**
 * io-ts codecs of the config's leaf values: \`http_method\`, \`payload\`, \`headers\`,
 * \`auth_token\`, origins, \`retry\`, \`timeout_ms\`.
 * @internal
 * @packageDocumentation
 */
import * as t from 'io-ts/lib/index.js';
import { HTTP_METHODS } from '../events/request.js';
import { describeHidden, describeKind, describeValue, quote } from '../util/describeValue.js';
import { withoutCredentials } from '../util/redact.js';
import { isSecretName } from '../util/secretNames.js';
import { ConfigCodec, child, issue, isPlainObject, leaf, read, unknownKey } from './configCodec.js';
import { didYouMeanName, didYouMeanValue, keyedByData, problem } from './reporter.js';
import { suggest } from './suggest.js';
import type { EventConfig } from './types.js';

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

/**
 * A boolean flag (`with_record_owner`, `include_restricted`).
 *
 * @example
 * ```ts
 * BooleanCodec.is(true); // true
 * ```
 * @internal
 */
export const BooleanCodec = leaf<boolean>('Boolean', 'a boolean', (input) => typeof input === 'boolean');
/**
 * A function (`url_factory`, `callback`).
 *
 * @example
 * ```ts
 * FunctionCodec.is(() => null); // true
 * ```
 * @internal
 */
export const FunctionCodec = leaf<(...args: never[]) => unknown>('Function', 'a function', (input) => typeof input === 'function');

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

/**
 * `timing_field`: the name of a `custom_fields` entry, a non-empty string.
 *
 * @example
 * ```ts
 * TimingFieldCodec.is('kcr:commons_search_updated'); // true
 * ```
 * @internal
 */
export const TimingFieldCodec = leaf<string>('TimingField', 'a non-empty string (the name of a custom_fields entry)', (input) => typeof input === 'string' && input !== '');
