// An app process for the close test: it opens the durable store STORE (postgres, redis or
// sqlite) under createProvisioner, delivers one event to RECEIVER_URL, closes the store with a
// close timeout of ten minutes (the provisioner caps its own at 5 s), then the provisioner, and
// reports 'closed'. It never calls process.exit: it ends only when nothing of the library is
// left holding its event loop.
import { createPostgresStore, createProvisioner, createRedisStore, createSqliteStore, defineConfig, type DeliveryStore } from '../../../src/index.js';
import { requiredEnv as env, sendToParent as send } from '../../helpers/appProcess.js';
import { identity, rdmRecord } from '../../helpers/factories.js';

const CLOSE_TIMEOUT_MS = 600_000;

const kind = env('STORE');
const store: DeliveryStore =
  kind === 'postgres'
    ? await createPostgresStore({ connectionString: env('DATABASE_URL'), schema: env('SCHEMA') })
    : kind === 'redis'
      ? await createRedisStore({ url: env('REDIS_URL'), prefix: env('PREFIX') })
      : createSqliteStore({ path: env('STORE_PATH') });
const events = defineConfig({ rdm_record: { [env('RECEIVER_URL')]: { publish: { http_method: 'POST', payload: { id: 'id' } } } } });
const provisioner = createProvisioner({ events, store });
const delivered = new Promise<string>((resolve) => provisioner.outcomes$.subscribe((outcome) => resolve(outcome.kind)));
provisioner.hooks('rdm_record').publish({ identity, record: rdmRecord() });
const outcome = await delivered;
await store.close({ timeoutMs: CLOSE_TIMEOUT_MS });
await provisioner.close();
send({ type: 'closed', outcome });
