/**
 * The ordering key of a delivery: deliveries with the same key go out one at a time, in
 * event order. It is the endpoint plus the record id (or the draft id, or for events without
 * either, the event id, which orders nothing).
 *
 * @example
 * ```ts
 * deliveryKey({ endpoint: 'https://search.example.org/api/v1/documents', recordId: 'q1k7x-8mz42', draftId: null, eventId: 'e1' });
 * // 'https://search.example.org/api/v1/documents q1k7x-8mz42'
 * ```
 */
export function deliveryKey(target: {
  readonly endpoint: string;
  readonly recordId: string | null;
  readonly draftId: string | null;
  readonly eventId: string;
}): string {
  return `${target.endpoint} ${target.recordId ?? target.draftId ?? target.eventId}`;
}
