/**
 * How a found value is described in an error message ("got X"): compact, strings quoted and
 * cut, containers, functions and non-JSON values named by kind, never dumped. The config
 * reporter uses {@link describeValue}; run-time failures (payloads, owners, URLs) use
 * {@link describeFound}, which names the kind before the content.
 * @internal
 * @packageDocumentation
 */

/** Strings longer than this are cut (with `…`) when echoed in an issue. */
const MAX_ECHOED_STRING = 60;

/**
 * A compact, human description of a value: `"PUT"` (strings quoted, cut after 60
 * characters), `42`, `NaN`, `true`, `null`, `undefined`, `a function`, `an array`,
 * `an object`, `a Date`, `a Map`, `an instance of Foo`, `a bigint`, `a symbol`.
 *
 * @example
 * ```ts
 * describeValue('PUTT');       // '"PUTT"'
 * describeValue([1, 2]);       // 'an array'
 * describeValue(() => null);   // 'a function'
 * ```
 * @internal
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return quote(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return Object.is(value, -0) ? '-0' : String(value);
  }
  return describeKind(value);
}

/**
 * The kind of a value without its content: `a string`, `an empty string`, `a number`,
 * `a boolean`, and for everything else the same words as {@link describeValue}. Used where
 * a string was found in place of an object (it may be a misplaced token) and for secrets.
 *
 * @example
 * ```ts
 * describeKind('sk_live_123');  // 'a string'
 * describeKind(null);           // 'null'
 * ```
 * @internal
 */
export function describeKind(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return value === '' ? 'an empty string' : 'a string';
    case 'number':
      return Number.isNaN(value) ? 'NaN' : Number.isFinite(value) ? 'a number' : String(value);
    case 'boolean':
      return 'a boolean';
    case 'bigint':
      return 'a bigint';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return describeObject(value);
  }
}

/**
 * A run-time description of a found value, its kind first: `a string ("doc")` (cut after 80
 * characters), `a number (42)`, `a boolean (true)`, `null`, `undefined`, `an array`,
 * `an object`, `an instance of Foo`, `a function`.
 *
 * @example
 * ```ts
 * describeFound('PUTT'); // 'a string ("PUTT")'
 * describeFound(42);     // 'a number (42)'
 * ```
 * @internal
 */
export function describeFound(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)})`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `a ${typeof value} (${String(value)})`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') {
    const name = constructorName(Object.getPrototypeOf(value));
    return name !== undefined && name !== 'Object' ? `an instance of ${name}` : 'an object';
  }
  return typeof value;
}

/**
 * The message of a thrown value: an error's message, else the description of what was thrown.
 *
 * @example
 * ```ts
 * messageOf(new Error('boom')); // 'boom'
 * messageOf(42);                // 'a number (42)'
 * ```
 * @internal
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : describeFound(error);
}

/**
 * The description of a secret: its kind only, marked `(hidden)` when it has content, so
 * that an `auth_token` or an `Authorization` header value never appears in an issue.
 *
 * @example
 * ```ts
 * describeHidden('Bearer abc');  // 'a string (hidden)'
 * describeHidden(12345);         // 'a number (hidden)'
 * describeHidden('');            // 'an empty string'
 * ```
 * @internal
 */
export function describeHidden(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value === '' ? 'an empty string' : 'a string (hidden)';
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${withArticle(typeof value)} (hidden)`;
    default:
      return describeKind(value);
  }
}

/**
 * A string in double quotes (JSON escaping), cut to a readable length.
 *
 * @example
 * ```ts
 * quote('PUTT'); // '"PUTT"'
 * ```
 * @internal
 */
export function quote(text: string): string {
  if (text.length <= MAX_ECHOED_STRING) {
    return JSON.stringify(text);
  }
  return `${JSON.stringify(text.slice(0, MAX_ECHOED_STRING - 1)).slice(0, -1)}…"`;
}

/**
 * `a`/`an` before a word, by its first letter.
 *
 * @example
 * ```ts
 * withArticle('array'); // 'an array'
 * ```
 * @internal
 */
export function withArticle(word: string): string {
  return `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
}

function describeObject(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'an array';
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === null || prototype === Object.prototype) {
    return 'an object';
  }
  const name = constructorName(prototype);
  if (name === undefined || name === 'Object') {
    return 'an object';
  }
  return BUILT_INS.has(name) ? withArticle(name) : `an instance of ${name}`;
}

const BUILT_INS = new Set(['Date', 'Map', 'Set', 'WeakMap', 'WeakSet', 'RegExp', 'Promise', 'Error', 'URL', 'Buffer', 'Uint8Array', 'ArrayBuffer']);

function constructorName(prototype: unknown): string | undefined {
  try {
    const constructor: unknown = (prototype as { constructor?: unknown }).constructor;
    if (typeof constructor === 'function' && typeof constructor.name === 'string' && /^[A-Za-z_$][\w$]{0,40}$/.test(constructor.name)) {
      return constructor.name;
    }
  } catch {
    // A proxy or a getter that throws: name it by kind only.
  }
  return undefined;
}
