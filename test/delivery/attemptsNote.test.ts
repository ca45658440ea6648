import type { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { NetworkError, sendWithRetry, type HttpEffect, type ProvisionerResponse, type SendResult } from '../../src/index.js';
import { deliveryRequest } from '../helpers/factories.js';

const URL_ = 'https://search.example.org/api/documents';
const respond = (status: number): ProvisionerResponse => ({ status, headers: {}, body: { status }, url: URL_ });

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Answers attempt n with the n-th observable, the last one again after that. */
function answering(attempts: readonly Observable<ProvisionerResponse>[]): HttpEffect {
  let count = 0;
  return () => attempts[Math.min(count++, attempts.length - 1)] as Observable<ProvisionerResponse>;
}

function messageOf(result: SendResult | undefined): string {
  return result?.kind === 'failed' ? result.error.message : `no failure (${result?.kind ?? 'nothing'})`;
}

describe('sendWithRetry: the final failure says how many attempts were made', () => {
  it('after the retry limit: "… got 503 (after 4 attempts)"', () => {
    let result: SendResult | undefined;
    scheduler().run(({ cold, flush }) => {
      const effect = answering([cold('-a|', { a: respond(503) })]);
      sendWithRetry(effect, deliveryRequest(URL_), { retry: { limit: 3 }, random: () => 0 }).subscribe((value) => {
        result = value;
      });
      flush();
    });
    expect(result).toMatchObject({ kind: 'failed', reason: 'http-status', attempts: 4 });
    expect(messageOf(result)).toBe(`Expected a 2xx response from POST ${URL_}, got 503 (after 4 attempts)`);
  });

  it('when a status is not retried: "(after 1 attempt)"', () => {
    let result: SendResult | undefined;
    scheduler().run(({ cold, flush }) => {
      sendWithRetry(answering([cold('-a|', { a: respond(404) })]), deliveryRequest(URL_)).subscribe((value) => {
        result = value;
      });
      flush();
    });
    expect(messageOf(result)).toBe(`Expected a 2xx response from POST ${URL_}, got 404 (after 1 attempt)`);
  });

  it('keeps the rest of a transport error message, and notes once an error object an effect hands out again', () => {
    const shared = new NetworkError(`Expected a response from POST ${URL_}, got ECONNRESET`);
    const results: SendResult[] = [];
    scheduler().run(({ cold, flush }) => {
      const effect = answering([cold('-#', undefined, shared)]);
      sendWithRetry(effect, deliveryRequest(URL_), { retry: { limit: 1 }, random: () => 0 }).subscribe((value) => results.push(value));
      sendWithRetry(effect, deliveryRequest(URL_), { retry: { limit: 2 }, random: () => 0 }).subscribe((value) => results.push(value));
      flush();
    });
    expect(results.map((result) => result.attempts)).toEqual([2, 3]);
    expect(shared.message).toBe(`Expected a response from POST ${URL_}, got ECONNRESET (after 3 attempts)`);
  });

  it('leaves a frozen error as it is', () => {
    const frozen = Object.freeze(new NetworkError('Expected a response, got none'));
    let result: SendResult | undefined;
    scheduler().run(({ cold, flush }) => {
      sendWithRetry(answering([cold('-#', undefined, frozen)]), deliveryRequest(URL_), { retry: { limit: 0 } }).subscribe((value) => {
        result = value;
      });
      flush();
    });
    expect(result).toMatchObject({ kind: 'failed', reason: 'network', attempts: 1 });
    expect(messageOf(result)).toBe('Expected a response, got none');
  });
});
