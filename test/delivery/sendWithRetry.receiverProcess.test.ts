/**
 * The sending half end to end: sendWithRetry over the default ky effect (and withSigning),
 * against a receiving API that runs in a separate process.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { lastValueFrom } from 'rxjs';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HttpStatusError,
  NetworkError,
  RedirectError,
  TimeoutError,
  createKyEffect,
  sendWithRetry,
  signRequest,
  withSigning,
  type AttemptInfo,
  type RequestDescriptor,
  type SendOptions,
  type SendResult,
} from '../../src/index.js';
import { forkReceiver, type ReceiverProcess } from '../helpers/receiverProcess.js';
import type { ReceivedRequest, ReceiverEvent } from './helpers/routesReceiverChild.js';
import { deliveryRequest } from '../helpers/factories.js';

const MIB = 1024 * 1024;
const secrets = [`whsec_${randomBytes(24).toString('base64')}`, `whsec_${randomBytes(24).toString('base64')}`] as const;
let receiver: ReceiverProcess<ReceiverEvent>;
const effect = createKyEffect({ timeoutMs: 2_000 });
/** No jitter wait, so that retried tests stay fast. */
const fast: SendOptions = { random: () => 0 };

const send = (request: RequestDescriptor, options: SendOptions = fast): Promise<SendResult> =>
  lastValueFrom(sendWithRetry(effect, request, options));
const requests = (): ReceivedRequest[] => receiver.events().filter((event): event is ReceivedRequest => event.type === 'request');
const received = (path: string): ReceivedRequest[] => requests().filter((request) => request.path === path);
const unique = (path: string): string => `${path}${path.includes('?') ? '&' : '?'}n=${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  receiver = await forkReceiver<ReceiverEvent>(fileURLToPath(new URL('./helpers/routesReceiverChild.ts', import.meta.url)), { RECEIVER_SECRETS: JSON.stringify(secrets) });
});

afterAll(async () => {
  await effect.close();
  await receiver.close();
});

describe('delivery to a receiver in another process', () => {
  it('delivers 200 JSON, 201 and 204 at the first attempt', async () => {
    expect(await send(deliveryRequest(receiver.url('/json')))).toMatchObject({
      kind: 'delivered',
      attempts: 1,
      response: { status: 200, body: { ok: true, method: 'POST' }, headers: { 'content-type': 'application/json' } },
    });
    expect(await send(deliveryRequest(receiver.url('/status/201')))).toMatchObject({ kind: 'delivered', response: { status: 201 } });
    expect(await send(deliveryRequest(receiver.url('/status/204')))).toMatchObject({
      kind: 'delivered',
      response: { status: 204, body: null },
    });
  });

  it('reads text bodies as text and empty bodies as null', async () => {
    expect(await send(deliveryRequest(receiver.url('/text')))).toMatchObject({ kind: 'delivered', response: { body: 'indexed' } });
    expect(await send(deliveryRequest(receiver.url('/empty')))).toMatchObject({ kind: 'delivered', response: { body: null } });
  });

  it('does not follow a 301: the delivery fails with reason redirect after one request', async () => {
    const path = unique('/status/301');
    const result = await send(deliveryRequest(receiver.url(path)));
    expect(result).toMatchObject({ kind: 'failed', reason: 'redirect', attempts: 1, response: { status: 301 } });
    expect(result.kind === 'failed' && result.error).toBeInstanceOf(RedirectError);
    expect(received(path)).toHaveLength(1);
    expect(requests().filter((request) => request.path === '/json' && request.headers['idempotency-key'] === path)).toEqual([]);
  });

  it('fails a 404 at once with the response', async () => {
    const path = unique('/status/404');
    const result = await send(deliveryRequest(receiver.url(path)));
    expect(result).toMatchObject({ kind: 'failed', reason: 'http-status', attempts: 1, response: { status: 404, body: { status: 404 } } });
    expect(result.kind === 'failed' && result.error).toBeInstanceOf(HttpStatusError);
    expect(received(path)).toHaveLength(1);
  });

  it('waits for a 503 Retry-After: 1, then delivers', async () => {
    const path = '/flaky/1/503?retryAfter=1';
    const request = deliveryRequest(receiver.url(path));
    const attempts: AttemptInfo[] = [];
    const result = await send(request, { random: () => 0, onAttempt: (info) => attempts.push(info) });
    expect(result).toMatchObject({ kind: 'delivered', attempts: 2, response: { status: 200, body: { attempt: 2 } } });
    expect(attempts[0]).toMatchObject({ attempt: 1, delayMs: 1000, response: { status: 503, headers: { 'retry-after': '1' } } });
    const [first, second] = received(path).filter((seen) => seen.headers['idempotency-key'] === request.deliveryId);
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(900);
  });

  it('retries a POST with the same Idempotency-Key and the same body', async () => {
    const path = '/flaky/2/500';
    const request = deliveryRequest(receiver.url(path));
    const result = await send(request);
    expect(result).toMatchObject({ kind: 'delivered', attempts: 3 });
    const attempts = received(path).filter((seen) => seen.headers['idempotency-key'] === request.deliveryId);
    expect(attempts.map((seen) => [seen.method, seen.body])).toEqual(Array(3).fill(['POST', request.body]));
  });

  it('gives up after limit + 1 attempts with the last failure', async () => {
    const path = '/flaky/9/502';
    const request = deliveryRequest(receiver.url(path), { retry: { limit: 2 } });
    const result = await send(request);
    expect(result).toMatchObject({ kind: 'failed', reason: 'http-status', attempts: 3, response: { status: 502 } });
  });

  it('times each attempt out with a TimeoutError and retries it', async () => {
    const path = unique('/hang');
    const result = await send(deliveryRequest(receiver.url(path), { timeoutMs: 100, retry: { limit: 1 } }));
    expect(result).toMatchObject({ kind: 'failed', reason: 'timeout', attempts: 2, response: null });
    expect(result.kind === 'failed' && result.error).toBeInstanceOf(TimeoutError);
    expect(received(path)).toHaveLength(2);
  });

  it('reports a reset connection as a network failure', async () => {
    const result = await send(deliveryRequest(receiver.url('/reset'), { retry: { limit: 0 } }));
    expect(result).toMatchObject({ kind: 'failed', reason: 'network', attempts: 1 });
    expect(result.kind === 'failed' && result.error).toBeInstanceOf(NetworkError);
    expect(result.kind === 'failed' && result.error.message).not.toContain('s3cret-token');
  });

  it('cuts a 5 MiB body at the 1 MiB cap and stops reading it', async () => {
    const path = unique('/big/5242880?paceMs=5');
    const result = await send(deliveryRequest(receiver.url(path)));
    expect(result).toMatchObject({ kind: 'delivered', response: { status: 200, bodyTruncated: true } });
    const body = result.kind === 'delivered' ? result.response.body : null;
    expect(typeof body === 'string' && body.length).toBe(MIB);
    const done = await receiver.waitFor(
      (event): event is Extract<ReceiverEvent, { type: 'big-done' }> => event.type === 'big-done' && event.path === path,
    );
    expect(done.finished).toBe(false);
    expect(done.written).toBeLessThan(5 * MIB);
  });

  it('aborts the request in flight when unsubscribed', async () => {
    const path = unique('/hang');
    const subscription = sendWithRetry(effect, deliveryRequest(receiver.url(path), { timeoutMs: 10_000 })).subscribe();
    await receiver.waitFor((event): event is ReceivedRequest => event.type === 'request' && event.path === path);
    subscription.unsubscribe();
    await receiver.waitFor((event): event is Extract<ReceiverEvent, { type: 'closed' }> => event.type === 'closed' && event.path === path);
  });
});

describe('signed delivery verified by the receiver with the standardwebhooks package', () => {
  it('verifies with each of two rotated secrets', async () => {
    const signed = withSigning(effect, { secret: secrets });
    const result = await lastValueFrom(sendWithRetry(signed, deliveryRequest(receiver.url('/verify/0')), fast));
    expect(result).toMatchObject({ kind: 'delivered', response: { status: 204 } });
  });

  it('rejects a tampered body', async () => {
    const request = signRequest(deliveryRequest(receiver.url('/verify/0')), secrets, Math.floor(Date.now() / 1000));
    const tampered: RequestDescriptor = { ...request, body: (request.body ?? '').replace('rdm_record', 'community') };
    const result = await send(tampered);
    expect(result).toMatchObject({ kind: 'failed', reason: 'http-status', response: { status: 401 } });
    expect(result.kind === 'failed' && result.response?.body).toMatch(/^secret #0: /);
  });

  it('signs each attempt with a fresh timestamp and the same webhook-id', async () => {
    let clock = Math.floor(Date.now() / 1000);
    const signed = withSigning(effect, { secret: secrets }, () => clock++);
    const request = deliveryRequest(receiver.url('/verify/2'));
    const result = await lastValueFrom(sendWithRetry(signed, request, fast));
    expect(result).toMatchObject({ kind: 'delivered', attempts: 3, response: { status: 204 } });
    const attempts = received('/verify/2').filter((seen) => seen.headers['webhook-id'] === request.deliveryId);
    const timestamps = attempts.map((seen) => Number(seen.headers['webhook-timestamp']));
    expect(timestamps).toHaveLength(3);
    expect(new Set(timestamps).size).toBe(3);
    for (const seen of attempts) {
      const headers = {
        'webhook-id': String(seen.headers['webhook-id']),
        'webhook-timestamp': String(seen.headers['webhook-timestamp']),
        'webhook-signature': String(seen.headers['webhook-signature']),
      };
      expect(() => new Webhook(secrets[1]).verify(seen.body, headers)).not.toThrow();
    }
  });
});
