/**
 * What ky costs per call on its own, with no I/O: its `fetch` answers at once, called with the
 * options the default effect gives (retries and ky's timeout off). That is ky's share of every
 * delivery (its options merge, the WHATWG `Request` it builds with a signal to follow, its
 * promise chain), which no transport under ky can spare.
 */
import ky from 'ky';
import { interleave, type Contender } from './rounds.js';
import { row, settledHeap, startUsage, type Row } from './stats.js';

/** Calls in flight at once, as at concurrency 16 end to end. */
const BATCH = 16;
const URL_OF_CALLS = 'http://127.0.0.1:9/api/v1/documents';
const KY_ALONE = 'ky call alone, no I/O';

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
 * The row "ky call alone, no I/O", CPU per call, as a ratio to `transportCpu` (raw undici's
 * CPU per request at concurrency 16 in the same run).
 */
export async function kyCallCost(quick: boolean, transportCpu: Row | undefined, log: (message: string) => void): Promise<Row[]> {
  const total = quick ? 1_600 : 8_000;
  const rounds = quick ? 2 : 5;
  // One answer for every call: ky only checks it is a Response and reads its status.
  const answer = new Response(null, { status: 204 });
  const answerAtOnce = (): Promise<Response> => Promise.resolve(answer);
  const contenders = [
    loopContender(KY_ALONE, () => ky(URL_OF_CALLS, { method: 'POST', retry: 0, throwHttpErrors: false, timeout: false, fetch: answerAtOnce }), total),
  ];
  log(`a. ky's own cost per call: ${total} calls per round, ${rounds} rounds, ${BATCH} at a time`);
  const results = await interleave(contenders, rounds, log);
  // Let what these calls left (their Requests and signals) go before the next section runs.
  await settledHeap();
  const cpu = (results.get(KY_ALONE) ?? []).map((r) => r.cpuUs / r.done);
  return [
    row('a', `${KY_ALONE} CPU`, 'µs/call', cpu, {
      ...(transportCpu === undefined ? {} : { baseline: transportCpu }),
      note: 'its fetch answers at once: the options merge, the Request and the promise chain',
    }),
  ];
}
