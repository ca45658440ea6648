/**
 * The copy of a payload that is sent: exactly the JSON data the app gave, or the path of the
 * first value JSON would change or drop.
 * @internal
 * @packageDocumentation
 */
import { describeKind } from './describeValue.js';

/** Deeper than this a value is refused rather than walked (JSON from records is far shallower). */
const MAX_DEPTH = 1_000;
const hasOwn = Object.prototype.hasOwnProperty;
const isEnumerable = Object.prototype.propertyIsEnumerable;

/**
 * Why a value is not JSON data: where (`payload.tags`), what was expected there and what
 * was found. A class, so that it is never mistaken for a copied value.
 * @internal
 */
export class NotJsonValue {
  /** The path from the failing value up to the root, innermost first (built only on failure). */
  readonly #segments: string[] = [];
  #root = '';

  constructor(
    /** What was expected there: `a JSON value`, `string keys only`. */
    readonly expected: string,
    /** What was found there: `a Map`, `NaN`, `a function`. */
    readonly found: string,
  ) {}

  /** The path of the value, from the root's name: `payload.tags[2]`. */
  get path(): string {
    return this.#root + [...this.#segments].reverse().join('');
  }

  /** `payload.tags: expected a JSON value, got a Map`. */
  get message(): string {
    return `${this.path}: expected ${this.expected}, got ${this.found}`;
  }

  /** Adds the segment of the container the value was found in. @internal */
  within(segment: string): this {
    this.#segments.push(segment);
    return this;
  }

  /** Names the root. @internal */
  at(root: string): this {
    this.#root = root;
    return this;
  }
}

/**
 * A deep copy of `value` that is exactly what its JSON text reads back as, or a
 * {@link NotJsonValue} naming the first value that JSON would change or drop: a `Map` or `Set`
 * (sent as `{}`), a function or a symbol (dropped), a symbol key (dropped), `NaN` or
 * `Infinity` (sent as `null`), `undefined` in an array (sent as `null`), a `BigInt` (not
 * serializable), a class instance or built-in without `toJSON`, a cycle. An `undefined`
 * property is left out, as JSON does; a value with a `toJSON` method (a `Date`) is replaced by
 * what it returns, as JSON does. The app's object is read once (getters run once) and never
 * shared with the copy; strings are shared, as they are immutable.
 *
 * @example
 * ```ts
 * jsonCopy({ id: 'x', when: new Date(0) }, 'payload'); // { id: 'x', when: '1970-01-01T00:00:00.000Z' }
 * jsonCopy({ tags: new Map() }, 'payload');            // NotJsonValue: payload.tags: expected a JSON value, got a Map
 * ```
 * @internal
 */
export function jsonCopy(value: unknown, rootName: string): unknown {
  const copy = copyValue(value, '', 0, []);
  if (copy !== FAILED) return copy;
  const found = failure ?? new NotJsonValue('a JSON value', 'a value that could not be read');
  failure = undefined;
  return found.at(rootName);
}

/** Returned up the walk when a value is not JSON data; the reason is in {@link failure}. */
const FAILED: unique symbol = Symbol('not JSON data');
/** The reason of the last {@link FAILED} (the walk is synchronous: one at a time). */
let failure: NotJsonValue | undefined;

function fail(expected: string, found: string): typeof FAILED {
  failure = new NotJsonValue(expected, found);
  return FAILED;
}

function copyValue(value: unknown, key: string, depth: number, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return Object.is(value, -0) ? 0 : value;
      return fail('a JSON value', `${String(value)} (JSON would send null)`);
    case 'bigint':
      return fail('a JSON value', 'a BigInt (JSON cannot hold it; send it as a string)');
    case 'object':
      break;
    default:
      return fail('a JSON value', `${describeKind(value)} (JSON would drop it)`);
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) return fail(`a JSON value nested at most ${MAX_DEPTH} levels deep`, 'deeper data');
  if (ancestors.includes(value)) return fail('a JSON value', 'a circular reference (JSON cannot hold cycles)');
  const prototype: unknown = Object.getPrototypeOf(value);
  const plain = prototype === Object.prototype || prototype === null;
  // A plain object's own `toJSON` is found by the key loop; other objects are asked here.
  if (!plain) {
    const toJSON = (value as { readonly toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      const replaced = callToJSON(value, toJSON, key);
      return replaced === TOJSON_THREW ? FAILED : copyValue(replaced, key, depth + 1, ancestors);
    }
    if (!Array.isArray(value)) {
      const sentAs = value instanceof Map || value instanceof Set ? ' (JSON would send {})' : '';
      return fail('a JSON value', `${describeKind(value)}${sentAs}`);
    }
  }
  ancestors.push(value);
  const copy = Array.isArray(value) ? copyArray(value, depth, ancestors) : copyObject(value as Record<string, unknown>, key, depth, ancestors);
  ancestors.pop();
  return copy;
}

function callToJSON(value: object, toJSON: unknown, key: string): unknown {
  try {
    return (toJSON as (key: string) => unknown).call(value, key);
  } catch (error) {
    failure = new NotJsonValue('a JSON value', `a value whose toJSON threw (${error instanceof Error ? error.message : describeKind(error)})`);
    return TOJSON_THREW;
  }
}
/** What {@link callToJSON} gives when `toJSON` threw (the reason is in {@link failure}). */
const TOJSON_THREW: unique symbol = Symbol('toJSON threw');

function copyArray(value: readonly unknown[], depth: number, ancestors: object[]): unknown {
  const copy: unknown[] = new Array<unknown>(value.length);
  for (let index = 0; index < value.length; index += 1) {
    const item: unknown = value[index];
    const itemCopy = item === undefined ? fail('a JSON value', 'undefined (JSON would send null)') : copyValue(item, String(index), depth + 1, ancestors);
    if (itemCopy === FAILED) {
      failure?.within(`[${index}]`);
      return FAILED;
    }
    copy[index] = itemCopy;
  }
  return copy;
}

function copyObject(value: Record<string, unknown>, key: string, depth: number, ancestors: object[]): unknown {
  const copy: Record<string, unknown> = {};
  for (const name in value) {
    if (!hasOwn.call(value, name)) continue;
    const item = value[name];
    if (item === undefined) continue;
    if (name === 'toJSON' && typeof item === 'function') {
      const replaced = callToJSON(value, item, key);
      if (replaced === TOJSON_THREW) return FAILED;
      ancestors.pop();
      const copied = copyValue(replaced, key, depth + 1, ancestors);
      ancestors.push(value);
      return copied;
    }
    const itemCopy = copyValue(item, name, depth + 1, ancestors);
    if (itemCopy === FAILED) {
      failure?.within(/^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`);
      return FAILED;
    }
    if (name === '__proto__') {
      // An own key named `__proto__` (from JSON.parse) stays a key, never a prototype.
      Object.defineProperty(copy, name, { value: itemCopy, enumerable: true, writable: true, configurable: true });
    } else {
      copy[name] = itemCopy;
    }
  }
  const symbol = enumerableSymbolKey(value);
  return symbol === undefined ? copy : fail('string keys only', `the symbol key ${symbol.description ?? ''} (JSON would drop it)`);
}

function enumerableSymbolKey(value: object): symbol | undefined {
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (isEnumerable.call(value, symbol)) return symbol;
  }
  return undefined;
}
