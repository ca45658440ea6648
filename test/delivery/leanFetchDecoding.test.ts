import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodedBody, decodersFor } from '../../src/delivery/decodedBody.js';
import { DispatchedBody } from '../../src/delivery/dispatchedBody.js';
import { createLeanFetch } from '../../src/delivery/leanFetch.js';
import { readBodyBounded } from '../../src/delivery/leanResponse.js';
import { NetworkError, createKyEffect } from '../../src/index.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { deliveryRequest } from '../helpers/factories.js';

const MIB = 1024 * 1024;
const document = { id: 'remote-1', status: 'indexed', note: 'é ✓ '.repeat(50) };
const documentBytes = Buffer.from(JSON.stringify(document));
/** 10 MB of zeros gzipped: about 10 KB on the wire. */
const bomb = zlib.gzipSync(Buffer.alloc(10 * MIB), { level: 9 });
/** A body whose every byte says where it is, so that a cut or a reordering shows. */
const patterned = Buffer.from(Array.from({ length: 300_000 }, (_, index) => index % 251));

const encoders: Record<string, (bytes: Buffer) => Buffer> = {
  gzip: (bytes) => zlib.gzipSync(bytes),
  'x-gzip': (bytes) => zlib.gzipSync(bytes),
  deflate: (bytes) => zlib.deflateSync(bytes),
  br: (bytes) => zlib.brotliCompressSync(bytes),
  zstd: (bytes) => zlib.zstdCompressSync(bytes),
};

/** What the server saw: `closed <path>` when the client dropped a response before its end. */
const serverLog: string[] = [];
let server: Receiver;
const leanFetch = createLeanFetch();

function answer(response: ServerResponse, contentEncoding: string, body: Buffer, contentType = 'application/json'): void {
  response.writeHead(200, { 'content-type': contentType, 'content-encoding': contentEncoding, 'content-length': String(body.length) });
  response.end(body);
}

beforeAll(async () => {
  server = await startReceiver((request, response, raw) => {
    const [path, query = ''] = request.path.split('?');
    const coding = new URLSearchParams(query).get('coding') ?? 'gzip';
    switch (path) {
      case '/encoded':
        return answer(response, coding, (encoders[coding] as (bytes: Buffer) => Buffer)(documentBytes));
      case '/raw-deflate':
        return answer(response, 'deflate', zlib.deflateRawSync(documentBytes));
      case '/gzip-then-br':
        // Applied gzip first, then br: listed in that order, undone right to left.
        return answer(response, 'gzip, br', zlib.brotliCompressSync(zlib.gzipSync(documentBytes)));
      case '/unknown':
        return answer(response, 'compress', Buffer.from('left as it is'), 'text/plain');
      case '/known-and-unknown':
        return answer(response, 'gzip, snappy', Buffer.from('left as it is too'), 'text/plain');
      case '/too-many':
        return answer(response, 'gzip, gzip, gzip, gzip, gzip, gzip', Buffer.from('x'), 'text/plain');
      case '/patterned':
        return answer(response, 'gzip', zlib.gzipSync(patterned), 'application/octet-stream');
      case '/corrupt':
        return answer(response, 'gzip', Buffer.from('{"this is":"not gzip"}'));
      case '/no-content':
        response.writeHead(204, { 'content-encoding': 'gzip' });
        return void response.end();
      case '/trickle': {
        // A gzip stream sent in small pieces over time: decoded as it comes.
        const gzipped = zlib.gzipSync(patterned);
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' });
        let offset = 0;
        const timer = setInterval(() => {
          response.write(gzipped.subarray(offset, offset + 200));
          offset += 200;
          if (offset >= gzipped.length) {
            clearInterval(timer);
            response.end();
          }
        }, 1);
        return void response.on('close', () => clearInterval(timer));
      }
      case '/bomb':
        // The whole bomb, then the response stays open: a reader that waits for its end never ends.
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' });
        response.write(bomb);
        return void response.on('close', () => serverLog.push(`closed ${path}`));
      case '/endless-bomb': {
        // Zeros gzipped for ever: only a reader that stops at its cap ever returns.
        const zeros = Buffer.alloc(64 * 1024);
        const source = new Readable({ read: () => void source.push(zeros) });
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' });
        source.pipe(zlib.createGzip()).pipe(response);
        return void response.on('close', () => {
          source.destroy();
          serverLog.push(`closed ${path}`);
        });
      }
      case '/echo-headers':
        return answer(response, 'identity', Buffer.from(JSON.stringify(request.headers)));
      default:
        response.writeHead(404);
        response.end();
    }
    void raw;
  });
});

afterAll(async () => {
  await leanFetch.close();
  await server.close();
});

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let tries = 0; tries < 200; tries += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Expected ${what} within 2 s, it did not happen`);
}

describe('createLeanFetch: content-encoding', () => {
  it.each(Object.keys(encoders))('decodes a %s body, as fetch does, and keeps the header', async (coding) => {
    const response = await leanFetch(server.url(`/encoded?coding=${coding}`));
    expect(response.headers.get('content-encoding')).toBe(coding);
    expect(await response.json()).toEqual(document);
  });

  it('decodes deflate sent raw (without the zlib wrapper), as fetch does', async () => {
    expect(await (await leanFetch(server.url('/raw-deflate'))).json()).toEqual(document);
  });

  it('undoes several codings right to left', async () => {
    expect(await (await leanFetch(server.url('/gzip-then-br'))).json()).toEqual(document);
  });

  it('leaves a body whose codings it does not all know as it is, as fetch does', async () => {
    expect(await (await leanFetch(server.url('/unknown'))).text()).toBe('left as it is');
    expect(await (await leanFetch(server.url('/known-and-unknown'))).text()).toBe('left as it is too');
  });

  it('refuses a response listing more than 5 codings, as fetch does', async () => {
    await expect(leanFetch(server.url('/too-many'))).rejects.toThrow('Expected a response with at most 5 content codings, got 6');
  });

  it('decodes a body that arrives in small pieces, in order, through the web stream too', async () => {
    const response = await leanFetch(server.url('/trickle'));
    const chunks: Uint8Array[] = [];
    for await (const chunk of response.body as ReadableStream<Uint8Array>) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(patterned)).toBe(true);
  });

  it('does not decode a 204 or a HEAD answer (they have no body)', async () => {
    const noContent = await leanFetch(server.url('/no-content'));
    expect(noContent.status).toBe(204);
    expect(await noContent.text()).toBe('');
    const head = await leanFetch(server.url('/encoded?coding=gzip'), { method: 'HEAD' });
    expect(await head.text()).toBe('');
  });

  it('applies the cap to decoded bytes: the first maxBytes of the decoded body, cut', async () => {
    const { bytes, truncated } = await readBodyBounded(await leanFetch(server.url('/patterned')), 100_000);
    expect(truncated).toBe(true);
    expect(bytes.equals(patterned.subarray(0, 100_000))).toBe(true);
    const whole = await readBodyBounded(await leanFetch(server.url('/patterned')), patterned.length);
    expect(whole.truncated).toBe(false);
    expect(whole.bytes.equals(patterned)).toBe(true);
  });

  it('cuts a zip bomb at the cap without waiting for the rest, and drops its connection', async () => {
    const { bytes, truncated } = await readBodyBounded(await leanFetch(server.url('/bomb')), 64 * 1024);
    expect(truncated).toBe(true);
    expect(bytes).toEqual(Buffer.alloc(64 * 1024));
    await waitFor(() => serverLog.includes('closed /bomb'), 'the server to see the connection dropped');
  });

  it('cuts an endless gzip stream at the cap (it is never buffered whole) and drops its connection', async () => {
    const { bytes, truncated } = await readBodyBounded(await leanFetch(server.url('/endless-bomb')), MIB);
    expect(truncated).toBe(true);
    expect(bytes.equals(Buffer.alloc(MIB))).toBe(true);
    await waitFor(() => serverLog.includes('closed /endless-bomb'), 'the server to see the connection dropped');
  });

  it('fails a body that does not decode with an error naming its coding', async () => {
    const response = await leanFetch(server.url('/corrupt'));
    await expect(response.text()).rejects.toThrow(/^Expected a response body encoded as gzip, got one that does not decode \(incorrect header check\)$/);
  });

  it('sends no accept-encoding of its own, and sends the one a request gives', async () => {
    const plain = (await (await leanFetch(server.url('/echo-headers'))).json()) as Record<string, string>;
    expect(plain['accept-encoding']).toBeUndefined();
    const asked = (await (await leanFetch(server.url('/echo-headers'), { lean: { headers: { 'accept-encoding': 'gzip' } } })).json()) as Record<string, string>;
    expect(asked['accept-encoding']).toBe('gzip');
  });
});

describe('decodedBody', () => {
  it('inflates a 10 MB bomb only as far as it is read: a slow reader holds a few hundred KiB at most', async () => {
    const raw = new DispatchedBody(
      () => {},
      () => {},
    );
    raw.push(bomb);
    raw.end();
    const decoders = decodersFor('gzip');
    let inflated = 0;
    decoders[0]?.on('data', (chunk: Buffer) => {
      inflated += chunk.length;
    });
    const body = decodedBody(raw, decoders, 'gzip');
    expect((await body.read())?.length).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The decoded body's 64 KiB, the decoder's own 64 KiB and a chunk in between.
    expect(inflated).toBeLessThan(256 * 1024);
    const { bytes, truncated } = await body.readAll(MIB);
    expect(truncated).toBe(true);
    expect(bytes.length).toBe(MIB);
    expect(inflated).toBeLessThan(MIB + 256 * 1024);
  });

  it('is the raw body itself when there is nothing to decode', () => {
    const raw = new DispatchedBody(
      () => {},
      () => {},
    );
    expect(decodedBody(raw, decodersFor(undefined), undefined)).toBe(raw);
    expect(decodedBody(raw, decodersFor('identity'), 'identity')).toBe(raw);
  });
});

describe('createKyEffect: content-encoding', () => {
  const effect = createKyEffect({ maxResponseBytes: 64 * 1024 });
  afterAll(() => effect.close());

  it('emits the decoded JSON of a gzip, deflate or br answer', async () => {
    for (const coding of ['gzip', 'deflate', 'br']) {
      const response = await firstValueFrom(effect(deliveryRequest(server.url(`/encoded?coding=${coding}`))));
      expect(response.body).toEqual(document);
      expect(response.bodyTruncated).toBeUndefined();
    }
  });

  it('cuts a zip bomb at maxResponseBytes (decoded) and says so', async () => {
    const response = await firstValueFrom(effect(deliveryRequest(server.url('/bomb'))));
    expect(response.bodyTruncated).toBe(true);
    expect(typeof response.body === 'string' ? response.body.length : -1).toBe(64 * 1024);
  });

  it('fails a corrupt compressed answer with a NetworkError that says what was wrong', async () => {
    const error = await firstValueFrom(effect(deliveryRequest(server.url('/corrupt')))).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(/^Expected a response from POST http:\/\/127\.0\.0\.1:\d+\/corrupt, got .*Expected a response body encoded as gzip, got one that does not decode \(incorrect header check\)/);
    expect((error as Error).message).not.toContain('s3cret-token');
  });
});
