import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { EndpointGate, type EndpointPermit } from '../../src/delivery/endpointGate.js';
import { endpointPolicies } from '../../src/delivery/endpointPolicy.js';
import type { EndpointSignal } from '../../src/delivery/endpointState.js';
import type { EndpointStatus } from '../../src/events/endpointStatus.js';

const ENDPOINT = 'https://search.example.org/api/v1/documents';
const OTHER = 'https://registry.example.org/api/records';
const FAILURE: EndpointSignal = { kind: 'failure', reason: 'network' };
const SUCCESS: EndpointSignal = { kind: 'success' };

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

type Start = { readonly id: string; readonly at: number; readonly permit: EndpointPermit | 'expired' };

/** A gate in virtual time, and a log of when each request was let through. */
function harness(testScheduler: TestScheduler, policy: Parameters<typeof endpointPolicies>[0]) {
  const gate = new EndpointGate(endpointPolicies(policy), testScheduler);
  const starts: Start[] = [];
  const statuses: EndpointStatus[] = [];
  gate.statuses$.subscribe((status) => statuses.push(status));
  const ask = (id: string, endpoint = ENDPOINT, deadline = Number.POSITIVE_INFINITY, fresh = false): void => {
    const now = testScheduler.now();
    const permit = gate.tryStart(endpoint, id);
    if (permit !== null) {
      starts.push({ id, at: now, permit });
      return;
    }
    gate.wait(endpoint, id, deadline, fresh).subscribe((leave) => starts.push({ id, at: testScheduler.now(), permit: leave }));
  };
  const permitOf = (id: string): EndpointPermit => {
    const start = [...starts].reverse().find((candidate) => candidate.id === id);
    if (start === undefined || start.permit === 'expired') throw new Error(`Expected ${id} to have started, it has not`);
    return start.permit;
  };
  return { gate, starts, statuses, ask, permitOf };
}

describe('EndpointGate: the circuit breaker', () => {
  it('opens after 5 deliveries fail in a row, lets one probe out per cool-down (1 s, 2 s, 4 s) and closes on the first success', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ flush }) => {
      const { starts, statuses, ask, permitOf } = harness(testScheduler, { concurrency: 16, maxRetryAfterMs: 60_000 });
      for (const id of ['a', 'b', 'c', 'd', 'e']) ask(id);
      expect(['a', 'b', 'c', 'd'].map((id) => permitOf(id).end(FAILURE))).toEqual([false, false, false, false]);
      // The fifth failure opens the circuit; the attempt counts as it is (it was made).
      expect(permitOf('e').end(FAILURE)).toBe(false);
      expect(statuses.at(-1)).toMatchObject({ endpoint: ENDPOINT, state: 'open', since: 0, reason: 'network', until: 1_000 });

      ask('e');
      ask('f');
      flush();
      // One probe at 1 s; f waits behind it.
      expect(starts.slice(5).map(({ id, at }) => [id, at])).toEqual([['e', 1_000]]);
      expect(permitOf('e').end(FAILURE)).toBe(true);
      expect(statuses.at(-1)).toMatchObject({ state: 'open', since: 1_000, until: 3_000 });
      ask('e');
      flush();
      expect(starts.slice(6).map(({ id, at }) => [id, at])).toEqual([['f', 3_000]]);
      expect(permitOf('f').end(FAILURE)).toBe(true);
      ask('f');
      flush();
      expect(starts.slice(7).map(({ id, at }) => [id, at])).toEqual([['e', 7_000]]);
      expect(permitOf('e').end(SUCCESS)).toBe(false);
      flush();
      // Closed: everything waiting goes at once.
      expect(starts.slice(8).map(({ id, at }) => [id, at])).toEqual([['f', 7_000]]);
      expect(statuses.map(({ state, since }) => [state, since])).toEqual([
        ['open', 0],
        ['half-open', 1_000],
        ['open', 1_000],
        ['half-open', 3_000],
        ['open', 3_000],
        ['half-open', 7_000],
        ['closed', 7_000],
      ]);
    });
  });

  it('a single delivery\'s retries alone do not open the circuit; two deliveries failing in turn do', () => {
    const testScheduler = scheduler();
    testScheduler.run(() => {
      const { ask, permitOf, statuses } = harness(testScheduler, { concurrency: 16, maxRetryAfterMs: 60_000 });
      for (let attempt = 0; attempt < 10; attempt += 1) {
        ask('only');
        expect(permitOf('only').end(FAILURE)).toBe(false);
      }
      expect(statuses).toEqual([]);
      ask('second');
      expect(permitOf('second').end(FAILURE)).toBe(false);
      expect(statuses.map(({ state }) => state)).toEqual(['open']);
    });
  });

  it('forgets failures older than the window, and any answer from the endpoint resets the run', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ flush }) => {
      const { ask, permitOf, statuses } = harness(testScheduler, { concurrency: 16, maxRetryAfterMs: 60_000, circuitBreaker: { windowMs: 1_000 } });
      for (const id of ['a', 'b', 'c', 'd']) {
        ask(id);
        permitOf(id).end(FAILURE);
      }
      testScheduler.schedule(() => {
        ask('e');
        expect(permitOf('e').end(FAILURE)).toBe(false);
        for (const id of ['f', 'g', 'h']) {
          ask(id);
          permitOf(id).end(FAILURE);
        }
        ask('i');
        permitOf('i').end({ kind: 'answered' });
        ask('j');
        expect(permitOf('j').end(FAILURE)).toBe(false);
      }, 1_500);
      flush();
      expect(statuses).toEqual([]);
    });
  });

  it('never opens when turned off', () => {
    const testScheduler = scheduler();
    testScheduler.run(() => {
      const { ask, permitOf, statuses } = harness(testScheduler, { concurrency: 16, maxRetryAfterMs: 60_000, circuitBreaker: false });
      for (let index = 0; index < 20; index += 1) {
        ask(`d${index}`);
        expect(permitOf(`d${index}`).end(FAILURE)).toBe(false);
      }
      expect(statuses).toEqual([]);
    });
  });

  it('sends as the probe a delivery never sent before, when one waits', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ flush }) => {
      const { ask, permitOf, starts } = harness(testScheduler, { concurrency: 16, maxRetryAfterMs: 60_000 });
      for (const id of ['a', 'b', 'c', 'd', 'e']) {
        ask(id);
        permitOf(id).end(FAILURE);
      }
      ask('a');
      ask('new', ENDPOINT, Number.POSITIVE_INFINITY, true);
      flush();
      expect(starts.slice(5).map(({ id, at }) => [id, at])).toEqual([['new', 1_000]]);
      permitOf('new').end(SUCCESS);
      flush();
      expect(starts.slice(6).map(({ id, at }) => [id, at])).toEqual([['a', 1_000]]);
    });
  });

  it('holds only the endpoint that failed', () => {
    const testScheduler = scheduler();
    testScheduler.run(() => {
      const { ask, permitOf, starts } = harness(testScheduler, { concurrency: 16, maxRetryAfterMs: 60_000 });
      for (const id of ['a', 'b', 'c', 'd', 'e']) {
        ask(id);
        permitOf(id).end(FAILURE);
      }
      ask('held');
      ask('other', OTHER);
      expect(starts.map(({ id }) => id)).toEqual(['a', 'b', 'c', 'd', 'e', 'other']);
    });
  });
});

describe('EndpointGate: pauses, throttling, limits and expiry', () => {
  it('a Retry-After pauses the whole endpoint; attempts already in flight go on', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ flush }) => {
      const { ask, permitOf, starts, statuses } = harness(testScheduler, { concurrency: 16, maxRetryAfterMs: 60_000 });
      ask('a');
      ask('b');
      expect(permitOf('a').end({ kind: 'throttled', pauseMs: 2_000 })).toBe(false);
      ask('c');
      ask('d');
      expect(permitOf('b').end(SUCCESS)).toBe(false);
      flush();
      expect(starts.map(({ id, at }) => [id, at])).toEqual([
        ['a', 0],
        ['b', 0],
        ['c', 2_000],
        ['d', 2_000],
      ]);
      expect(statuses).toEqual([{ endpoint: ENDPOINT, state: 'paused', since: 0, reason: 'retry-after', until: 2_000 }]);
    });
  });

  it('halves the concurrency on each 429 without Retry-After, never below 1, and grows it back by one per success', () => {
    const testScheduler = scheduler();
    testScheduler.run(() => {
      const { gate, ask, permitOf, starts, statuses } = harness(testScheduler, { concurrency: 8, maxRetryAfterMs: 60_000 });
      const inFlight = (): number => starts.length - ended.size;
      const ended = new Set<string>();
      const end = (id: string, signal: EndpointSignal): void => {
        ended.add(id);
        permitOf(id).end(signal);
      };
      for (let index = 0; index < 8; index += 1) ask(`a${index}`);
      expect(inFlight()).toBe(8);
      for (let index = 0; index < 4; index += 1) end(`a${index}`, { kind: 'throttled', pauseMs: null });
      expect(statuses.map((status) => status.concurrency)).toEqual([4, 2, 1]);
      // 4 still in flight over a limit of 1: nothing new starts until they end.
      ask('b');
      expect(starts.some(({ id }) => id === 'b')).toBe(false);
      for (let index = 4; index < 8; index += 1) end(`a${index}`, SUCCESS);
      // Four successes: 1 → 5; b went when the in-flight count dropped below the limit.
      expect(starts.some(({ id }) => id === 'b')).toBe(true);
      expect([...gate.circuits()]).toEqual([{ endpoint: ENDPOINT, state: 'closed' }]);
    });
  });

  it('spaces request starts 1000 / ratePerSecond ms apart, with no burst', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ flush }) => {
      const { ask, starts } = harness(testScheduler, { concurrency: 1_000, maxRetryAfterMs: 60_000, endpoints: { [ENDPOINT]: { ratePerSecond: 50 } } });
      for (let index = 0; index < 120; index += 1) ask(`d${index}`);
      flush();
      const times = starts.map(({ at }) => at);
      expect(times.slice(0, 4)).toEqual([0, 20, 40, 60]);
      const busiest = Math.max(...times.map((start) => times.filter((time) => time >= start && time < start + 1_000).length));
      expect(busiest).toBe(50);
    });
  });

  it('caps attempts in flight at the endpoint concurrency', () => {
    const testScheduler = scheduler();
    testScheduler.run(() => {
      const { ask, permitOf, starts } = harness(testScheduler, { concurrency: 16, maxRetryAfterMs: 60_000, endpoints: { [ENDPOINT]: { concurrency: 2 } } });
      for (const id of ['a', 'b', 'c']) ask(id);
      expect(starts.map(({ id }) => id)).toEqual(['a', 'b']);
      permitOf('a').end(SUCCESS);
      expect(starts.map(({ id }) => id)).toEqual(['a', 'b', 'c']);
    });
  });

  it('gives up on a waiting delivery at its deadline', () => {
    const testScheduler = scheduler();
    testScheduler.run(({ flush }) => {
      const { ask, permitOf, starts } = harness(testScheduler, { concurrency: 16, maxRetryAfterMs: 60_000, circuitBreaker: { minCooldownMs: 10_000 } });
      for (const id of ['a', 'b', 'c', 'd', 'e']) {
        ask(id);
        permitOf(id).end(FAILURE);
      }
      ask('late', ENDPOINT, 5_000);
      flush();
      expect(starts.at(-1)).toEqual({ id: 'late', at: 5_000, permit: 'expired' });
    });
  });
});
