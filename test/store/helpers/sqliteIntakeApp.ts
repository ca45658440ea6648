// An app process for the SQLite intake log tests: it journals JOURNAL_COUNT events (one hook
// call each, over RECORDS records) into the store at STORE_PATH and kills itself with SIGKILL
// in the same turn, before the store has moved a single one into the database: what it
// journaled is then only in the intake log.
import { createSqliteStore } from '../../../src/store/sqliteStore.js';
import { publishEvent } from '../../helpers/factories.js';
import { requiredEnv as env } from '../../helpers/appProcess.js';

const store = createSqliteStore({ path: env('STORE_PATH') });
const count = Number(env('JOURNAL_COUNT'));
const records = Number(env('RECORDS'));
const url = env('RECEIVER_URL');
const runId = env('RUN_ID');
for (let n = 0; n < count; n += 1) {
  const event = publishEvent(`rec-${n % records}`, Math.floor(n / records) + 1, { eventId: `${runId}-${n}` });
  const result = store.journal([{ event, endpoints: [url] }]);
  if (result.kind !== 'journaled') throw new Error(`Expected event ${n} to be journaled, got ${result.kind}`);
}
process.kill(process.pid, 'SIGKILL');
