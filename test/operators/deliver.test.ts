import { Observable, from, lastValueFrom, map, of, throwError, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { deliver } from '../../src/operators/deliver.js';
import {
  NetworkError,
  OverflowError,
  type DeliveryOutcome,
  type HttpEffect,
  type ProvisionerResponse,
  type RequestDescriptor,
  type RequestPlan,
} from '../../src/index.js';
import { okResponse as ok, serviceEvent } from '../helpers/factories.js';

const ENDPOINT = 'https://search.example.org/api/v1/documents';

const testScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));


/** A planned request named `name` for record `recordId` (its delivery id is the name). */
const EVENT = serviceEvent({ method: 'publish' });

function plan(name: string, recordId: string, acceptedAt = 0): RequestPlan {
  const event = EVENT;
  const request: RequestDescriptor = {
    deliveryId: name,
    eventId: name,
    serviceType: 'rdm_record',
    serviceMethod: 'publish',
    endpoint: ENDPOINT,
    url: ENDPOINT,
    method: 'POST',
    headers: { 'Idempotency-Key': name },
    payload: { name },
    body: JSON.stringify({ name }),
    recordId,
    draftId: null,
  };
  return { kind: 'request', event, request, acceptedAt };
}

function requestOf(name: string, recordId: string): RequestDescriptor {
  const planned = plan(name, recordId);
  if (planned.kind !== 'request') throw new Error('Expected a request plan');
  return planned.request;
}

const label = (outcome: DeliveryOutcome): string =>
  outcome.kind === 'failed' ? `${outcome.kind} ${outcome.reason} ${outcome.request?.deliveryId ?? outcome.endpoint}` : `${outcome.kind} ${outcome.kind === 'delivered' ? outcome.request.deliveryId : outcome.reason}`;

describe('deliver', () => {
  it('holds back a record\'s second delivery behind its slow first one, but not another record\'s', () => {
    const started: string[] = [];
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const effect: HttpEffect = (request) => {
        started.push(`${request.deliveryId}@${scheduler.now()}`);
        return cold(request.deliveryId === 'a1' ? '------(r|)' : '-(r|)', { r: ok(request) });
      };
      const plans = cold('-abc|', { a: plan('a1', 'A'), b: plan('a2', 'A'), c: plan('b1', 'B') });
      expectObservable(plans.pipe(deliver(effect), map(label))).toBe('----x--y(z|)', {
        x: 'delivered b1',
        y: 'delivered a1',
        z: 'delivered a2',
      });
    });
    expect(started).toEqual(['a1@1', 'b1@3', 'a2@7']);
  });

  it('starts a record\'s next delivery only when its previous one has settled', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const slow = cold<ProvisionerResponse>('----(r|)', { r: ok(requestOf('a1', 'A')) });
      const fast = cold<ProvisionerResponse>('-(r|)', { r: ok(requestOf('a2', 'A')) });
      const effect: HttpEffect = (request) => (request.deliveryId === 'a1' ? slow : fast);
      const plans = cold('-ab|', { a: plan('a1', 'A'), b: plan('a2', 'A') });
      expectObservable(plans.pipe(deliver(effect), map(label))).toBe('-----x(y|)', { x: 'delivered a1', y: 'delivered a2' });
      expectSubscriptions(slow.subscriptions).toBe('-^---!');
      expectSubscriptions(fast.subscriptions).toBe('-----^!');
    });
  });

  it('runs at most `concurrency` deliveries at once, taking keys in arrival order', () => {
    const running: number[] = [];
    let inFlight = 0;
    testScheduler().run(({ cold, flush }) => {
      const effect: HttpEffect = (request) =>
        new Observable<ProvisionerResponse>((subscriber) => {
          inFlight += 1;
          running.push(inFlight);
          const inner = cold('---(r|)', { r: ok(request) }).subscribe(subscriber);
          return () => {
            inFlight -= 1;
            inner.unsubscribe();
          };
        });
      const outcomes: string[] = [];
      cold('-(abcde)|', { a: plan('1', 'A'), b: plan('2', 'B'), c: plan('3', 'C'), d: plan('4', 'D'), e: plan('5', 'E') })
        .pipe(deliver(effect, { concurrency: 2 }))
        .subscribe((outcome) => outcomes.push(label(outcome)));
      flush();
      expect(outcomes).toEqual(['delivered 1', 'delivered 2', 'delivered 3', 'delivered 4', 'delivered 5']);
    });
    expect(Math.max(...running)).toBe(2);
  });

  it('ends a request at once as failed with reason overflow past maxQueue, and accepts again once there is room', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const effect: HttpEffect = (request) => cold('--(r|)', { r: ok(request) });
      const plans = cold('-(abc)d|', { a: plan('1', 'A'), b: plan('2', 'B'), c: plan('3', 'C'), d: plan('4', 'D') });
      expectObservable(plans.pipe(deliver(effect, { concurrency: 1, maxQueue: 2 }), map(label))).toBe('-x-y-z--(w|)', {
        x: 'failed overflow 3',
        y: 'delivered 1',
        z: 'delivered 2',
        w: 'delivered 4',
      });
    });
  });

  it('gives the overflow outcome its request, an OverflowError and no attempt', async () => {
    const never: HttpEffect = () => new Observable<ProvisionerResponse>(() => undefined);
    const outcomes: DeliveryOutcome[] = [];
    const subscription = from([plan('1', 'A'), plan('2', 'B')])
      .pipe(deliver(never, { maxQueue: 1 }))
      .subscribe((outcome) => outcomes.push(outcome));
    subscription.unsubscribe();
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ kind: 'failed', reason: 'overflow', attempts: 0, response: null, request: { deliveryId: '2' } });
    expect(outcomes[0]?.kind === 'failed' && outcomes[0].error).toBeInstanceOf(OverflowError);
    expect(outcomes[0]?.kind === 'failed' && outcomes[0].error.message).toContain('maxQueue');
  });

  it('passes outcomes reached while planning through at once', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const event = serviceEvent({ method: 'publish' });
      const skipped: RequestPlan = { kind: 'skipped', event, endpoint: ENDPOINT, reason: 'restricted', acceptedAt: 0, settledAt: 0 };
      const effect: HttpEffect = (request) => cold('---(r|)', { r: ok(request) });
      const plans = cold('-ab|', { a: plan('1', 'A'), b: skipped });
      expectObservable(plans.pipe(deliver(effect), map(label))).toBe('--s-(x|)', { s: 'skipped restricted', x: 'delivered 1' });
    });
  });

  it('puts the response, attempts and timing on a delivered outcome', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const response = ok(requestOf('1', 'A'), 204);
      const effect: HttpEffect = () => cold('--(r|)', { r: response });
      const source = plan('1', 'A', 1);
      expectObservable(cold('-a|', { a: source }).pipe(deliver(effect))).toBe('---(o|)', {
        o: {
          kind: 'delivered',
          event: source.event,
          endpoint: ENDPOINT,
          request: source.kind === 'request' ? source.request : null,
          response,
          attempts: 1,
          acceptedAt: 1,
          settledAt: 3,
        },
      });
    });
  });

  it('retries with the global policy, overridden key by key by the request\'s own, with the same request every attempt', () => {
    const attempts = new Map<string, RequestDescriptor[]>();
    testScheduler().run(({ cold, expectObservable }) => {
      const effect: HttpEffect = (request) => {
        const seen = [...(attempts.get(request.deliveryId) ?? []), request];
        attempts.set(request.deliveryId, seen);
        return cold('-(r|)', { r: { ...ok(request), status: seen.length === 1 ? 503 : 201 } });
      };
      const own = plan('own', 'A');
      const withOwnRetry: RequestPlan = own.kind === 'request' ? { ...own, request: { ...own.request, retry: { limit: 1, baseDelayMs: 10 } } } : own;
      const plans = cold('-ab|', { a: withOwnRetry, b: plan('global', 'B') });
      // own: 503 at 2, waits 0.5 × 10 ms, tries again at 7, 201 at 8; global: limit 0, fails at 3.
      expectObservable(
        plans.pipe(
          deliver(effect, { retry: { limit: 0, baseDelayMs: 1_000 }, random: () => 0.5 }),
          map((outcome) => `${label(outcome)} ×${outcome.kind === 'skipped' ? 0 : outcome.attempts}`),
        ),
      ).toBe('---g----(o|)', { g: 'failed http-status global ×1', o: 'delivered own ×2' });
    });
    const ownAttempts = attempts.get('own') ?? [];
    expect(ownAttempts).toHaveLength(2);
    expect(ownAttempts[1]).toBe(ownAttempts[0]);
  });

  it('turns a network error into a failed outcome and goes on', async () => {
    const effect: HttpEffect = (request) =>
      request.deliveryId === '1' ? throwError(() => new NetworkError('connect ECONNREFUSED 127.0.0.1:9')) : of(ok(request));
    const outcomes = await lastValueFrom(from([plan('1', 'A'), plan('2', 'A')]).pipe(deliver(effect, { retry: { limit: 0 } }), toArray()));
    expect(outcomes.map(label)).toEqual(['failed network 1', 'delivered 2']);
    expect(outcomes[0]).toMatchObject({ kind: 'failed', error: { name: 'NetworkError' }, response: null });
  });

  it('aborts the requests in flight when unsubscribed', () => {
    testScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const slow = cold<ProvisionerResponse>('------(r|)', { r: ok(requestOf('1', 'A')) });
      const plans = hot('-a---', { a: plan('1', 'A') });
      expectObservable(plans.pipe(deliver(() => slow)), '^--!').toBe('---');
      expectSubscriptions(slow.subscriptions).toBe('-^-!');
    });
  });

  it('delivers 20 000 requests for distinct records synchronously without growing the stack', async () => {
    const plans = Array.from({ length: 20_000 }, (_, index) => plan(String(index), `record-${index}`));
    const effect: HttpEffect = (request) => of(ok(request));
    const outcomes = await lastValueFrom(from(plans).pipe(deliver(effect), toArray()));
    expect(outcomes).toHaveLength(20_000);
    expect(outcomes.every((outcome) => outcome.kind === 'delivered')).toBe(true);
  });
});
