import { firstValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { toRequests } from '../../src/operators/toRequests.js';
import type { JsonObject, ProvisionerConfig, RequestDescriptor } from '../../src/index.js';
import { serviceEvent } from './serviceEvents.js';

const SEARCH = 'https://search.example.org/api/v1/documents';

/** The request planned for one publish event whose payload function returns `payload`. */
async function requestFor(payload: unknown): Promise<RequestDescriptor> {
  const config: ProvisionerConfig = { rdm_record: { [SEARCH]: { publish: { http_method: 'POST', payload: () => payload as JsonObject } } } };
  const plan = await firstValueFrom(of(serviceEvent({ method: 'publish' })).pipe(toRequests(config)));
  if (plan.kind !== 'request') throw new Error(`Expected a request, got ${plan.kind}`);
  return plan.request;
}

describe('toRequests: the payload of a request is what was sent', () => {
  it('is a copy of plain JSON data, detached from the object the payload function returned', async () => {
    const returned = { id: 'q1k7x-8mz42', titles: [{ title: 'A Romans Story' }], count: 3, open: true, none: null };
    const request = await requestFor(returned);
    returned.titles[0]!.title = 'changed by the app afterwards';
    returned.count = 4;
    expect(request.payload).toEqual({ id: 'q1k7x-8mz42', titles: [{ title: 'A Romans Story' }], count: 3, open: true, none: null });
    expect(request.payload).not.toBe(returned);
    expect(JSON.parse(request.body ?? 'null')).toEqual(request.payload);
  });

  it('is what its JSON text reads back as when the data is not plain JSON (dates, undefined, -0, NaN, toJSON)', async () => {
    const when = new Date('2026-03-02T10:00:00Z');
    const returned = {
      when,
      gone: undefined,
      list: [1, undefined, -0, Number.NaN],
      custom: { toJSON: () => 'custom text' },
    };
    const request = await requestFor(returned);
    expect(request.body).toBe('{"when":"2026-03-02T10:00:00.000Z","list":[1,null,0,null],"custom":"custom text"}');
    expect(request.payload).toEqual({ when: '2026-03-02T10:00:00.000Z', list: [1, null, 0, null], custom: 'custom text' });
    expect(Object.is((request.payload?.['list'] as unknown[])[2], 0)).toBe(true);
  });

  it('keeps a "__proto__" key as a key', async () => {
    const returned = JSON.parse('{"__proto__": {"polluted": true}, "id": "x"}') as JsonObject;
    const request = await requestFor(returned);
    expect(Object.getPrototypeOf(request.payload)).toBe(Object.prototype);
    expect(Object.keys(request.payload ?? {})).toEqual(['__proto__', 'id']);
    expect(request.body).toBe('{"__proto__":{"polluted":true},"id":"x"}');
  });

  it('reads a getter once', async () => {
    let reads = 0;
    const returned = Object.defineProperty({ id: 'x' }, 'title', {
      enumerable: true,
      get: () => {
        reads += 1;
        return `read ${reads}`;
      },
    });
    const request = await requestFor(returned);
    expect(reads).toBe(1);
    expect(request.payload).toEqual({ id: 'x', title: 'read 1' });
    expect(request.body).toBe('{"id":"x","title":"read 1"}');
  });
});
