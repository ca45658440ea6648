import { lastValueFrom, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { defineConfig, toRequests } from '../../src/index.js';
import { deliveryIdOf, endpointIdOf } from '../../src/events/deliveryId.js';
import { publishEvent } from '../helpers/factories.js';

const SEARCH = 'https://search.example.org/api/v1/documents';
const AUDIT = 'https://audit.example.org/hooks';

describe('deliveryIdOf', () => {
  it('gives the delivery id toRequests puts on the request (and its Idempotency-Key), for every endpoint', async () => {
    const config = defineConfig({
      rdm_record: {
        [SEARCH]: { publish: { http_method: 'POST', payload: ({ record }) => ({ id: String(record?.id) }) } },
        [AUDIT]: { publish: { http_method: 'PUT', payload: { seen: true } } },
      },
    });
    const event = publishEvent('q1k7x-8mz42', 6);
    const plans = await lastValueFrom(of(event).pipe(toRequests(config), toArray()));
    const requests = plans.flatMap((plan) => (plan.kind === 'request' ? [plan.request] : []));
    expect(requests.map((request) => [request.endpoint, request.deliveryId, request.headers['Idempotency-Key']])).toEqual(
      [SEARCH, AUDIT].map((endpoint) => [endpoint, deliveryIdOf(event.eventId, endpoint), deliveryIdOf(event.eventId, endpoint)]),
    );
  });

  it('is `<event id>.<12 url-safe characters of the endpoint>`, the same for the same endpoint', () => {
    expect(endpointIdOf(SEARCH)).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(endpointIdOf(SEARCH)).toBe(endpointIdOf(`${SEARCH}`));
    expect(endpointIdOf(SEARCH)).not.toBe(endpointIdOf(AUDIT));
    expect(deliveryIdOf('abc-1', SEARCH)).toBe(`abc-1.${endpointIdOf(SEARCH)}`);
  });
});
