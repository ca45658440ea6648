import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLeanFetch } from '../../src/delivery/leanFetch.js';
import { readBodyBounded } from '../../src/delivery/leanResponse.js';
import { answerJson, startReceiver, type Receiver } from '../helpers/receiver.js';

let server: Receiver;
/** Bytes of the /big body: far more than the 64 KiB a response buffers before its socket pauses. */
const BIG = 2 * 1024 * 1024;
/** A body whose every byte says where it is (its offset modulo 251), so that order shows. */
const bigBody = (): Buffer => Buffer.from(Array.from({ length: BIG }, (_, index) => index % 251));
const closed: string[] = [];
const leanFetch = createLeanFetch();

beforeAll(async () => {
  server = await startReceiver((request, response, raw) => {
    if (request.path === '/moved') return answerJson(response, 308, { moved: true }, { location: '/echo' });
    if (request.path.startsWith('/hang')) return void response.on('close', () => closed.push(request.path));
    if (request.path === '/stall-body') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('first part ');
      return void response.on('close', () => closed.push(request.path));
    }
    if (request.path.startsWith('/big')) {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG) });
      return void response.end(bigBody());
    }
    if (request.path === '/endless') {
      // Keeps sending until the client drops the connection.
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => response.write(Buffer.alloc(16 * 1024, 7)), 5);
      return void response.on('close', () => {
        clearInterval(timer);
        closed.push(request.path);
      });
    }
    if (request.path === '/cut') {
      response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      response.write('ten bytes.');
      return void setTimeout(() => raw.socket.destroy(), 20);
    }
    answerJson(response, 200, request, { 'set-cookie': 'a=1', 'x-multi': 'one' });
  });
});

afterAll(async () => {
  await leanFetch.close();
  await server.close();
});

describe('createLeanFetch', () => {

  it('reuses its connection to a server that keeps idle connections 2 s (gunicorn\'s default)', async () => {
    const twoSeconds = await startReceiver({ handler: (_request, response) => answerJson(response, 200, { ok: true }), keepAliveTimeoutMs: 2_000 });
    const url = twoSeconds.url();
    const own = createLeanFetch();
    try {
      for (let n = 0; n < 3; n += 1) {
        const response = await own(url, { method: 'POST', lean: { body: `{"n":${n}}`, headers: { 'content-type': 'application/json' } } });
        expect(await response.json()).toEqual({ ok: true });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(twoSeconds.connections()).toBe(1);
    } finally {
      await own.close();
      await twoSeconds.close();
    }
  });
  it('answers with a real Response: status, headers, url and a body read once', async () => {
    const response = await leanFetch(server.url('/echo'), { method: 'POST', headers: { 'X-Test': 'yes' }, body: '{"a":1}' });
    expect(response).toBeInstanceOf(Response);
    expect(response).toMatchObject({ status: 200, ok: true, redirected: false, url: server.url('/echo'), type: 'basic' });
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.bodyUsed).toBe(false);
    const echoed = (await response.json()) as { method: string; body: string; headers: Record<string, string> };
    expect(echoed).toMatchObject({ method: 'POST', body: '{"a":1}', headers: { 'x-test': 'yes' } });
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow('Expected an unread response body, got one already read');
  });

  it('sends the body and headers of a Request when no extras are given', async () => {
    const request = new Request(server.url('/echo'), { method: 'PUT', headers: { 'x-from': 'request' }, body: 'exact bytes ✓' });
    const echoed = (await (await leanFetch(request)).json()) as { method: string; body: string; headers: Record<string, string> };
    expect(echoed).toMatchObject({ method: 'PUT', body: 'exact bytes ✓', headers: { 'x-from': 'request' } });
  });

  it('prefers the exact body and headers of the lean extras', async () => {
    const request = new Request(server.url('/echo'), { method: 'POST', headers: { 'x-from': 'request' } });
    const response = await leanFetch(request, { lean: { body: 'from extras', headers: { 'x-from': 'extras' } } });
    expect(await response.json()).toMatchObject({ body: 'from extras', headers: { 'x-from': 'extras' } });
  });

  it('never follows a redirect, whatever the request says', async () => {
    const before = server.requests.length;
    const response = await leanFetch(new Request(server.url('/moved'), { redirect: 'follow' }));
    expect(response.status).toBe(308);
    expect(response.headers.get('location')).toBe('/echo');
    await response.text();
    expect(server.requests.length - before).toBe(1);
  });

  it('offers the body as a web stream too', async () => {
    const response = await leanFetch(server.url('/echo'));
    const text = await new Response(response.body).text();
    expect(JSON.parse(text)).toMatchObject({ method: 'GET' });
  });

  it('is aborted by the request signal', async () => {
    const controller = new AbortController();
    const pending = leanFetch(new Request(server.url('/hang-signal'), { signal: controller.signal }));
    await expect.poll(() => server.requests.some((request) => request.path === '/hang-signal')).toBe(true);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await expect.poll(() => closed).toContain('/hang-signal');
  });

  it('is aborted by the abort emitter, also while the body is read', async () => {
    const abortEmitter = new EventEmitter();
    const response = await leanFetch(server.url('/stall-body'), { lean: { abortEmitter } });
    const reading = readBodyBounded(response, 1024);
    abortEmitter.emit('abort');
    await expect(reading).rejects.toThrow();
    await expect.poll(() => closed).toContain('/stall-body');
  });

  it('reads a body far larger than it buffers: the socket pauses while the reader is slow, and resumes', async () => {
    const response = await leanFetch(server.url('/big-slow'));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const chunks: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      // A slow reader: undici has more than 64 KiB waiting, so it has to pause the socket.
      if (chunks.length < 5) await new Promise((resolve) => setTimeout(resolve, 30));
    }
    expect(Buffer.concat(chunks).equals(bigBody())).toBe(true);
  });

  it('reads a large body whole through the body methods', async () => {
    const response = await leanFetch(server.url('/big-whole'));
    expect(Buffer.from(await response.arrayBuffer()).equals(bigBody())).toBe(true);
  });

  it('cuts a body past the cap and drops its connection instead of reading the rest', async () => {
    const capped = await readBodyBounded(await leanFetch(server.url('/big-capped')), 1000);
    expect(capped.truncated).toBe(true);
    expect(capped.bytes.equals(bigBody().subarray(0, 1000))).toBe(true);

    const endless = await readBodyBounded(await leanFetch(server.url('/endless')), 100_000);
    expect(endless).toMatchObject({ truncated: true, bytes: Buffer.alloc(100_000, 7) });
    await expect.poll(() => closed).toContain('/endless');
  });

  it('fails the read of a body whose connection is closed before its declared end', async () => {
    const response = await leanFetch(server.url('/cut'));
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });

  it('cannot be used after close', async () => {
    const other = createLeanFetch({ connections: 1 });
    await (await other(server.url('/echo'))).text();
    await other.close();
    await expect(other(server.url('/echo'))).rejects.toThrow();
  });
});
