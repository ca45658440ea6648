// An app process for the crash tests through the real pipeline: createProvisioner with the
// SQLite store (STORE=sqlite, STORE_PATH) or the Redis store (STORE=redis, REDIS_URL, PREFIX,
// NAME, PARTITIONS; LOCK_MS, the workers' lock, default 2000), one endpoint RECEIVER_URL that
// gets each record's id and revision. It calls the publish hook for the events
// n < JOURNAL_COUNT (record n % RECORDS, revision n / RECORDS + 1), each in a unit of work
// that commits at once, then drains. With SHARE=i/k it calls it only for the records r with
// r % k = i (another instance takes the others, so each record's events come from one
// process); with WAIT_FOR_GO=1 it says 'ready' once its provisioner listens and waits for
// 'go' before the first hook call; with HOOK_BATCH=b it lets the event loop turn after every
// b hook calls (else all in one turn). Run again with JOURNAL_COUNT=0 it resumes what the
// store holds.
// Reports over IPC: 'ready', 'progress' (every 100 callbacks), 'journaled' (the event ids and
// their n), 'drained' (the delivered outcomes its outcomes$ saw, distinct, and the callbacks it
// ran: one per delivery it made).
import {
  createProvisioner,
  createRedisStore,
  createSqliteStore,
  createUnitOfWork,
  type DeliveryStore,
} from '../../../src/index.js';
import { requiredEnv as env, sendToParent as send, waitForGo } from '../../helpers/appProcess.js';
import { recordAt, revisionConfig } from '../../helpers/factories.js';

const url = env('RECEIVER_URL');
// The callback runs where the delivery was made, once per delivery.
const events = revisionConfig(url, () => {
  callbacks += 1;
  if (callbacks % 100 === 0) send({ type: 'progress', callbacks });
});

const store: DeliveryStore =
  env('STORE') === 'sqlite'
    ? createSqliteStore({ path: env('STORE_PATH') })
    : await createRedisStore({
        url: env('REDIS_URL'),
        prefix: env('PREFIX'),
        name: env('NAME'),
        partitions: Number(env('PARTITIONS')),
        lockDurationMs: Number(process.env['LOCK_MS'] ?? 2_000),
        stalledIntervalMs: 1_000,
        maxQueue: 100_000,
        drainPollMs: 50,
      });
let callbacks = 0;
const provisioner = createProvisioner({ events, store, http: { concurrency: 16 } });
// Every delivered outcome, whichever instance reached it, comes to every instance's outcomes$.
const delivered = new Set<string>();
provisioner.outcomes$.subscribe((outcome) => {
  if (outcome.kind === 'delivered') delivered.add(outcome.request.deliveryId);
});

await waitForGo();

const count = Number(env('JOURNAL_COUNT'));
const records = Number(env('RECORDS'));
const [share, shares] = (process.env['SHARE'] ?? '0/1').split('/').map(Number) as [number, number];
const hooks = provisioner.hooks('rdm_record');
const eventIds: string[] = [];
const indices: number[] = [];
provisioner.events$.subscribe((event) => eventIds.push(event.eventId));
const batch = Number(process.env['HOOK_BATCH'] ?? count);
let hookNs = 0n;
for (let n = 0; n < count; n += 1) {
  if ((n % records) % shares !== share) continue;
  // With HOOK_BATCH, hook calls come in batches, as from request handlers, not in one long
  // turn of the event loop: a turn longer than the workers' lock (LOCK_MS) would let another
  // instance take this one's deliveries over while it still runs them.
  if (indices.length > 0 && indices.length % batch === 0) await new Promise((resolve) => setImmediate(resolve));
  const started = process.hrtime.bigint();
  const uow = createUnitOfWork();
  hooks.publish({ identity: { id: 7 }, record: recordAt(`rec-${n % records}`, Math.floor(n / records) + 1), uow });
  uow.commit();
  hookNs += process.hrtime.bigint() - started;
  indices.push(n);
}
const hookUs = Number(hookNs) / 1_000;
if (indices.length > 0) {
  await store.flush();
  send({ type: 'journaled', count: indices.length, perEventUs: hookUs / indices.length, eventIds, indices });
}
await provisioner.drain();
send({ type: 'drained', delivered: delivered.size, callbacks });
await provisioner.close({ timeoutMs: 2_000 });
process.disconnect?.();
