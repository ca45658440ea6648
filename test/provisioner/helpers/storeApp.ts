// An app process for the crash tests through the real pipeline: createProvisioner with the
// SQLite store (STORE=sqlite, STORE_PATH) or the Redis store (STORE=redis, REDIS_URL, PREFIX,
// NAME, PARTITIONS), one endpoint RECEIVER_URL that gets each record's id and revision. It
// calls the publish hook JOURNAL_COUNT times over RECORDS records, each in a unit of work that
// commits at once, then drains. Run again with JOURNAL_COUNT=0 it resumes what the store holds.
// Reports over IPC: 'journaled' (with the event ids), 'drained' (with what it delivered).
import { readFileSync } from 'node:fs';
import {
  createProvisioner,
  createRedisStore,
  createSqliteStore,
  createUnitOfWork,
  type AppRecord,
  type DeliveryStore,
  type ProvisionerConfig,
} from '../../../src/index.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`Expected the environment variable ${name}`);
  return value;
};
const send = (message: object): void => {
  process.send?.(message);
};

const FIXTURE = JSON.parse(readFileSync(new URL('../../fixtures/rdm-record.json', import.meta.url), 'utf8')) as AppRecord;
const url = env('RECEIVER_URL');
const events = {
  rdm_record: {
    [url]: {
      publish: {
        http_method: 'POST',
        payload: ({ record }: { readonly record?: AppRecord | null }) => ({ id: String(record?.id), revision_id: Number(record?.['revision_id']) }),
        auth_token: 'tok_crash_test',
        retry: { limit: 1_000, baseDelayMs: 20, maxDelayMs: 50 },
      },
    },
  },
} as unknown as ProvisionerConfig;

const store: DeliveryStore =
  env('STORE') === 'sqlite'
    ? createSqliteStore({ path: env('STORE_PATH') })
    : await createRedisStore({
        url: env('REDIS_URL'),
        prefix: env('PREFIX'),
        name: env('NAME'),
        partitions: Number(env('PARTITIONS')),
        lockDurationMs: 2_000,
        stalledIntervalMs: 1_000,
        maxQueue: 100_000,
        drainPollMs: 50,
      });
const provisioner = createProvisioner({ events, store, http: { concurrency: 16 } });
let delivered = 0;
provisioner.outcomes$.subscribe((outcome) => {
  if (outcome.kind === 'delivered') delivered += 1;
});

const count = Number(env('JOURNAL_COUNT'));
const records = Number(env('RECORDS'));
const hooks = provisioner.hooks('rdm_record');
const eventIds: string[] = [];
provisioner.events$.subscribe((event) => eventIds.push(event.eventId));
const started = process.hrtime.bigint();
for (let n = 0; n < count; n += 1) {
  const uow = createUnitOfWork();
  hooks.publish({ identity: { id: 7 }, record: { ...FIXTURE, id: `rec-${n % records}`, revision_id: Math.floor(n / records) + 1 }, uow });
  uow.commit();
}
const hookUs = Number(process.hrtime.bigint() - started) / 1_000;
if (count > 0) {
  await store.flush();
  send({ type: 'journaled', count, perEventUs: hookUs / count, eventIds });
}
await provisioner.drain();
send({ type: 'drained', delivered });
await provisioner.close({ timeoutMs: 2_000 });
process.disconnect?.();
