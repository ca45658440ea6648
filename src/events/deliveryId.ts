import { createHash } from 'node:crypto';

const endpointIds = new Map<string, string>();
/** Endpoints are few (the config's keys); the cache never grows past them in practice. */
const MAX_CACHED_ENDPOINTS = 1_024;

/**
 * The short, stable id of an endpoint in delivery ids: the first 12 base64url characters of
 * the SHA-256 of the endpoint key.
 *
 * @example
 * ```ts
 * endpointIdOf('https://search.example.org/api/v1/documents'); // 12 characters, the same in every process
 * ```
 */
export function endpointIdOf(endpoint: string): string {
  let id = endpointIds.get(endpoint);
  if (id === undefined) {
    id = createHash('sha256').update(endpoint).digest('base64url').slice(0, 12);
    if (endpointIds.size >= MAX_CACHED_ENDPOINTS) endpointIds.clear();
    endpointIds.set(endpoint, id);
  }
  return id;
}

/**
 * The delivery id of an (event, endpoint) pair, as `toRequests` gives it to the request
 * (`<eventId>.<endpoint id>`): stores know it from the moment the event is journaled, so a
 * resumed or replayed delivery is sent with the id it was first sent with.
 *
 * @example
 * ```ts
 * deliveryIdOf(event.eventId, 'https://search.example.org/api/v1/documents'); // 'q3X9fKa0Lm2Z-1.<12 chars>'
 * ```
 */
export function deliveryIdOf(eventId: string, endpoint: string): string {
  return `${eventId}.${endpointIdOf(endpoint)}`;
}
