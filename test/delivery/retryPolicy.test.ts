import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_OPTIONS, HttpStatusError, NetworkError, RedirectError, TimeoutError, type ProvisionerResponse } from '../../src/index.js';
import { backoffDelay, classifyError, classifyResponse, isRetryableStatus, resolveRetryOptions, retryDelay } from '../../src/delivery/retryPolicy.js';
import { parseRetryAfter } from '../../src/delivery/retryAfter.js';
import { deliveryRequest } from '../helpers/factories.js';

const request = deliveryRequest('https://search.example.org/api/documents?token=abc');
const respond = (status: number, headers: Record<string, string> = {}): ProvisionerResponse => ({ status, headers, body: null, url: request.url });

describe('resolveRetryOptions', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_RETRY_OPTIONS).toEqual({ limit: 5, baseDelayMs: 1000, maxDelayMs: 30000, maxRetryAfterMs: 60000 });
    expect(resolveRetryOptions()).toEqual(DEFAULT_RETRY_OPTIONS);
  });

  it('lets later layers win field by field', () => {
    expect(resolveRetryOptions({ limit: 2, baseDelayMs: 10 }, undefined, { limit: 0 })).toEqual({
      ...DEFAULT_RETRY_OPTIONS,
      limit: 0,
      baseDelayMs: 10,
    });
  });

  it('refuses negative or non-finite numbers, naming the option', () => {
    expect(() => resolveRetryOptions({ limit: -1 })).toThrow('Expected retry option `limit` to be a finite number >= 0, got -1');
    expect(() => resolveRetryOptions({ maxDelayMs: Number.NaN })).toThrow(/`maxDelayMs`.*got NaN/);
  });
});

describe('classifyResponse', () => {
  it('delivers 2xx', () => {
    for (const status of [200, 201, 202, 204, 299]) {
      expect(classifyResponse(request, respond(status)).kind).toBe('delivered');
    }
  });

  it('fails 3xx at once as a redirect, naming where it pointed but not the query', () => {
    const verdict = classifyResponse(request, respond(302, { location: 'https://elsewhere.example.org/x?token=abc' }));
    expect(verdict).toMatchObject({ kind: 'fail', reason: 'redirect' });
    expect(verdict.kind !== 'delivered' && verdict.error).toBeInstanceOf(RedirectError);
    const message = verdict.kind === 'delivered' ? '' : verdict.error.message;
    expect(message).toBe(
      'Expected a 2xx response from POST https://search.example.org/api/documents, got a 302 redirect to https://elsewhere.example.org/x (redirects are not followed)',
    );
  });

  it('retries 408, 425, 429 and 5xx; fails other 4xx at once', () => {
    expect([408, 425, 429, 500, 503, 599].map((status) => classifyResponse(request, respond(status)).kind)).toEqual(Array(6).fill('retry'));
    expect([400, 401, 403, 404, 409, 410, 413, 422, 451].map((status) => classifyResponse(request, respond(status)).kind)).toEqual(
      Array(9).fill('fail'),
    );
    const verdict = classifyResponse(request, respond(404));
    expect(verdict.kind !== 'delivered' && verdict.error).toBeInstanceOf(HttpStatusError);
    expect(verdict.kind !== 'delivered' && verdict.error.message).toBe(
      'Expected a 2xx response from POST https://search.example.org/api/documents, got 404',
    );
    expect(isRetryableStatus(503)).toBe(true);
    expect(isRetryableStatus(404)).toBe(false);
  });
});

describe('classifyError', () => {
  it('retries timeouts and network errors with their own reasons', () => {
    expect(classifyError(request, new TimeoutError('t'))).toMatchObject({ kind: 'retry', reason: 'timeout' });
    expect(classifyError(request, new NetworkError('n'))).toMatchObject({ kind: 'retry', reason: 'network' });
  });

  it('wraps anything else in a NetworkError that keeps the cause', () => {
    const cause = new TypeError('socket hang up');
    const verdict = classifyError(request, cause);
    expect(verdict).toMatchObject({ kind: 'retry', reason: 'network' });
    expect(verdict.kind !== 'delivered' && verdict.error).toBeInstanceOf(NetworkError);
    expect(verdict.kind !== 'delivered' && verdict.error.cause).toBe(cause);
  });
});

describe('backoff', () => {
  it('is random() × min(maxDelayMs, baseDelayMs × 2^n)', () => {
    const half = (): number => 0.5;
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, DEFAULT_RETRY_OPTIONS, half))).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000]);
    expect(backoffDelay(2, DEFAULT_RETRY_OPTIONS, () => 0)).toBe(0);
  });

  it('takes Retry-After over the backoff, capped at maxRetryAfterMs', () => {
    const now = (): number => 0;
    expect(retryDelay(0, respond(503, { 'retry-after': '7' }), DEFAULT_RETRY_OPTIONS, () => 0.5, now)).toBe(7000);
    expect(retryDelay(0, respond(503, { 'retry-after': '600' }), DEFAULT_RETRY_OPTIONS, () => 0.5, now)).toBe(60000);
    expect(retryDelay(0, respond(503, { 'retry-after': 'later' }), DEFAULT_RETRY_OPTIONS, () => 0.5, now)).toBe(500);
    expect(retryDelay(1, null, DEFAULT_RETRY_OPTIONS, () => 0.5, now)).toBe(1000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('1.5', now)).toBe(1_500);
  });

  it('reads HTTP dates relative to now, past dates as 0', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', now)).toBe(0);
  });

  it('gives null for an absent or unreadable value', () => {
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('12-3', now)).toBeNull();
  });
});
