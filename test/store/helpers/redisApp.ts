// An app instance for the Redis crash tests: it opens the Redis store (REDIS_URL, PREFIX,
// NAME, PARTITIONS), journals JOURNAL_COUNT events over RECORDS records if asked (one hook call
// each) and waits until Redis has them, then delivers to RECEIVER_URL with a minimal loop (the
// store and the test handlers; phase 2 puts the real pipeline here) until the parent says
// 'close'. Reports over IPC: 'journaled', 'started', 'closed' (with how many it delivered).
import { createRedisStore } from '../../../src/store/redisStore.js';
import { publishEvent } from '../../helpers/factories.js';
import { testHandlers } from './handlers.js';
import { requiredEnv as env, sendToParent as send } from '../../helpers/appProcess.js';


const url = env('RECEIVER_URL');
const store = await createRedisStore({
  url: env('REDIS_URL'),
  prefix: env('PREFIX'),
  name: env('NAME'),
  partitions: Number(env('PARTITIONS')),
  lockDurationMs: 2_000,
  stalledIntervalMs: 1_000,
  maxQueue: 100_000,
});
let delivered = 0;
store.outcomes$.subscribe(({ outcome, local }) => {
  if (local && outcome.kind === 'delivered') delivered += 1;
});

const count = Number(env('JOURNAL_COUNT'));
const records = Number(env('RECORDS'));
const runId = env('RUN_ID');
if (count > 0) {
  const started = process.hrtime.bigint();
  for (let n = 0; n < count; n += 1) {
    const event = publishEvent(`rec-${n % records}`, Math.floor(n / records) + 1, { eventId: `${runId}-${n}` });
    const result = store.journal([{ event, endpoints: [url] }]);
    if (result.kind !== 'journaled') throw new Error(`Expected event ${n} to be journaled, got ${result.kind}`);
  }
  const journalUs = Number(process.hrtime.bigint() - started) / 1_000;
  await store.flush();
  send({ type: 'journaled', count, perEventUs: journalUs / count, flushedMs: Number(process.hrtime.bigint() - started) / 1e6 });
}

store.start({ ...testHandlers({ limit: 1_000, retryDelayMs: 50 }), endpoints: [url] });
send({ type: 'started' });

process.on('message', (message: { readonly type: string }) => {
  if (message.type !== 'close') return;
  void store.close({ timeoutMs: 2_000 }).then(() => {
    send({ type: 'closed', delivered });
    process.disconnect?.();
  });
});
