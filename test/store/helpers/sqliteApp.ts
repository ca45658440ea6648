// An app process for the SQLite crash test: it journals JOURNAL_COUNT events (one hook call
// each, over RECORDS records) into the store at STORE_PATH, then delivers them to
// RECEIVER_URL with a minimal loop (the store and the test handlers; phase 2 puts the real
// pipeline here). Run again with JOURNAL_COUNT=0 it resumes what the store holds. Reports
// over IPC: 'opened' (with what it found), 'journaled', 'drained'.
import { createSqliteStore } from '../../../src/store/sqliteStore.js';
import { publishEvent } from '../../helpers/factories.js';
import { testHandlers } from './handlers.js';
import { requiredEnv as env, sendToParent as send } from '../../helpers/appProcess.js';


const store = createSqliteStore({ path: env('STORE_PATH') });
send({ type: 'opened', pending: store.pending() });

const count = Number(env('JOURNAL_COUNT'));
const records = Number(env('RECORDS'));
const url = env('RECEIVER_URL');
const runId = env('RUN_ID');
const started = process.hrtime.bigint();
for (let n = 0; n < count; n += 1) {
  const event = publishEvent(`rec-${n % records}`, Math.floor(n / records) + 1, { eventId: `${runId}-${n}` });
  const result = store.journal([{ event, endpoints: [url] }]);
  if (result.kind !== 'journaled') throw new Error(`Expected event ${n} to be journaled, got ${result.kind}`);
}
const journalUs = Number(process.hrtime.bigint() - started) / 1_000;
if (count > 0) send({ type: 'journaled', count, perEventUs: journalUs / count });

let delivered = 0;
store.outcomes$.subscribe(({ outcome }) => {
  if (outcome.kind === 'delivered') delivered += 1;
});
store.start(testHandlers({ concurrency: 16, limit: 1_000, retryDelayMs: 50 }));
await store.drain();
send({ type: 'drained', delivered });
await store.close();
process.disconnect?.();
