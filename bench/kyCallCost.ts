/**
 * What ky 1.x costs per call on its own, with no I/O: a `beforeRequest` hook answers at once,
 * as the default effect's hook does with the lean fetch's response. Alongside it, the WHATWG
 * `Request` ky builds for every call, with and without the `AbortSignal` ky always makes it
 * follow: following a signal is what Node 20 makes expensive (a `WeakRef` and a
 * `FinalizationRegistry` entry per request, kept through young-generation collections).
 */
import ky from 'ky';
import { interleave, type Contender } from './rounds.js';
import { row, settledHeap, startUsage, type Row } from './stats.js';

/** Calls in flight at once, as at concurrency 16 end to end. */
const BATCH = 16;
const URL_OF_CALLS = 'http://127.0.0.1:9/api/v1/documents';

/** Runs `call` `total` times, `BATCH` at a time, and reports the CPU it took. */
function loopContender(name: string, call: () => Promise<unknown>, total: number): Contender {
  const run = async (count: number): Promise<{ done: number; wallNs: number; cpuUs: number }> => {
    const stop = startUsage();
    for (let done = 0; done < count; done += BATCH) {
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < BATCH; i += 1) calls.push(call());
      await Promise.all(calls);
    }
    return { ...stop(), done: count };
  };
  return {
    name,
    warmUp: async () => {
      await run(Math.min(total, 2_000));
    },
    measure: () => run(total),
    close: async () => {},
  };
}

/**
 * Rows "ky 1.x call alone, no I/O", "WHATWG Request, no signal" and "WHATWG Request following
 * an AbortSignal", CPU per call. ky's row is given as a ratio to `transportCpu` (raw undici's
 * CPU per request at concurrency 16 in the same run), the signal row to the no-signal row.
 */
export async function kyCallCost(quick: boolean, transportCpu: Row | undefined, log: (message: string) => void): Promise<Row[]> {
  const total = quick ? 1_600 : 8_000;
  const rounds = quick ? 2 : 5;
  // One answer for every call: ky only checks it is a Response and reads its status.
  const answer = new Response(null, { status: 204 });
  const hooks = { beforeRequest: [() => answer] };
  const neverCalled = (): Promise<Response> => Promise.reject(new Error('Expected the beforeRequest hook to answer, but ky called fetch'));
  const contenders = [
    loopContender('ky 1.x call alone, no I/O', () => ky(URL_OF_CALLS, { method: 'POST', retry: 0, throwHttpErrors: false, fetch: neverCalled, hooks }), total),
    loopContender('WHATWG Request, no signal', async () => new Request(URL_OF_CALLS, { method: 'POST' }), total),
    loopContender('WHATWG Request following an AbortSignal', async () => new Request(URL_OF_CALLS, { method: 'POST', signal: new AbortController().signal }), total),
  ];
  log(`a. ky's own cost per call: ${total} calls per round, ${rounds} rounds, ${BATCH} at a time`);
  const results = await interleave(contenders, rounds, log);
  // Let the finalization registry drop what these requests left, before the next section runs.
  await settledHeap();
  const cpu = (name: string): number[] => (results.get(name) ?? []).map((r) => r.cpuUs / r.done);
  const withoutSignal = row('a', 'WHATWG Request, no signal CPU', 'µs/call', cpu('WHATWG Request, no signal'));
  return [
    row('a', 'ky 1.x call alone, no I/O CPU', 'µs/call', cpu('ky 1.x call alone, no I/O'), {
      ...(transportCpu === undefined ? {} : { baseline: transportCpu }),
      note: 'a beforeRequest hook answers at once: the options merge, the Request and the promise chain',
    }),
    withoutSignal,
    row('a', 'WHATWG Request following an AbortSignal CPU', 'µs/call', cpu('WHATWG Request following an AbortSignal'), {
      baseline: withoutSignal,
      note: 'ky gives every Request its own signal to follow',
    }),
  ];
}
