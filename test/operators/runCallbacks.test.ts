import { NEVER, from, lastValueFrom, map, timer, toArray, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { runCallbacks } from '../../src/operators/runCallbacks.js';
import { CallbackError, type CallbackMeta, type CallbackOutcome, type DeliveredOutcome, type DeliveryOutcome, type ProvisionerConfig, type ProvisionerResponse, type RequestDescriptor } from '../../src/index.js';
import { currentCause } from '../../src/hooks/causeContext.js';
import { rdmRecord, serviceEvent } from '../helpers/factories.js';

const SEARCH = 'https://search.example.org/api/v1/documents';
const AUDIT = 'https://audit.example.org/hooks';

const testScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

type Callback = (response: ProvisionerResponse, meta: CallbackMeta) => unknown;

const configWith = (callback: Callback): ProvisionerConfig => ({
  rdm_record: {
    [SEARCH]: { publish: { http_method: 'POST', payload: { a: 1 }, callback } },
    [AUDIT]: { publish: { http_method: 'POST', payload: { a: 1 } } },
  },
});

const record = rdmRecord();
const event = serviceEvent({ eventId: 'e1', method: 'publish', record, draft: rdmRecord({ is_draft: true }) });

function delivered(name: string, endpoint = SEARCH): DeliveredOutcome {
  const request: RequestDescriptor = {
    deliveryId: name,
    eventId: 'e1',
    serviceType: 'rdm_record',
    serviceMethod: 'publish',
    endpoint,
    url: `${endpoint}?v=1`,
    method: 'POST',
    headers: {},
    payload: { a: 1 },
    body: '{"a":1}',
    recordId: 'q1k7x-8mz42',
    draftId: 'q1k7x-8mz42',
  };
  return {
    kind: 'delivered',
    event,
    endpoint,
    request,
    response: { status: 201, headers: {}, body: { _id: `remote-${name}` }, url: request.url },
    attempts: 2,
    acceptedAt: 0,
    settledAt: 0,
  };
}

const failed: DeliveryOutcome = {
  kind: 'failed',
  event,
  endpoint: SEARCH,
  request: null,
  reason: 'payload',
  error: new CallbackError('not a callback error really'),
  attempts: 0,
  response: null,
  acceptedAt: 0,
  settledAt: 0,
};

const label = (outcome: CallbackOutcome): string =>
  outcome.kind === 'ok' ? `ok ${outcome.delivery.request.deliveryId} ${JSON.stringify(outcome.value) ?? 'undefined'}` : `error ${outcome.delivery.request.deliveryId}`;

describe('runCallbacks', () => {
  it('runs the callback of each delivered outcome whose config has one, and nothing else', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const callback: Callback = (response) => (response.body as { _id: string })._id;
      const outcomes = cold('-a-f-n-b|', { a: delivered('1'), f: failed, n: delivered('2', AUDIT), b: delivered('3') });
      expectObservable(outcomes.pipe(runCallbacks(configWith(callback)), map(label))).toBe('-a-----b|', {
        a: 'ok 1 "remote-1"',
        b: 'ok 3 "remote-3"',
      });
    });
  });

  it('takes the last value of an Observable, when it completes', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const callback: Callback = (): Observable<string> => cold('-x--y|');
      expectObservable(cold('-a|', { a: delivered('1') }).pipe(runCallbacks(configWith(callback)), map(label))).toBe('------(a|)', {
        a: 'ok 1 "y"',
      });
    });
  });

  it('gives ok with no value for an empty Observable or no return value', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a|', { a: delivered('1') }).pipe(runCallbacks(configWith(() => cold('--|'))), map(label))).toBe('---(a|)', {
        a: 'ok 1 undefined',
      });
      expectObservable(cold('-a|', { a: delivered('1') }).pipe(runCallbacks(configWith(() => undefined)), map(label))).toBe('-a|', {
        a: 'ok 1 undefined',
      });
    });
  });

  it('turns a throwing callback or an erroring Observable into an error outcome and goes on', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      let calls = 0;
      const callback: Callback = () => {
        calls += 1;
        if (calls === 1) throw new Error('store is read-only');
        if (calls === 2) return cold('-#', undefined, new Error('index full'));
        return 'fine';
      };
      const outcomes = cold('-a-b-c|', { a: delivered('1'), b: delivered('2'), c: delivered('3') });
      expectObservable(outcomes.pipe(runCallbacks(configWith(callback)), map(label))).toBe('-a--bc|', {
        a: 'error 1',
        b: 'error 2',
        c: 'ok 3 "fine"',
      });
    });
  });

  it('gives an error outcome when the callback does not settle within timeoutMs', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const outcomes = cold('-a|', { a: delivered('1') }).pipe(runCallbacks(configWith(() => NEVER), { timeoutMs: 200 }));
      expectObservable(outcomes.pipe(map((outcome) => (outcome.kind === 'error' ? outcome.error.message : 'ok')))).toBe('- 200ms (e|)', {
        e: `Expected the callback of rdm_record["${SEARCH}"].publish for record q1k7x-8mz42 (delivery 1) to settle within 200 ms, it did not`,
      });
    });
  });

  it('awaits a Promise, and a rejection is an error outcome with a CallbackError naming the config path', async () => {
    const callback: Callback = async (response, meta) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (meta.delivery_id === '2') throw new Error('remote id missing');
      return (response.body as { _id: string })._id;
    };
    const results = await lastValueFrom(from([delivered('1'), delivered('2')]).pipe(runCallbacks(configWith(callback)), toArray()));
    expect(results.map(label)).toEqual(['ok 1 "remote-1"', 'error 2']);
    const error = results[1]?.kind === 'error' ? results[1].error : null;
    expect(error).toBeInstanceOf(CallbackError);
    expect(error?.message).toBe(`The callback of rdm_record["${SEARCH}"].publish for record q1k7x-8mz42 (delivery 2) failed: remote id missing`);
    expect(results[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('passes the response and the seed\'s keyword arguments, plus the delivery and the original arguments', async () => {
    const calls: [ProvisionerResponse, CallbackMeta][] = [];
    const outcome = delivered('1');
    await lastValueFrom(from([outcome]).pipe(runCallbacks(configWith((response, meta) => calls.push([response, meta]))), toArray()));
    expect(calls).toHaveLength(1);
    const [response, meta] = calls[0]!;
    expect(response).toBe(outcome.response);
    expect(meta).toEqual({
      service_type: 'rdm_record',
      service_method: 'publish',
      request_url: `${SEARCH}?v=1`,
      payload: { a: 1 },
      record_id: 'q1k7x-8mz42',
      draft_id: 'q1k7x-8mz42',
      delivery_id: '1',
      endpoint: SEARCH,
      attempts: 2,
      record,
      draft: rdmRecord({ is_draft: true }),
      data: null,
      event,
    });
  });

  it('runs the callback, its awaits, promise chains and Observable inside the delivery\'s cause', async () => {
    const seen: unknown[] = [];
    const cause = { deliveryId: '1', serviceType: 'rdm_record', serviceMethod: 'publish', endpoint: SEARCH };
    const asyncCallback: Callback = async () => {
      seen.push(currentCause());
      await new Promise((resolve) => setTimeout(resolve, 1));
      seen.push(currentCause());
    };
    await lastValueFrom(from([delivered('1')]).pipe(runCallbacks(configWith(asyncCallback)), toArray()));
    const chainedCallback: Callback = () =>
      new Promise<void>((resolve) => setTimeout(resolve, 1)).then(() => {
        seen.push(currentCause());
      });
    await lastValueFrom(from([delivered('1')]).pipe(runCallbacks(configWith(chainedCallback)), toArray()));
    const observableCallback: Callback = () => timer(1).pipe(map(() => seen.push(currentCause())));
    await lastValueFrom(from([delivered('1')]).pipe(runCallbacks(configWith(observableCallback)), toArray()));
    expect(seen).toEqual([cause, cause, cause, cause]);
    expect(currentCause()).toBeNull();
  });
});
