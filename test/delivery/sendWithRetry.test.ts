import type { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  HttpStatusError,
  NetworkError,
  RedirectError,
  TimeoutError,
  sendWithRetry,
  type AttemptInfo,
  type HttpEffect,
  type ProvisionerResponse,
  type RequestDescriptor,
  type SendResult,
} from '../../src/index.js';
import { deliveryRequest } from '../helpers/factories.js';

const URL_ = 'https://search.example.org/api/documents';
const respond = (status: number, headers: Record<string, string> = {}): ProvisionerResponse => ({
  status,
  headers,
  body: status === 204 ? null : { status },
  url: URL_,
});
const ok = respond(200);
const unavailable = respond(503);

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** An effect that answers attempt n with the n-th observable, recording what it was asked. */
function scripted(attempts: readonly Observable<ProvisionerResponse>[]): { effect: HttpEffect; seen: RequestDescriptor[] } {
  const seen: RequestDescriptor[] = [];
  const effect: HttpEffect = (request) => {
    seen.push(request);
    const next = attempts[seen.length - 1];
    if (next === undefined) throw new Error(`Expected at most ${attempts.length} attempts, got ${seen.length}`);
    return next;
  };
  return { effect, seen };
}

describe('sendWithRetry', () => {
  it('delivers a 2xx at once, with attempts 1', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const answer = cold('--a|', { a: ok });
      const { effect } = scripted([answer]);
      expectObservable(sendWithRetry(effect, deliveryRequest(URL_))).toBe('--(r|)', {
        r: { kind: 'delivered', response: ok, attempts: 1 },
      });
      expectSubscriptions(answer.subscriptions).toBe('^-!');
    });
  });

  it('backs off exponentially with full jitter, then fails with the last reason after limit + 1 attempts', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const answers = [0, 1, 2, 3].map(() => cold('-a|', { a: unavailable }));
      const { effect } = scripted(answers);
      // random() = 0.5: waits 0.5 × 1000, 0.5 × 2000, 0.5 × 4000 after attempts 1, 2, 3.
      const result = sendWithRetry(effect, deliveryRequest(URL_), { retry: { limit: 3 }, random: () => 0.5 });
      expectObservable(result).toBe('3504ms (r|)', {
        r: {
          kind: 'failed',
          reason: 'http-status',
          error: expect.any(HttpStatusError) as unknown,
          response: unavailable,
          attempts: 4,
        },
      });
      expectSubscriptions(answers[0]!.subscriptions).toBe('^!');
      expectSubscriptions(answers[1]!.subscriptions).toBe('501ms ^!');
      expectSubscriptions(answers[2]!.subscriptions).toBe('1502ms ^!');
      expectSubscriptions(answers[3]!.subscriptions).toBe('3503ms ^!');
    });
  });

  it('draws each delay from [0, min(maxDelayMs, base × 2^n)) with the injected random', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const answers = [0, 1, 2, 3].map((n) => cold('-a|', { a: n < 3 ? unavailable : ok }));
      const { effect } = scripted(answers);
      const draws = [1, 0.25, 0.999];
      const random = (): number => draws.shift() ?? 0;
      // Delays: 1 × min(300, 100) = 100, 0.25 × min(300, 200) = 50, 0.999 × min(300, 400) = 299.7.
      const result = sendWithRetry(effect, deliveryRequest(URL_), { retry: { baseDelayMs: 100, maxDelayMs: 300 }, random });
      expectObservable(result).toBe('453.7ms (r|)', { r: { kind: 'delivered', response: ok, attempts: 4 } });
      expectSubscriptions(answers[1]!.subscriptions).toBe('101ms ^!');
      expectSubscriptions(answers[2]!.subscriptions).toBe('152ms ^!');
      expectSubscriptions(answers[3]!.subscriptions).toBe('452.7ms ^!');
    });
  });

  it('honours Retry-After in seconds instead of the jittered delay', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const answers = [cold('-a|', { a: respond(503, { 'retry-after': '3' }) }), cold('-a|', { a: ok })];
      const { effect } = scripted(answers);
      expectObservable(sendWithRetry(effect, deliveryRequest(URL_), { random: () => 0.9 })).toBe('3002ms (r|)', {
        r: { kind: 'delivered', response: ok, attempts: 2 },
      });
      expectSubscriptions(answers[1]!.subscriptions).toBe('3001ms ^!');
    });
  });

  it('honours Retry-After as an HTTP date, a past date as no wait, and caps it at maxRetryAfterMs', () => {
    const now = (): number => Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    scheduler().run(({ cold, expectObservable }) => {
      const answers = [
        cold('-a|', { a: respond(429, { 'retry-after': 'Wed, 21 Oct 2015 07:28:02 GMT' }) }),
        cold('-a|', { a: respond(503, { 'retry-after': 'Wed, 21 Oct 2015 07:00:00 GMT' }) }),
        cold('-a|', { a: respond(503, { 'Retry-After': '120' }) }),
        cold('-a|', { a: ok }),
      ];
      const { effect } = scripted(answers);
      // 1 + 2000, 1 + 0, 1 + 5000 (120 s capped), 1.
      const result = sendWithRetry(effect, deliveryRequest(URL_), { retry: { maxRetryAfterMs: 5_000 }, now, random: () => 0.5 });
      expectObservable(result).toBe('7004ms (r|)', { r: { kind: 'delivered', response: ok, attempts: 4 } });
    });
  });

  it('fails a 404 at once, without retrying', () => {
    const notFound = respond(404);
    let seen: RequestDescriptor[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const scriptedEffect = scripted([cold('-a|', { a: notFound }), cold('-a|', { a: ok })]);
      seen = scriptedEffect.seen;
      expectObservable(sendWithRetry(scriptedEffect.effect, deliveryRequest(URL_))).toBe('-(r|)', {
        r: { kind: 'failed', reason: 'http-status', error: expect.any(HttpStatusError) as unknown, response: notFound, attempts: 1 },
      });
    });
    expect(seen).toHaveLength(1);
  });

  it('fails a 301 at once as a redirect, without following or retrying it', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const moved = respond(301, { location: 'https://elsewhere.example.org/' });
      const { effect } = scripted([cold('-a|', { a: moved })]);
      expectObservable(sendWithRetry(effect, deliveryRequest(URL_))).toBe('-(r|)', {
        r: { kind: 'failed', reason: 'redirect', error: expect.any(RedirectError) as unknown, response: moved, attempts: 1 },
      });
    });
  });

  it.each([408, 425, 429, 500, 502, 503, 504])('retries %i', (status) => {
    scheduler().run(({ cold, expectObservable }) => {
      const { effect } = scripted([cold('-a|', { a: respond(status) }), cold('-a|', { a: ok })]);
      expectObservable(sendWithRetry(effect, deliveryRequest(URL_), { random: () => 0 })).toBe('--(r|)', {
        r: { kind: 'delivered', response: ok, attempts: 2 },
      });
    });
  });

  it.each([400, 401, 403, 409, 410, 413, 422])('does not retry %i', (status) => {
    scheduler().run(({ cold, expectObservable }) => {
      const response = respond(status);
      const { effect } = scripted([cold('-a|', { a: response })]);
      expectObservable(sendWithRetry(effect, deliveryRequest(URL_))).toBe('-(r|)', {
        r: { kind: 'failed', reason: 'http-status', error: expect.any(HttpStatusError) as unknown, response, attempts: 1 },
      });
    });
  });

  it('retries network errors and timeouts, and reports the last one when the limit is reached', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const timeout = new TimeoutError('Expected a response within 10 ms, got none in time');
      const { effect } = scripted([
        cold('-#', undefined, new NetworkError('Expected a response, got ECONNRESET')),
        cold('-#', undefined, timeout),
      ]);
      expectObservable(sendWithRetry(effect, deliveryRequest(URL_), { retry: { limit: 1 }, random: () => 0 })).toBe('--(r|)', {
        r: { kind: 'failed', reason: 'timeout', error: timeout, response: null, attempts: 2 },
      });
    });
  });

  it('counts whatever else an effect throws, or an empty effect, as a network error', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const { effect } = scripted([cold('-#', undefined, new TypeError('boom')), cold('-|')]);
      expectObservable(sendWithRetry(effect, deliveryRequest(URL_), { retry: { limit: 1 }, random: () => 0 })).toBe('--(r|)', {
        r: { kind: 'failed', reason: 'network', error: expect.any(NetworkError) as unknown, response: null, attempts: 2 },
      });
    });
  });

  it('sends the same request object, with the same delivery id, on every attempt', () => {
    const request = deliveryRequest(URL_, { deliveryId: 'fixed-id' });
    let seen: RequestDescriptor[] = [];
    scheduler().run(({ cold, expectObservable }) => {
      const scriptedEffect = scripted([
        cold('-a|', { a: unavailable }),
        cold('-#', undefined, new NetworkError('Expected a response, got ECONNRESET')),
        cold('-a|', { a: ok }),
      ]);
      seen = scriptedEffect.seen;
      expectObservable(sendWithRetry(scriptedEffect.effect, request, { random: () => 0 })).toBe('---(r|)', {
        r: { kind: 'delivered', response: ok, attempts: 3 },
      });
    });
    expect(seen).toHaveLength(3);
    for (const attempt of seen) {
      expect(attempt).toBe(request);
      expect(attempt.headers['idempotency-key']).toBe('fixed-id');
    }
  });

  it("lets the request's own retry options override the global ones field by field", () => {
    scheduler().run(({ cold, expectObservable }) => {
      const answers = [0, 1, 2].map(() => cold('-a|', { a: unavailable }));
      const { effect } = scripted(answers);
      const request = deliveryRequest(URL_, { retry: { limit: 2 } });
      // limit 2 from the request, baseDelayMs 10 from the global options: waits 10, 20.
      const result = sendWithRetry(effect, request, { retry: { limit: 5, baseDelayMs: 10 }, random: () => 1 });
      expectObservable(result).toBe('33ms (r|)', {
        r: { kind: 'failed', reason: 'http-status', error: expect.any(HttpStatusError) as unknown, response: unavailable, attempts: 3 },
      });
    });
  });

  it('stops when unsubscribed: no attempt after the unsubscription', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const answers = [cold('-a|', { a: unavailable }), cold('--------a|', { a: ok })];
      const { effect } = scripted(answers);
      const result: Observable<SendResult> = sendWithRetry(effect, deliveryRequest(URL_), { random: () => 0.5 });
      // First attempt answers at 1, waits 500, second attempt subscribed at 501 and aborted at 505.
      expectObservable(result, '505ms !').toBe('');
      expectSubscriptions(answers[0]!.subscriptions).toBe('^!');
      expectSubscriptions(answers[1]!.subscriptions).toBe('501ms ^---!');
    });
  });

  it('stops when unsubscribed during a backoff wait: the next attempt never starts', () => {
    scheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const answers = [cold('-a|', { a: unavailable }), cold('-a|', { a: ok })];
      const { effect } = scripted(answers);
      expectObservable(sendWithRetry(effect, deliveryRequest(URL_), { random: () => 0.5 }), '300ms !').toBe('');
      expectSubscriptions(answers[1]!.subscriptions).toBe([]);
    });
  });

  it('tells onAttempt about every attempt, with the delay before the next one', () => {
    const infos: AttemptInfo[] = [];
    scheduler().run(({ cold, flush }) => {
      const { effect } = scripted([cold('-a|', { a: respond(503, { 'retry-after': '2' }) }), cold('-a|', { a: ok })]);
      sendWithRetry(effect, deliveryRequest(URL_), {
        onAttempt: (info) => {
          infos.push(info);
          throw new Error('a broken metrics hook does not break delivery');
        },
      }).subscribe();
      flush();
    });
    expect(infos.map(({ attempt, delayMs, response }) => ({ attempt, delayMs, status: response?.status }))).toEqual([
      { attempt: 1, delayMs: 2000, status: 503 },
      { attempt: 2, delayMs: undefined, status: 200 },
    ]);
  });
});
