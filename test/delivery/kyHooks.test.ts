import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, createKyEffect, createProvisioner, createUnitOfWork, defineConfig, type DeliveryOutcome, type KyClientOptions } from '../../src/index.js';
import { answerJson, startReceiver, type Receiver } from '../helpers/receiver.js';
import { deliveryRequest, identity, type RdmRecord, rdmRecord } from '../helpers/factories.js';

type Fixture = RdmRecord;
const record = rdmRecord();

let server: Receiver;
/** Status per path; 503 the first time for /flaky. */
let flakyCalls = 0;

beforeAll(async () => {
  server = await startReceiver((request, response) => {
    if (request.path === '/flaky') {
      flakyCalls += 1;
      return answerJson(response, flakyCalls === 1 ? 503 : 200, { call: flakyCalls });
    }
    if (request.path === '/gone') return answerJson(response, 410, { gone: true });
    answerJson(response, 200, { headers: request.headers, body: request.body });
  });
});

beforeEach(() => {
  flakyCalls = 0;
});

afterAll(async () => {
  await server.close();
});

const lastRequest = () => server.requests[server.requests.length - 1];

describe('createKyEffect with the ky options of a user', () => {
  it('runs a beforeRequest hook on every request: the header it sets reaches the receiver', async () => {
    const seen: string[] = [];
    const effect = createKyEffect({
      ky: {
        hooks: {
          beforeRequest: [
            ({ request }) => {
              seen.push(request.method);
              request.headers.set('x-request-source', 'records-app');
            },
          ],
        },
      },
    });
    try {
      for (const path of ['/a', '/b']) {
        const response = await firstValueFrom(effect(deliveryRequest(server.url(path))));
        expect(response.status).toBe(200);
        expect(lastRequest()?.headers['x-request-source']).toBe('records-app');
        // The request's own headers are still sent alongside.
        expect(lastRequest()?.headers['idempotency-key']).toMatch(/^delivery-/);
        expect(lastRequest()?.headers['authorization']).toBe('Bearer s3cret-token');
      }
      expect(seen).toEqual(['POST', 'POST']);
    } finally {
      await effect.close();
    }
  });

  it.each([
    ['the lean fetch (default)', {}],
    ['the global fetch', { fetch: (input: Request, init?: RequestInit) => fetch(input, init) }],
  ])('shows a beforeRequest hook the request\'s headers, ky defaults included, and sends what the hook changed (over %s)', async (_, fetchOptions) => {
    const seen: (string | null)[][] = [];
    const effect = createKyEffect({
      ...fetchOptions,
      ky: {
        headers: { 'User-Agent': 'records-app/1.4' },
        hooks: {
          beforeRequest: [
            ({ request }) => {
              seen.push([request.headers.get('content-type'), request.headers.get('user-agent'), request.headers.get('idempotency-key')]);
              request.headers.set('user-agent', 'records-app/1.5');
              request.headers.delete('x-trace');
            },
            ({ request }) => {
              // A later hook sees what the earlier one did.
              seen.push([request.headers.get('user-agent')]);
            },
          ],
        },
      },
    });
    try {
      const base = deliveryRequest(server.url('/seen'));
      const request = { ...base, headers: { ...base.headers, 'X-Trace': 'abc' } };
      await firstValueFrom(effect(request));
      expect(seen).toEqual([['application/json', 'records-app/1.4', request.deliveryId], ['records-app/1.5']]);
      expect(lastRequest()?.headers['user-agent']).toBe('records-app/1.5');
      expect(lastRequest()?.headers['x-trace']).toBeUndefined();
      expect(lastRequest()?.headers['idempotency-key']).toBe(request.deliveryId);
    } finally {
      await effect.close();
    }
  });

  it('sends the body of a Request that a beforeRequest hook puts in place of ky\'s', async () => {
    const effect = createKyEffect({
      ky: { hooks: { beforeRequest: [({ request }) => new Request(request, { body: '{"replaced":true}' })] } },
    });
    try {
      await firstValueFrom(effect(deliveryRequest(server.url('/replace'))));
      expect(lastRequest()?.body).toBe('{"replaced":true}');
    } finally {
      await effect.close();
    }
  });

  it('runs afterResponse hooks with every response, whatever its status, and still reads the body', async () => {
    const statuses: number[] = [];
    const hookBodies: unknown[] = [];
    const effect = createKyEffect({
      ky: {
        hooks: {
          afterResponse: [
            async ({ response }) => {
              statuses.push(response.status);
              hookBodies.push(await response.json());
            },
          ],
        },
      },
    });
    try {
      const gone = await firstValueFrom(effect(deliveryRequest(server.url('/gone'))));
      const ok = await firstValueFrom(effect(deliveryRequest(server.url('/ok'))));
      expect(statuses).toEqual([410, 200]);
      expect(gone.body).toEqual({ gone: true });
      expect(hookBodies[0]).toEqual({ gone: true });
      expect(ok.status).toBe(200);
      expect(JSON.parse((ok.body as { body: string }).body)).toHaveProperty('id');
    } finally {
      await effect.close();
    }
  });

  it('shows afterResponse and beforeError hooks the headers that were sent, without a beforeRequest hook', async () => {
    const afterResponse: Record<string, string>[] = [];
    const beforeError: Record<string, string>[] = [];
    const effect = createKyEffect({
      ky: {
        headers: { 'User-Agent': 'records-app/1.4' },
        hooks: {
          afterResponse: [({ request }) => void afterResponse.push(Object.fromEntries(request.headers))],
          beforeError: [({ error, request }) => (beforeError.push(Object.fromEntries(request.headers)), error)],
        },
      },
    });
    const closedServer = await startReceiver(() => undefined);
    const refused = closedServer.url('/refused');
    await closedServer.close();
    try {
      const request = deliveryRequest(server.url('/seen'));
      await firstValueFrom(effect(request));
      const sent = lastRequest()?.headers ?? {};
      expect(afterResponse).toHaveLength(1);
      for (const name of ['user-agent', 'idempotency-key', 'content-type']) expect(afterResponse[0]?.[name]).toBe(sent[name]);
      expect(afterResponse[0]?.['user-agent']).toBe('records-app/1.4');
      expect(afterResponse[0]?.['idempotency-key']).toBe(request.deliveryId);

      await expect(firstValueFrom(effect(deliveryRequest(refused)))).rejects.toMatchObject({ name: 'NetworkError' });
      expect(beforeError).toHaveLength(1);
      expect(beforeError[0]?.['user-agent']).toBe('records-app/1.4');
    } finally {
      await effect.close();
    }
  });

  it('uses ky headers as defaults under the request\'s own', async () => {
    const effect = createKyEffect({ ky: { headers: { 'User-Agent': 'records-app/1.4', 'Idempotency-Key': 'not-this-one' } } });
    try {
      const request = deliveryRequest(server.url('/defaults'));
      await firstValueFrom(effect(request));
      expect(lastRequest()?.headers['user-agent']).toBe('records-app/1.4');
      expect(lastRequest()?.headers['idempotency-key']).toBe(request.deliveryId);
    } finally {
      await effect.close();
    }
  });

  it('runs beforeError hooks for a network error, whose error is still a NetworkError of the pipeline', async () => {
    const hookErrors: string[] = [];
    const effect = createKyEffect({ ky: { hooks: { beforeError: [({ error }) => (hookErrors.push(error.message), error)] } } });
    // A port that was just free: connecting to it is refused.
    const closedServer = await startReceiver(() => undefined);
    const url = closedServer.url('/refused');
    await closedServer.close();
    try {
      await expect(firstValueFrom(effect(deliveryRequest(url)))).rejects.toMatchObject({ name: 'NetworkError' });
      expect(hookErrors).toHaveLength(1);
    } finally {
      await effect.close();
    }
  });
});

describe('createProvisioner({ http: { ky } })', () => {
  const configFor = (endpoint: string) =>
    defineConfig<Fixture>({
      rdm_record: { [endpoint]: { publish: { http_method: 'POST', payload: ({ record: published }) => ({ id: published?.id ?? null }) } } },
    });

  it('applies the hooks to every delivery, retries included: the receiver sees the header, afterResponse sees each status', async () => {
    const statuses: number[] = [];
    const ky: KyClientOptions = {
      hooks: {
        beforeRequest: [({ request }) => void request.headers.set('x-tenant', 'library-a')],
        afterResponse: [({ response }) => void statuses.push(response.status)],
      },
    };
    const provisioner = createProvisioner<Fixture>({ events: configFor(server.url('/flaky')), http: { ky, retry: { baseDelayMs: 1, maxDelayMs: 5 } } });
    const outcomes: DeliveryOutcome<Fixture>[] = [];
    provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    const uow = createUnitOfWork();
    provisioner.hooks('rdm_record').publish({ identity, record, draft: record, uow });
    uow.commit();
    await provisioner.drain();
    await provisioner.close();
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['delivered']);
    expect(statuses).toEqual([503, 200]);
    const flaky = server.requests.filter((request) => request.path === '/flaky');
    expect(flaky.map((request) => request.headers['x-tenant'])).toEqual(['library-a', 'library-a']);
  });

  it('refuses ky options it cannot apply, saying what was expected', () => {
    const events = configFor(server.url('/x'));
    const attempt = (ky: unknown, extra: object = {}) => () => createProvisioner<Fixture>({ events, http: { ky: ky as KyClientOptions, ...extra } });
    expect(attempt({ hooks: { beforeRequest: ['nope'] } })).toThrow(ConfigError);
    expect(attempt({ hooks: { beforeRequest: ['nope'] } })).toThrow(/http\.ky\.hooks\.beforeRequest: expected an array of functions/);
    expect(attempt({ hooks: { beforeRetry: [() => undefined] } })).toThrow(/http\.ky\.hooks\.beforeRetry: expected one of beforeRequest, afterResponse, beforeError/);
    expect(attempt({ headers: { authorization: 42 } })).toThrow(/http\.ky\.headers\["authorization"\]: expected a string, got number/);
    expect(attempt({ headers: {} }, { effect: () => undefined })).toThrow(/http\.ky: expected no ky options next to http\.effect/);
  });
});
