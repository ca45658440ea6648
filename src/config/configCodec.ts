/**
 * The io-ts codec of one config level whose failures carry their own issue messages, and the
 * helpers every config codec builds on.
 * @internal
 * @packageDocumentation
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts/lib/index.js';
import { describeValue } from '../util/describeValue.js';
import { problem } from './reporter.js';

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

/** Any config codec, seen as a decoder that can say what it expects. @internal */
export type DescribedDecoder = t.Decoder<unknown, unknown> & { readonly expected: string };

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

/**
 * The errors of `codec` on the child `key` of the value at `context`.
 *
 * @example
 * ```ts
 * errors.push(...child(RetryCodec, input['retry'], context, 'retry'));
 * ```
 * @internal
 */
export function child(codec: t.Decoder<unknown, unknown>, value: unknown, context: t.Context, key: string): t.Errors {
  const result = codec.validate(value, t.appendContext(context, key, codec, value));
  return isLeft(result) ? result.left : [];
}

/**
 * The error of a required key that is absent.
 *
 * @example
 * ```ts
 * errors.push(missing(PayloadCodec, context, 'payload'));
 * ```
 * @internal
 */
export function missing(codec: DescribedDecoder, context: t.Context, key: string): t.ValidationError {
  return issue(undefined, t.appendContext(context, key, codec, undefined), problem(codec.expected, 'nothing', 'the key is required'));
}

/**
 * The error of a key that is not allowed, on the key's own path.
 *
 * @example
 * ```ts
 * errors.push(unknownKey(context, 'http_methd', value, 'one of http_method, payload, …', '"http_methd"'));
 * ```
 * @internal
 */
export function unknownKey(context: t.Context, key: string, value: unknown, expected: string, found: string, hint?: string): t.ValidationError {
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

/**
 * A property of a plain object, read once.
 *
 * @example
 * ```ts
 * read(input, 'retry');
 * ```
 * @internal
 */
export function read(object: Readonly<Record<string, unknown>>, key: string): unknown {
  return object[key];
}

/**
 * A codec of one kind of leaf value.
 *
 * @example
 * ```ts
 * const BooleanCodec = leaf<boolean>('Boolean', 'a boolean', (input) => typeof input === 'boolean');
 * ```
 * @internal
 */
export function leaf<A>(name: string, expected: string, accepts: (input: unknown) => boolean, describe: (input: unknown) => string = describeValue): ConfigCodec<A> {
  return new ConfigCodec<A>(name, expected, (input, context) => (accepts(input) ? [] : [issue(input, context, problem(expected, describe(input)))]));
}
