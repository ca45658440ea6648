/** The copy of a hook's arguments an event carries, and why it is incomplete when it is. */
export type ArgsSnapshot = {
  readonly args: Record<string, unknown>;
  /** Set when some arguments could not be copied: the event is then failed with reason `payload`. */
  readonly error: string | null;
};

/** How many problems a snapshot error lists before it says "and N more". */
const MAX_PROBLEMS = 5;
/** Deeper than this, the JSON-safe copy stops (a record is never that deep; a cycle may be). */
const MAX_DEPTH = 100;

/**
 * Copies a hook's arguments, all but `uow`, so that later mutation by the app cannot change
 * what is sent. `structuredClone` first (keeps Dates, Maps, BigInts...); when that fails (a
 * function somewhere in the record, say) a JSON-safe copy that drops functions and symbols;
 * what even that cannot copy (cycles, throwing getters, BigInts) is left out and named, by
 * path only, in `error`. Never throws.
 *
 * @example
 * ```ts
 * const { args, error } = snapshotArgs({ identity, record, uow });
 * // args: { identity, record } deep-copied; error: null
 * ```
 * @internal
 */
export function snapshotArgs(input: unknown): ArgsSnapshot {
  if (input === null || input === undefined) {
    return { args: {}, error: null };
  }
  if (typeof input !== 'object') {
    return { args: {}, error: `Expected the hook arguments to be an object, got ${typeof input}` };
  }
  const problems: string[] = [];
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (key === 'uow') continue;
    try {
      picked[key] = (input as Record<string, unknown>)[key];
    } catch {
      problems.push(`args.${key}: reading it threw`);
    }
  }
  if (problems.length === 0) {
    let plain: unknown;
    try {
      plain = plainCopy(picked, 0);
    } catch {
      // A getter threw: the copies below read it again and name it.
      plain = NOT_PLAIN;
    }
    if (plain !== NOT_PLAIN) {
      return { args: plain as Record<string, unknown>, error: null };
    }
    try {
      return { args: structuredClone(picked), error: null };
    } catch {
      // Not structured-cloneable (functions, symbols, host objects): fall back to a JSON-safe copy.
    }
  }
  const args: Record<string, unknown> = {};
  const ancestors: { value: object; path: string }[] = [];
  for (const [key, value] of Object.entries(picked)) {
    const copy = jsonSafeCopy(value, `args.${key}`, ancestors, problems);
    if (copy !== undefined) args[key] = copy;
  }
  return { args, error: problems.length === 0 ? null : describeProblems(problems) };
}

/** Returned by {@link plainCopy} when the value holds anything but plain JSON-like data. */
const NOT_PLAIN: unique symbol = Symbol('not plain');

const hasOwn = Object.prototype.hasOwnProperty;

/** How deep the fast copy goes before it leaves the value to `structuredClone` (which handles cycles). */
const MAX_PLAIN_DEPTH = 64;

/**
 * The fast path: records are usually plain data (parsed JSON), which this copies several
 * times faster than `structuredClone` does. Anything else (Dates, Maps, class instances,
 * functions, BigInts, very deep or cyclic data) gives up with {@link NOT_PLAIN}. Own
 * enumerable getters are read, as `structuredClone` reads them; when the fast path gives up
 * after reading one, the slower copy reads it again.
 */
function plainCopy(value: unknown, depth: number): unknown {
  if (typeof value !== 'object') {
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === undefined
      ? value
      : NOT_PLAIN;
  }
  if (value === null) return null;
  if (depth >= MAX_PLAIN_DEPTH) return NOT_PLAIN;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return NOT_PLAIN;
    const copy: unknown[] = new Array<unknown>(value.length);
    for (let index = 0; index < value.length; index += 1) {
      const item = plainCopy(value[index], depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy[index] = item;
    }
    return copy;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  const copy: Record<string, unknown> = {};
  for (const key in value) {
    if (!hasOwn.call(value, key)) continue;
    // Assigning it would set the copy's prototype: `structuredClone` copies it as a key.
    if (key === '__proto__') return NOT_PLAIN;
    // Read as `structuredClone` reads (a getter's value is copied), without allocating a
    // property descriptor per key; a getter that throws ends the fast path.
    const item = plainCopy((value as Record<string, unknown>)[key], depth + 1);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = item;
  }
  return copy;
}

function describeProblems(problems: readonly string[]): string {
  const shown = problems.slice(0, MAX_PROBLEMS).join('; ');
  const more = problems.length > MAX_PROBLEMS ? `; and ${problems.length - MAX_PROBLEMS} more` : '';
  return `Could not copy the hook arguments: ${shown}${more}`;
}

/** A JSON-like deep copy; functions, symbols and `undefined` are dropped (`undefined` result). */
function jsonSafeCopy(
  value: unknown,
  path: string,
  ancestors: { value: object; path: string }[],
  problems: string[],
): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      problems.push(`${path}: a BigInt has no JSON form`);
      return undefined;
    default:
      break;
  }
  if (value === null) return null;
  const object = value as object;
  const ancestor = ancestors.find((entry) => entry.value === object);
  if (ancestor !== undefined) {
    problems.push(`${path}: circular reference to ${ancestor.path}`);
    return undefined;
  }
  if (ancestors.length >= MAX_DEPTH) {
    problems.push(`${path}: nested deeper than ${MAX_DEPTH} levels`);
    return undefined;
  }
  ancestors.push({ value: object, path });
  try {
    const toJSON = readKey(object, 'toJSON', path, problems);
    if (typeof toJSON === 'function') {
      let json: unknown;
      try {
        json = (toJSON as (this: object, key: string) => unknown).call(object, '');
      } catch {
        problems.push(`${path}: its toJSON() threw`);
        return undefined;
      }
      return json === object ? undefined : jsonSafeCopy(json, path, ancestors, problems);
    }
    if (Array.isArray(object)) {
      return object.map((item: unknown, index) => jsonSafeCopy(item, `${path}[${index}]`, ancestors, problems) ?? null);
    }
    if (object instanceof Map) {
      const copy: Record<string, unknown> = {};
      for (const [key, item] of object as Map<unknown, unknown>) {
        const itemCopy = jsonSafeCopy(item, `${path}.${String(key)}`, ancestors, problems);
        if (itemCopy !== undefined) copy[String(key)] = itemCopy;
      }
      return copy;
    }
    if (object instanceof Set) {
      return [...(object as Set<unknown>)].map(
        (item, index) => jsonSafeCopy(item, `${path}[${index}]`, ancestors, problems) ?? null,
      );
    }
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(object)) {
      const item = readKey(object, key, `${path}.${key}`, problems);
      const itemCopy = jsonSafeCopy(item, `${path}.${key}`, ancestors, problems);
      if (itemCopy !== undefined) copy[key] = itemCopy;
    }
    return copy;
  } finally {
    ancestors.pop();
  }
}

function readKey(object: object, key: string, path: string, problems: string[]): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    problems.push(`${path}: reading it threw`);
    return undefined;
  }
}
