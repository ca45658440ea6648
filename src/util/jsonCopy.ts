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
export class NotJsonData {
  constructor(
    /** The path of the value, from the root's name: `payload.tags[2]`. */
    readonly path: string,
    /** What was expected there: `a JSON value`, `string keys`. */
    readonly expected: string,
    /** What was found there: `a Map`, `NaN`, `a function`. */
    readonly found: string,
  ) {}

  /** `payload.tags: expected a JSON value, got a Map`. */
  get message(): string {
    return `${this.path}: expected ${this.expected}, got ${this.found}`;
  }
}

/**
 * A deep copy of `value` that is exactly what its JSON text reads back as, or a
 * {@link NotJsonData} naming the first value that JSON would change or drop: a `Map` or `Set`
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
 * jsonCopy({ tags: new Map() }, 'payload');            // NotJsonData: payload.tags: expected a JSON value, got a Map
 * ```
 * @internal
 */
export function jsonCopy(value: unknown, rootName: string): unknown {
  return copyValue(value, rootName, '', 0, []);
}

function copyValue(value: unknown, path: string, key: string, depth: number, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return Object.is(value, -0) ? 0 : value;
      return new NotJsonData(path, 'a JSON value', `${String(value)} (JSON would send null)`);
    case 'bigint':
      return new NotJsonData(path, 'a JSON value', 'a BigInt (JSON cannot hold it; send it as a string)');
    case 'object':
      break;
    default:
      return new NotJsonData(path, 'a JSON value', `${describeKind(value)} (JSON would drop it)`);
  }
  if (value === null) return null;
  if (ancestors.includes(value)) {
    return new NotJsonData(path, 'a JSON value', 'a circular reference (JSON cannot hold cycles)');
  }
  if (depth >= MAX_DEPTH) return new NotJsonData(path, `a JSON value nested at most ${MAX_DEPTH} levels deep`, 'deeper data');
  const toJSON = (value as { readonly toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    let replaced: unknown;
    try {
      replaced = (toJSON as (key: string) => unknown).call(value, key);
    } catch (error) {
      return new NotJsonData(path, 'a JSON value', `a value whose toJSON threw (${error instanceof Error ? error.message : describeKind(error)})`);
    }
    return copyValue(replaced, path, key, depth + 1, ancestors);
  }
  ancestors.push(value);
  try {
    if (Array.isArray(value)) return copyArray(value, path, depth, ancestors);
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const found = describeKind(value);
      const sentAs = value instanceof Map || value instanceof Set ? ' (JSON would send {})' : '';
      return new NotJsonData(path, 'a JSON value', `${found}${sentAs}`);
    }
    return copyObject(value as Record<string, unknown>, path, depth, ancestors);
  } finally {
    ancestors.pop();
  }
}

function copyArray(value: readonly unknown[], path: string, depth: number, ancestors: object[]): unknown {
  const copy: unknown[] = new Array<unknown>(value.length);
  for (let index = 0; index < value.length; index += 1) {
    const itemPath = `${path}[${index}]`;
    const item: unknown = value[index];
    if (item === undefined) return new NotJsonData(itemPath, 'a JSON value', 'undefined (JSON would send null)');
    const itemCopy = copyValue(item, itemPath, String(index), depth + 1, ancestors);
    if (itemCopy instanceof NotJsonData) return itemCopy;
    copy[index] = itemCopy;
  }
  return copy;
}

function copyObject(value: Record<string, unknown>, path: string, depth: number, ancestors: object[]): unknown {
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (isEnumerable.call(value, symbol)) return new NotJsonData(path, 'string keys only', `the symbol key ${String(symbol.description ?? '')} (JSON would drop it)`);
  }
  const copy: Record<string, unknown> = {};
  for (const key in value) {
    if (!hasOwn.call(value, key)) continue;
    const item = value[key];
    if (item === undefined) continue;
    const itemPath = `${path}${/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`;
    const itemCopy = copyValue(item, itemPath, key, depth + 1, ancestors);
    if (itemCopy instanceof NotJsonData) return itemCopy;
    if (key === '__proto__') {
      // An own key named `__proto__` (from JSON.parse) stays a key, never a prototype.
      Object.defineProperty(copy, key, { value: itemCopy, enumerable: true, writable: true, configurable: true });
    } else {
      copy[key] = itemCopy;
    }
  }
  return copy;
}
