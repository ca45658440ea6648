/**
 * The stores the fault suite runs with: the default (no `store` option: `createMemoryStore()`),
 * the SQLite store on a temporary file, the Redis store under a prefix of its own whose
 * keys are removed afterwards, and the PostgreSQL store in a schema of its own, dropped afterwards. Each suite file picks one with {@link faultStore} and passes it
 * to its shared suite, so the same tests run once per store, in files vitest runs in parallel.
 *
 * @internal test helper
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPostgresStore, createRedisStore, createSqliteStore, sqliteStoreAvailability, type DeliveryStore } from 'remote-api-provisioner';
import { DATABASE_URL, assertPostgresReachable, dropSchema, uniqueSchema } from '../../store/helpers/postgres.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from '../../store/helpers/redis.js';
import type { ReceiverPlan } from './faultPlan.js';
import { startFaultReceiver, type FaultReceiver } from './faultReceiver.js';

/** Which store a suite runs with. */
export type FaultStoreName = 'memory' | 'sqlite' | 'redis' | 'postgres';

/** What a test may ask of the store it opens. */
export type StoreTuning = {
  /** The bound: `http.maxQueue` in memory, the store's own `maxQueue` otherwise. */
  readonly maxQueue?: number;
  /** Redis only: queues per endpoint, i.e. deliveries in flight per endpoint. @default 16 */
  readonly partitions?: number;
};

/** The options a provisioner gets for one store: `{}` in memory, `{ store }` otherwise. */
export type StoreOptions = { readonly store?: DeliveryStore; readonly http?: { readonly maxQueue?: number } };

/** One store of the fault suite. */
export type FaultStore = {
  readonly name: FaultStoreName;
  /** Why the store cannot run in this Node.js (better-sqlite3 installed by another Node.js), or `null`. */
  readonly unavailable: string | null;
  /** Whether accepted work outlives the provisioner (SQLite, Redis, PostgreSQL): `close()` keeps what is unsettled. */
  readonly durable: boolean;
  /** Call in `beforeAll`: fails with a clear message when Redis or PostgreSQL does not answer. */
  setUp(): Promise<void>;
  /** A fresh store named `label` (a file, a queue name), as provisioner options. */
  open(label: string, tuning?: StoreTuning): Promise<StoreOptions>;
  /** The store named `label` again, as a restarted app opens it (durable stores only). */
  reopen(label: string, tuning?: StoreTuning): Promise<StoreOptions>;
  /** Call in `afterAll`: removes the files or keys. */
  tearDown(): Promise<void>;
};

/** The Redis timings of the store tests: a dead worker's delivery is taken over within about 3 s. */
const REDIS_TIMINGS = { lockDurationMs: 2_000, stalledIntervalMs: 1_000, drainPollMs: 20 } as const;

/** The PostgreSQL timings of the store tests: a lock longer than any attempt of the suites (10 s at most). */
const POSTGRES_TIMINGS = { lockDurationMs: 15_000, drainPollMs: 20, pollIntervalMs: 500 } as const;

/** The store `name`, with its own temporary directory or Redis prefix. */
export function faultStore(name: FaultStoreName): FaultStore {
  switch (name) {
    case 'memory':
      return {
        name,
        unavailable: null,
        durable: false,
        setUp: async () => undefined,
        open: async (_label, tuning = {}) => (tuning.maxQueue === undefined ? {} : { http: { maxQueue: tuning.maxQueue } }),
        reopen: () => Promise.reject(new Error('Expected a durable store to reopen, got the default memory store')),
        tearDown: async () => undefined,
      };
    case 'sqlite': {
      const availability = sqliteStoreAvailability();
      let dir: string | null = null;
      const file = (label: string): string => {
        dir ??= mkdtempSync(path.join(tmpdir(), 'rap-faults-'));
        return path.join(dir, `${label}.db`);
      };
      const sqlite = (label: string, tuning: StoreTuning): StoreOptions => ({
        store: createSqliteStore({ path: file(label), ...(tuning.maxQueue === undefined ? {} : { maxQueue: tuning.maxQueue }) }),
      });
      return {
        name,
        unavailable: availability.reason,
        durable: true,
        setUp: async () => undefined,
        open: async (label, tuning = {}) => {
          rmSync(file(label), { force: true });
          return sqlite(label, tuning);
        },
        reopen: async (label, tuning = {}) => sqlite(label, tuning),
        tearDown: async () => {
          if (dir !== null) rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    case 'redis': {
      const prefix = uniquePrefix();
      let used = false;
      const redis = async (label: string, tuning: StoreTuning = {}): Promise<StoreOptions> => {
        used = true;
        const store = await createRedisStore({
          url: REDIS_URL,
          prefix,
          name: label,
          partitions: tuning.partitions ?? 16,
          ...(tuning.maxQueue === undefined ? {} : { maxQueue: tuning.maxQueue }),
          ...REDIS_TIMINGS,
        });
        return { store };
      };
      return {
        name,
        unavailable: null,
        durable: true,
        setUp: assertRedisReachable,
        // Labels are unique within a suite, and the prefix within a run: a fresh queue each time.
        open: redis,
        reopen: redis,
        tearDown: async () => {
          if (used) await removeKeys(prefix);
        },
      };
    }
    case 'postgres': {
      const schema = uniqueSchema();
      let used = false;
      const postgres = async (label: string, tuning: StoreTuning = {}): Promise<StoreOptions> => {
        used = true;
        const store = await createPostgresStore({
          connectionString: DATABASE_URL,
          schema,
          name: label,
          ...(tuning.maxQueue === undefined ? {} : { maxQueue: tuning.maxQueue }),
          ...POSTGRES_TIMINGS,
        });
        return { store };
      };
      return {
        name,
        unavailable: null,
        durable: true,
        setUp: assertPostgresReachable,
        // Labels are unique within a suite, and the schema within a run: a fresh queue each time.
        open: postgres,
        reopen: postgres,
        tearDown: async () => {
          if (used) await dropSchema(schema);
        },
      };
    }
  }
}

/** For a suite's `beforeAll`: sets `store` up and starts a fault receiver with `plan`. */
export async function startSuite(store: FaultStore, plan?: ReceiverPlan): Promise<FaultReceiver> {
  await store.setUp();
  return startFaultReceiver(plan);
}

/** For a suite's `afterAll`: closes the receiver (when it started) and removes the store's files or keys. */
export async function endSuite(store: FaultStore, receiver: FaultReceiver | undefined): Promise<void> {
  await receiver?.close();
  await store.tearDown();
}
