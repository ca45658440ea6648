/**
 * How planning messages name the config entry and the record they are about.
 * @internal
 * @packageDocumentation
 */
import type { ServiceEvent } from '../events/serviceEvent.js';
import { redactUrl } from '../util/redact.js';

/**
 * `rdm_record["https://…"].publish`, with credentials and secret-looking query values of the
 * endpoint redacted.
 *
 * @example
 * ```ts
 * configPath('rdm_record', 'https://x.org/api?token=t', 'publish');
 * // 'rdm_record["https://x.org/api?token=%5Bredacted%5D"].publish'
 * ```
 * @internal
 */
export function configPath(serviceType: string, endpoint: string, method: string): string {
  return `${serviceType}[${JSON.stringify(redactUrl(endpoint))}].${method}`;
}

/**
 * What an event is about, for messages: `record q1k7x`, `community c1`, `draft d1` or
 * `event e1`.
 *
 * @example
 * ```ts
 * describeSubject(event); // 'record q1k7x-8mz42'
 * ```
 * @internal
 */
export function describeSubject<R>(event: ServiceEvent<R>): string {
  const noun = event.serviceType === 'community' ? 'community' : 'record';
  if (event.recordId !== null) return `${noun} ${event.recordId}`;
  if (event.draftId !== null) return `draft ${event.draftId}`;
  return `event ${event.eventId}`;
}

/**
 * A sentence start made a sentence middle: `The payload…` → `the payload…`.
 *
 * @example
 * ```ts
 * lowerFirst('The payload function'); // 'the payload function'
 * ```
 * @internal
 */
export function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
