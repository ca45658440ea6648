import { firstValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { toRequests } from '../../src/operators/toRequests.js';
import type { JsonObject, ProvisionerConfig, RequestDescriptor } from '../../src/index.js';
import { serviceEvent } from '../helpers/factories.js';

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

  it('is what its JSON text reads back as for values JSON states explicitly (toJSON, dates, -0, undefined properties)', async () => {
    const when = new Date('2026-03-02T10:00:00Z');
    const returned = {
      when,
      gone: undefined,
      list: [1, -0],
      custom: { toJSON: () => 'custom text' },
    };
    const request = await requestFor(returned);
    expect(request.body).toBe('{"when":"2026-03-02T10:00:00.000Z","list":[1,0],"custom":"custom text"}');
    expect(request.payload).toEqual({ when: '2026-03-02T10:00:00.000Z', list: [1, 0], custom: 'custom text' });
    expect(Object.is((request.payload?.['list'] as unknown[])[1], 0)).toBe(true);
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

/** The failure of the plan for one publish event whose payload function returns `payload`. */
async function failureFor(payload: unknown): Promise<{ readonly reason: string; readonly message: string }> {
  const config: ProvisionerConfig = { rdm_record: { [SEARCH]: { publish: { http_method: 'POST', payload: () => payload as JsonObject } } } };
  const plan = await firstValueFrom(of(serviceEvent({ method: 'publish' })).pipe(toRequests(config)));
  if (plan.kind !== 'failed') throw new Error(`Expected a failed plan, got ${plan.kind}`);
  expect(plan.request).toBeNull();
  expect(plan.attempts).toBe(0);
  return { reason: plan.reason, message: plan.error.message };
}

describe('toRequests: a payload that JSON would change or drop fails, naming the value', () => {
  const cycle: Record<string, unknown> = { id: 'x' };
  cycle['self'] = cycle;
  class Tag {
    constructor(readonly name: string) {}
  }
  const secret = Symbol('secret');
  it.each<[string, unknown, string]>([
    ['a Map, sent as {}', { id: 'x', tags: new Map([['a', 1]]) }, 'payload.tags: expected a JSON value, got a Map'],
    ['a Set, sent as {}', { id: 'x', meta: { subjects: new Set(['a']) } }, 'payload.meta.subjects: expected a JSON value, got a Set'],
    ['a function, dropped', { id: 'x', render: () => 'x' }, 'payload.render: expected a JSON value, got a function'],
    ['a symbol value, dropped', { id: 'x', kind: Symbol('k') }, 'payload.kind: expected a JSON value, got a symbol'],
    ['a symbol key, dropped', { id: 'x', [secret]: 'hidden' }, 'payload: expected string keys only, got the symbol key secret'],
    ['NaN, sent as null', { id: 'x', score: Number.NaN }, 'payload.score: expected a JSON value, got NaN'],
    ['Infinity, sent as null', { id: 'x', list: [1, Number.POSITIVE_INFINITY] }, 'payload.list[1]: expected a JSON value, got Infinity'],
    ['undefined in an array, sent as null', { id: 'x', list: [1, undefined] }, 'payload.list[1]: expected a JSON value, got undefined'],
    ['a BigInt, not serializable', { id: 'x', size: 10n }, 'payload.size: expected a JSON value, got a BigInt'],
    ['a class instance', { id: 'x', 'kcr:tag': new Tag('a') }, 'payload["kcr:tag"]: expected a JSON value, got an instance of Tag'],
    ['a cycle', cycle, 'payload.self: expected a JSON value, got a circular reference'],
    ['a toJSON that throws', { id: 'x', dates: [{ toJSON: () => { throw new Error('no date'); } }] }, 'payload.dates[0]: expected a JSON value, got a value whose toJSON threw (no date)'],
  ])('%s', async (_name, payload, expected) => {
    const failure = await failureFor(payload);
    expect(failure.reason).toBe('payload');
    expect(failure.message).toContain(expected);
    expect(failure.message).toContain('rdm_record["https://search.example.org/api/v1/documents"].publish');
  });

  it('fails with reason payload when a getter of the payload throws', async () => {
    const payload = Object.defineProperty({ id: 'x' }, 'title', {
      enumerable: true,
      get: () => {
        throw new Error('title unavailable');
      },
    });
    const failure = await failureFor(payload);
    expect(failure).toEqual({ reason: 'payload', message: expect.stringContaining('serializing it failed: title unavailable') as unknown });
  });

  it('names the value in a static payload of the config too', async () => {
    const config = { rdm_record: { [SEARCH]: { publish: { http_method: 'POST', payload: { id: 'x', score: Number.NaN } } } } } as unknown as ProvisionerConfig;
    const plan = await firstValueFrom(of(serviceEvent({ method: 'publish' })).pipe(toRequests(config)));
    expect(plan.kind === 'failed' ? plan.error.message : plan.kind).toContain('payload.score: expected a JSON value, got NaN');
  });
});
