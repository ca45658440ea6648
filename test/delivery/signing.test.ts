import { randomBytes } from 'node:crypto';
import { of, lastValueFrom } from 'rxjs';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { ConfigError, signRequest, withSigning, type HttpEffect, type RequestDescriptor } from '../../src/index.js';
import { deliveryRequest } from '../helpers/factories.js';

const newSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const signatureHeaders = (request: RequestDescriptor): Record<string, string> => ({
  'webhook-id': request.headers['webhook-id'] ?? '',
  'webhook-timestamp': request.headers['webhook-timestamp'] ?? '',
  'webhook-signature': request.headers['webhook-signature'] ?? '',
});

describe('signRequest', () => {
  it('adds webhook-id (the delivery id), webhook-timestamp and a signature the reference library verifies', () => {
    const secret = newSecret();
    const request = deliveryRequest('https://search.example.org/api/documents');
    const timestamp = nowSeconds();
    const signed = signRequest(request, secret, timestamp);
    expect(signed.headers).toMatchObject({
      'webhook-id': request.deliveryId,
      'webhook-timestamp': String(timestamp),
      'idempotency-key': request.deliveryId,
      'content-type': 'application/json',
    });
    expect(signed.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(signed.body ?? '', signatureHeaders(signed))).toEqual(request.payload);
    expect(signed.body).toBe(request.body);
    expect(request.headers['webhook-signature']).toBeUndefined();
  });

  it('signs with every secret for rotation: each one verifies on its own', () => {
    const [current, previous] = [newSecret(), newSecret()];
    const signed = signRequest(deliveryRequest('https://search.example.org/api/documents'), [current, previous], nowSeconds());
    expect(signed.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    for (const secret of [current, previous]) {
      expect(() => new Webhook(secret).verify(signed.body ?? '', signatureHeaders(signed))).not.toThrow();
    }
    expect(() => new Webhook(newSecret()).verify(signed.body ?? '', signatureHeaders(signed))).toThrow();
  });

  it('is over the exact bytes: a tampered body fails verification', () => {
    const secret = newSecret();
    const signed = signRequest(deliveryRequest('https://search.example.org/api/documents'), secret, nowSeconds());
    const tampered = (signed.body ?? '').replace('rdm_record', 'rdm_recorD');
    expect(() => new Webhook(secret).verify(tampered, signatureHeaders(signed))).toThrow(/No matching signature/);
  });

  it('signs a request without a body over the empty string', () => {
    const secret = newSecret();
    const signed = signRequest(deliveryRequest('https://search.example.org/api/documents/1', { method: 'DELETE', payload: null }), secret, nowSeconds());
    expect(signed.body).toBeNull();
    expect(() => new Webhook(secret).verify('', signatureHeaders(signed))).not.toThrow();
  });

  it('replaces earlier signing headers whatever their case', () => {
    const request = deliveryRequest('https://search.example.org/api/documents', {
      headers: { 'Webhook-Signature': 'v1,stale', 'WEBHOOK-ID': 'stale', accept: 'application/json' },
    });
    const signed = signRequest(request, newSecret(), nowSeconds());
    expect(Object.keys(signed.headers).sort()).toEqual(['accept', 'webhook-id', 'webhook-signature', 'webhook-timestamp']);
  });

  it('accepts a secret without the whsec_ prefix, as the reference library does', () => {
    const raw = randomBytes(24).toString('base64');
    const signed = signRequest(deliveryRequest('https://search.example.org/api/documents'), raw, nowSeconds());
    expect(() => new Webhook(`whsec_${raw}`).verify(signed.body ?? '', signatureHeaders(signed))).not.toThrow();
  });

  it('refuses bad secrets with a ConfigError that does not show them', () => {
    const request = deliveryRequest('https://search.example.org/api/documents');
    expect(() => signRequest(request, [], 1)).toThrow(ConfigError);
    let message = '';
    try {
      signRequest(request, ['whsec_not base64 at all!'], 1);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('signing.secret[0]: expected a whsec_ prefix followed by base64');
    expect(message).not.toContain('not base64 at all');
    expect(() => signRequest(request, newSecret(), 1.5)).toThrow(RangeError);
  });
});

describe('withSigning', () => {
  it('signs every subscription afresh: same webhook-id, a new timestamp each attempt', async () => {
    const secret = newSecret();
    const sent: RequestDescriptor[] = [];
    const effect: HttpEffect = (request) => {
      sent.push(request);
      return of({ status: 200, headers: {}, body: null, url: request.url });
    };
    let clock = nowSeconds();
    const signing = withSigning(effect, { secret }, () => clock++);
    const request = deliveryRequest('https://search.example.org/api/documents');
    const attempt = signing(request);
    expect(sent).toHaveLength(0);
    await lastValueFrom(attempt);
    await lastValueFrom(attempt);
    expect(sent.map((signed) => signed.headers['webhook-id'])).toEqual([request.deliveryId, request.deliveryId]);
    const [first, second] = sent.map((signed) => Number(signed.headers['webhook-timestamp']));
    expect(second).toBe((first ?? 0) + 1);
    for (const signed of sent) {
      expect(() => new Webhook(secret).verify(signed.body ?? '', signatureHeaders(signed))).not.toThrow();
    }
  });

  it('checks the secrets once, when the effect is made', () => {
    expect(() => withSigning(() => of(), { secret: '' })).toThrow(ConfigError);
  });
});
