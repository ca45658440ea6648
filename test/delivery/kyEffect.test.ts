import type { ServerResponse } from 'node:http';
import { firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NetworkError, TimeoutError, createKyEffect, type KyEffectOptions } from '../../src/index.js';
import { answerJson, startReceiver, type RecordedRequest, type Receiver } from '../helpers/receiver.js';
import { deliveryRequest } from '../helpers/factories.js';

type Route = (request: RecordedRequest, response: ServerResponse, raw: import('node:http').IncomingMessage) => void;

const MIB = 1024 * 1024;
const routes = new Map<string, Route>();
/** What the server saw happen to responses: `closed <path>` when the client went away early. */
const serverLog: string[] = [];
let server: Receiver;

beforeAll(async () => {
  server = await startReceiver((request, response, raw) => {
    const route = routes.get(request.path.split('?')[0] ?? '');
    if (route === undefined) return answerJson(response, 404, { error: `no route ${request.path}` });
    route(request, response, raw);
  });
  routes.set('/ok', (_, response) => answerJson(response, 200, { id: 'remote-1', status: 'indexed' }, { 'x-trace': 'abc' }));
  routes.set('/created', (_, response) => answerJson(response, 201, { id: 'remote-2' }));
  routes.set('/no-content', (_, response) => {
    response.writeHead(204);
    response.end();
  });
  routes.set('/moved', (_, response) => answerJson(response, 301, { moved: true }, { location: '/ok' }));
  routes.set('/text', (_, response) => {
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    response.end('indexed ✓');
  });
  routes.set('/bad-json', (_, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"id": "remote-3",');
  });
  routes.set('/problem', (_, response) => {
    response.writeHead(422, { 'content-type': 'application/problem+json' });
    response.end(JSON.stringify({ title: 'Unprocessable' }));
  });
  routes.set('/empty-json', (_, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
    response.end();
  });
  routes.set('/echo', (request, response) => answerJson(response, 200, request));
  routes.set('/hang', (request, response) => {
    response.on('close', () => serverLog.push(`closed ${request.path}`));
  });
  routes.set('/slow-body', (request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"partial":');
    response.on('close', () => serverLog.push(`closed ${request.path}`));
  });
  routes.set('/reset', (_, __, raw) => raw.socket.destroy());
  routes.set('/big', (request, response) => {
    const size = 5 * MIB;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(size) });
    response.on('close', () => serverLog.push(`${request.path} wrote ${written} finished ${String(response.writableFinished)}`));
    // Paced like a slow server, so that socket buffers cannot take the whole body at once.
    const pump = (): void => {
      if (response.destroyed) return;
      if (written >= size) return void response.end();
      written += chunk.length;
      const next = (): void => void setTimeout(pump, 2);
      if (response.write(chunk)) next();
      else response.once('drain', next);
    };
    pump();
  });
});

afterAll(async () => {
  await server.close();
});

afterEach(() => {
  serverLog.length = 0;
});

const fetches: [string, KyEffectOptions][] = [
  ['the lean fetch (default)', {}],
  ['the global fetch', { fetch: (input, init) => fetch(input, init) }],
];

describe.each(fetches)('createKyEffect over %s', (_, fetchOptions) => {
  const effect = createKyEffect({ ...fetchOptions, timeoutMs: 2_000 });
  afterAll(async () => {
    await effect.close();
  });

  it('emits a 200 JSON response with its body parsed and headers as a lower-case record', async () => {
    const request = deliveryRequest(server.url('/ok'));
    const response = await firstValueFrom(effect(request));
    expect(response).toMatchObject({
      status: 200,
      body: { id: 'remote-1', status: 'indexed' },
      url: request.url,
      headers: { 'content-type': 'application/json', 'x-trace': 'abc' },
    });
    expect(response.bodyTruncated).toBeUndefined();
  });

  it('emits 201 and 204 responses (204 with a null body)', async () => {
    expect(await firstValueFrom(effect(deliveryRequest(server.url('/created'))))).toMatchObject({ status: 201, body: { id: 'remote-2' } });
    expect(await firstValueFrom(effect(deliveryRequest(server.url('/no-content'))))).toMatchObject({ status: 204, body: null });
  });

  it('sends the exact body string, the method and the headers as given', async () => {
    const body = '{ "title" : "Ünïcode ✓",   "n": 1.50 }';
    const request = deliveryRequest(server.url('/echo'), { method: 'PUT', body });
    const response = await firstValueFrom(effect(request));
    const seen = response.body as RecordedRequest;
    expect(seen.method).toBe('PUT');
    expect(seen.body).toBe(body);
    expect(seen.headers).toMatchObject({
      'content-type': 'application/json',
      'idempotency-key': request.deliveryId,
      authorization: 'Bearer s3cret-token',
    });
  });

  it('sends no body for a request without one', async () => {
    const response = await firstValueFrom(effect(deliveryRequest(server.url('/echo'), { method: 'DELETE', payload: null })));
    expect(response.body).toMatchObject({ method: 'DELETE', body: '' });
  });

  it('does not follow a 301: it emits the redirect itself', async () => {
    const before = server.requests.length;
    const response = await firstValueFrom(effect(deliveryRequest(server.url('/moved'))));
    expect(response).toMatchObject({ status: 301, headers: { location: '/ok' } });
    expect(server.requests.slice(before).map((request) => request.path)).toEqual(['/moved']);
  });

  it('emits error statuses as responses (the retry policy classifies them)', async () => {
    const response = await firstValueFrom(effect(deliveryRequest(server.url('/problem'))));
    expect(response).toMatchObject({ status: 422, body: { title: 'Unprocessable' } });
  });

  it('keeps text bodies as text, invalid JSON as its text, and an empty body as null', async () => {
    expect((await firstValueFrom(effect(deliveryRequest(server.url('/text'))))).body).toBe('indexed ✓');
    expect((await firstValueFrom(effect(deliveryRequest(server.url('/bad-json'))))).body).toBe('{"id": "remote-3",');
    expect((await firstValueFrom(effect(deliveryRequest(server.url('/empty-json'))))).body).toBeNull();
  });

  it('errors with a TimeoutError when no response comes within the timeout, and drops the request', async () => {
    const request = deliveryRequest(server.url('/hang'), { timeoutMs: 150 });
    const error: unknown = await firstValueFrom(effect(request)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/within 150 ms/);
    await expect.poll(() => serverLog).toContain('closed /hang');
  });

  it('counts the body in the timeout: a body that stalls is a TimeoutError too', async () => {
    const error: unknown = await firstValueFrom(effect(deliveryRequest(server.url('/slow-body'), { timeoutMs: 200 }))).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    await expect.poll(() => serverLog).toContain('closed /slow-body');
  });

  it('errors with a NetworkError when the connection is reset, without the request headers in the message', async () => {
    const error: unknown = await firstValueFrom(effect(deliveryRequest(server.url('/reset')))).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toContain(`POST ${server.url('/reset')}`);
    expect((error as Error).message).not.toContain('s3cret-token');
    expect(JSON.stringify(error)).not.toContain('s3cret-token');
  });

  it('errors with a NetworkError when nothing listens', async () => {
    const closed = await startReceiver(() => undefined);
    const url = closed.url('/ok');
    await closed.close();
    const error: unknown = await firstValueFrom(effect(deliveryRequest(url))).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NetworkError);
  });

  it('reads a 5 MiB body only up to the cap, then drops the connection', async () => {
    const capped = createKyEffect({ ...fetchOptions, maxResponseBytes: MIB });
    const response = await firstValueFrom(capped(deliveryRequest(server.url('/big'))));
    await capped.close();
    expect(response.status).toBe(200);
    expect(response.bodyTruncated).toBe(true);
    expect(typeof response.body).toBe('string');
    expect((response.body as string).length).toBe(MIB);
    // The server never got to finish writing: the client stopped reading and closed.
    await expect.poll(() => serverLog.find((line) => line.startsWith('/big'))).toMatch(/finished false$/);
    const written = Number(/wrote (\d+)/.exec(serverLog.find((line) => line.startsWith('/big')) ?? '')?.[1]);
    expect(written).toBeLessThan(5 * MIB);
  });

  it('aborts the request when unsubscribed', async () => {
    const path = `/hang?abort=${Math.random()}`;
    const subscription = effect(deliveryRequest(server.url(path), { timeoutMs: 5_000 })).subscribe();
    await expect.poll(() => server.requests.some((request) => request.path === path)).toBe(true);
    subscription.unsubscribe();
    await expect.poll(() => serverLog).toContain(`closed ${path}`);
  });

  it('sends anew on every subscription', async () => {
    const before = server.requests.length;
    const once = effect(deliveryRequest(server.url('/ok')));
    await firstValueFrom(once);
    await firstValueFrom(once);
    expect(server.requests.length - before).toBe(2);
  });
});

describe('createKyEffect connections', () => {
  it('reuses a keep-alive connection across requests', async () => {
    const sockets: (number | undefined)[] = [];
    const local = await startReceiver((_, response, raw) => {
      sockets.push(raw.socket.remotePort);
      answerJson(response, 200, { ok: true });
    });
    const effect = createKyEffect();
    const statuses: number[] = [];
    for (const path of ['/a', '/b', '/c']) {
      statuses.push((await firstValueFrom(effect(deliveryRequest(local.url(path))))).status);
      // The pool hears that the socket is free on the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await effect.close();
    await local.close();
    expect(statuses).toEqual([200, 200, 200]);
    expect(new Set(sockets).size).toBe(1);
  });
});
