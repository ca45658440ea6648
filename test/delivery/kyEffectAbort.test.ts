import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttemptAbort, createLeanFetch } from '../../src/delivery/leanFetch.js';
import { createKyEffect } from '../../src/index.js';
import { deliveryRequest } from '../helpers/factories.js';
import { answerJson, startReceiver, type Receiver } from '../helpers/receiver.js';

let server: Receiver;
const effect = createKyEffect({ connections: 1 });
const leanFetch = createLeanFetch();

beforeAll(async () => {
  server = await startReceiver((request, response) => answerJson(response, 200, { path: request.path }));
});

afterAll(async () => {
  await effect.close();
  await leanFetch.close();
  await server.close();
});

const seen = (path: string): number => server.requests.filter((request) => request.path === path).length;

describe('aborts that come before the request is sent', () => {
  it('an effect unsubscribed in the tick it was subscribed sends nothing, and leaves its connection free', async () => {
    for (let index = 0; index < 5; index += 1) effect(deliveryRequest(server.url('/dropped'))).subscribe().unsubscribe();
    const response = await firstValueFrom(effect(deliveryRequest(server.url('/kept'))));
    expect(response).toMatchObject({ status: 200, body: { path: '/kept' } });
    expect(seen('/dropped')).toBe(0);
  });

  it('a lean fetch with an attempt abort already aborted rejects without sending', async () => {
    const abortEmitter = new AttemptAbort();
    abortEmitter.abort();
    await expect(leanFetch(server.url('/pre-aborted'), { lean: { abortEmitter } })).rejects.toThrow('aborted before it was sent');
    expect(seen('/pre-aborted')).toBe(0);
  });

  it('an attempt abort calls each listener once and forgets removed ones', () => {
    const abort = new AttemptAbort();
    const calls: string[] = [];
    const removed = (): void => {
      calls.push('removed');
    };
    abort.once('abort', () => calls.push('first'));
    abort.on('abort', removed);
    abort.removeListener('abort', removed);
    abort.abort();
    abort.abort();
    expect(calls).toEqual(['first']);
    expect(abort.aborted).toBe(true);
  });
});
