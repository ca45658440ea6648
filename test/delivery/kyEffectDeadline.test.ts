import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError, createKyEffect } from '../../src/index.js';
import { deliveryRequest } from '../helpers/factories.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/** A 40-byte JSON body, written one byte every 20 ms (about 800 ms in all). */
const BODY = Buffer.from(JSON.stringify({ ok: true, slow: 'x'.repeat(19) }));
const BYTE_DELAY_MS = 20;

let server: Receiver;
const closedEarly: string[] = [];
const effect = createKyEffect();

beforeAll(async () => {
  server = await startReceiver((request, response) => {
    const chunked = request.path.startsWith('/chunked');
    response.writeHead(200, chunked ? { 'content-type': 'application/json' } : { 'content-type': 'application/json', 'content-length': String(BODY.length) });
    let index = 0;
    const writeNext = (): void => {
      if (response.destroyed) {
        closedEarly.push(request.path);
        return;
      }
      if (index >= BODY.length - 1) {
        response.end(BODY.subarray(index));
        return;
      }
      response.write(BODY.subarray(index, index + 1));
      index += 1;
      setTimeout(writeNext, BYTE_DELAY_MS);
    };
    writeNext();
  });
});

afterAll(async () => {
  await effect.close();
  await server.close();
});

describe('createKyEffect: one deadline per attempt, up to the last body byte', () => {
  it.each(['/declared-length', '/chunked'])('a body that keeps trickling past the deadline is a TimeoutError (%s)', async (path) => {
    const error: unknown = await firstValueFrom(effect(deliveryRequest(server.url(path), { timeoutMs: 250 }))).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/within 250 ms/);
    await expect.poll(() => closedEarly).toContain(path);
  });

  it('a slow body that ends within the deadline is a response', async () => {
    const response = await firstValueFrom(effect(deliveryRequest(server.url('/declared-length-in-time'), { timeoutMs: 10_000 })));
    expect(response).toMatchObject({ status: 200, body: { ok: true } });
  });
});
