/**
 * Request descriptors for the delivery tests, with a payload made from the shared record
 * fixture, serialized once (as the pipeline does).
 *
 * @internal test helper
 */
import { readFileSync } from 'node:fs';
import type { JsonObject, RequestDescriptor } from '../../src/index.js';

const record = JSON.parse(readFileSync(new URL('../fixtures/rdm-record.json', import.meta.url), 'utf8')) as {
  id: string;
  metadata: { title: string };
};

/** The document a search service would index for the fixture record. */
export const recordDocument: JsonObject = { id: record.id, title: record.metadata.title, kind: 'rdm_record' };

let sequence = 0;

/** A POST of {@link recordDocument} to `url`, with fresh delivery id unless given. */
export function deliveryRequest(url: string, overrides: Partial<RequestDescriptor> = {}): RequestDescriptor {
  sequence += 1;
  const deliveryId = overrides.deliveryId ?? `delivery-${sequence}`;
  const payload = overrides.payload === undefined ? recordDocument : overrides.payload;
  const body = overrides.body === undefined ? (payload === null ? null : JSON.stringify(payload)) : overrides.body;
  return {
    deliveryId,
    eventId: `event-${sequence}`,
    serviceType: 'rdm_record',
    serviceMethod: 'publish',
    endpoint: url,
    url,
    method: 'POST',
    headers: {
      ...(body === null ? {} : { 'content-type': 'application/json' }),
      'idempotency-key': deliveryId,
      authorization: 'Bearer s3cret-token',
    },
    payload,
    body,
    recordId: record.id,
    draftId: null,
    ...overrides,
  };
}
