/**
 * The Python original's loop guard, `timing_field`: a record updated less than 5 s ago (by
 * the timestamp it keeps in `custom_fields[timing_field]`) is taken for a callback's
 * write-back and not sent.
 * @internal
 * @packageDocumentation
 */
import type { ServiceEvent } from '../events/serviceEvent.js';

/**
 * How recent a `timing_field` timestamp must be for the event to be skipped, as in the original.
 *
 * @example
 * ```ts
 * const skip = now - stampedAt < TIMING_FIELD_WINDOW_MS;
 * ```
 * @internal
 */
export const TIMING_FIELD_WINDOW_MS = 5_000;

/** Epoch numbers below this are seconds (1e11 s is the year 5138; 1e11 ms is 1973). */
const SECONDS_BELOW = 1e11;

/**
 * Why the event is taken for a write-back (`custom_fields.<field> is 1.2 s old...`), or
 * `null` when the record's timestamp is older than 5 s, absent or unreadable (then the event
 * is planned as usual). The timestamp is an ISO string or epoch milliseconds or seconds.
 *
 * @example
 * ```ts
 * const recent = recentWriteBack(event, 'kcr:commons_search_updated', scheduler.now());
 * if (recent !== null) return skippedPlan(event, endpoint, 'feedback-loop', now, recent);
 * ```
 * @internal
 */
export function recentWriteBack<R>(event: ServiceEvent<R>, field: string, now: number): string | null {
  const args = event.args as Readonly<Record<string, unknown>>;
  for (const name of ['record', 'draft'] as const) {
    const customFields = fieldOf(args[name], 'custom_fields');
    const at = timestampOf(fieldOf(customFields, field));
    if (at === null) continue;
    const ageMs = now - at;
    if (ageMs >= TIMING_FIELD_WINDOW_MS) return null;
    return `${name}.custom_fields[${JSON.stringify(field)}] is ${(ageMs / 1000).toFixed(1)} s old, less than ${TIMING_FIELD_WINDOW_MS / 1000} s (timing_field)`;
  }
  return null;
}

function fieldOf(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Readonly<Record<string, unknown>>)[key] : undefined;
}

function timestampOf(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? (value < SECONDS_BELOW ? value * 1000 : value) : null;
  if (typeof value !== 'string' || value.trim() === '') return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return timestampOf(Number(value));
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : at;
}
