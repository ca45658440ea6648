import { requiredArgumentsOf } from '../events/methodTables.js';
import type { MethodOf, ServiceType } from '../events/methodTables.js';

/**
 * What a hook call lacks of its method's required arguments (`undefined` or `null` where the
 * seed's table says the method passes a value), as one message naming each, e.g.
 * `delete_record: expected args.record, got undefined`; `null` when nothing is missing.
 * Reads the snapshot of the arguments, never the app's own objects.
 *
 * @example
 * ```ts
 * missingArguments('rdm_record', 'delete_record', { identity });
 * // 'delete_record: expected args.record, got undefined; expected args.data, got undefined'
 * ```
 * @internal
 */
export function missingArguments<S extends ServiceType>(service: S, method: MethodOf<S>, args: Readonly<Record<string, unknown>>): string | null {
  const missing: string[] = [];
  for (const name of requiredArgumentsOf(service, method)) {
    const value = args[name];
    if (value === undefined || value === null) missing.push(`expected args.${name}, got ${String(value)}`);
  }
  return missing.length === 0 ? null : `${method}: ${missing.join('; ')}`;
}
