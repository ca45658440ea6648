import type * as t from 'io-ts/lib/index.js';
import { describeKind } from '../util/describeValue.js';
import { withoutCredentials } from '../util/redact.js';

/*
 * The issue format, one line per problem, the same everywhere:
 *
 *   <path>: expected <what was expected>, got <what was found>[ (<hint>)]
 *
 * - <path> starts at the config's top level: `rdm_record["https://x.org/a"].publish.retry.limit`.
 *   Keys that are names (service types, method names, config keys) use dot notation; keys
 *   that are data (endpoint URLs, header names) and any key that is not an identifier are
 *   quoted in brackets, because URLs contain dots; array items are `[0]`. A problem with the
 *   config as a whole has the path `(root)`.
 * - <what was found> is a compact description (see describeValue.ts): strings quoted and
 *   cut, `a function`, `an array`, `null`, `undefined`, numbers as written; names found in
 *   the wrong place in backticks. Secrets are described by kind only: `a string (hidden)`.
 * - <hint> is optional: `did you mean `publish`?` for names (keys, methods, services: in
 *   backticks), `did you mean "PUT"?` for values (in double quotes), or a short reason.
 */

/**
 * The path shown for a problem with the config as a whole.
 *
 * @example
 * ```ts
 * `${ROOT_PATH}: expected an object with rdm_record and/or community, got an array`
 * ```
 * @internal
 */
export const ROOT_PATH = '(root)';

const dataKeyed = new WeakSet<t.Decoder<unknown, unknown>>();

/**
 * Marks a codec whose object keys are data (endpoint URLs, header names): the reporter
 * always quotes its keys in brackets.
 *
 * @example
 * ```ts
 * const Headers = keyedByData(new ConfigCodec(...));
 * ```
 * @internal
 */
export function keyedByData<C extends t.Decoder<unknown, unknown>>(codec: C): C {
  dataKeyed.add(codec);
  return codec;
}

/**
 * One issue line: `expected X, got Y` with an optional hint in parentheses (the reporter
 * prefixes the path).
 *
 * @example
 * ```ts
 * problem('one of GET, POST, PUT, PATCH, DELETE', '"PUTT"', 'did you mean "PUT"?');
 * // 'expected one of GET, POST, PUT, PATCH, DELETE, got "PUTT" (did you mean "PUT"?)'
 * ```
 * @internal
 */
export function problem(expected: string, found: string, hint?: string): string {
  return `expected ${expected}, got ${found}${hint === undefined ? '' : ` (${hint})`}`;
}

/**
 * The hint for a misspelt name (keys, methods, services are in backticks).
 *
 * @example
 * ```ts
 * didYouMeanName('publish'); // 'did you mean `publish`?'
 * ```
 * @internal
 */
export function didYouMeanName(name: string): string {
  return `did you mean \`${name}\`?`;
}

/**
 * The hint for a misspelt value (values are in double quotes).
 *
 * @example
 * ```ts
 * didYouMeanValue('PUT'); // 'did you mean "PUT"?'
 * ```
 * @internal
 */
export function didYouMeanValue(value: string): string {
  return `did you mean ${JSON.stringify(value)}?`;
}

/**
 * The path of an io-ts context in the format described at the top of this file.
 *
 * @example
 * ```ts
 * formatPath(context); // 'rdm_record["https://x.org/a"].publish.http_method'
 * ```
 * @internal
 */
export function formatPath(context: t.Context): string {
  let path = '';
  for (let index = 1; index < context.length; index += 1) {
    const entry = context[index];
    const parent = context[index - 1];
    if (entry === undefined || parent === undefined) {
      continue;
    }
    if (Array.isArray(parent.actual) && /^\d+$/.test(entry.key)) {
      path += `[${entry.key}]`;
    } else if (dataKeyed.has(parent.type) || !IDENTIFIER.test(entry.key)) {
      path += `[${JSON.stringify(withoutCredentials(entry.key))}]`;
    } else {
      path += path === '' ? entry.key : `.${entry.key}`;
    }
  }
  return path === '' ? ROOT_PATH : path;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * Every problem of a failed decode as `path: expected X, got Y` lines, in the order found,
 * without duplicates. Errors from codecs that carry no message (plain io-ts codecs composed
 * in by users) are described by the codec's name and the found value's kind.
 *
 * @example
 * ```ts
 * const result = ProvisionerConfigCodec.decode(input);
 * if (isLeft(result)) reportIssues(result.left);
 * // ['rdm_records: expected `rdm_record` or `community`, got `rdm_records` (did you mean `rdm_record`?)']
 * ```
 * @internal
 */
export function reportIssues(errors: t.Errors): string[] {
  const lines = errors.map((error) => `${formatPath(error.context)}: ${error.message ?? fallbackMessage(error)}`);
  return [...new Set(lines)];
}

function fallbackMessage(error: t.ValidationError): string {
  const last = error.context[error.context.length - 1];
  return problem(last === undefined ? 'a valid value' : last.type.name, describeKind(error.value));
}
