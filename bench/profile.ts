/**
 * A profiling driver, not a bench section: deliveries at concurrency 16 to the bench's
 * receiver, without the bench's other contenders, so that `node --cpu-prof` sees the
 * client's work per delivery.
 *
 *   npm run build && node --import tsx [--cpu-prof --cpu-prof-dir /tmp/prof] bench/profile.ts [deliveries] [runs] [rounds] [outstanding] [records]
 *
 * `runs` is a comma-separated list, measured in interleaved rounds:
 * - `memory`: `createProvisioner` with the default memory store and effect;
 * - `hooked`: the same with section a's user `beforeRequest` hook (one header on every delivery);
 * - `sqlite`, `redis`, `postgres`: the same over those stores (PostgreSQL at DATABASE_URL, in a
 *   schema of its own, dropped at the end);
 * - `instant`: the memory store with an effect that answers at once (the pipeline's own CPU);
 * - `effect`: the default effect alone, as section a runs it;
 * - `undici`, `fetch`, `kystock`: section a's other clients (raw undici `request`, the global
 *   `fetch`, stock ky), to see how they share the process with the library's runs.
 * A run written `kind@dir` uses the library built into `dir` (a copy of dist/ inside the project,
 * so that it finds node_modules): `memory@.tmp/dist-before,memory` compares two builds in one
 * process, on the same machine state.
 * `outstanding` is how many hook calls wait for their outcome at once (default 2 × 16; section f
 * journals a whole round at once). `records` is how many distinct records a round's deliveries
 * cycle through (section f: 500; default, a record each). Prints deliveries/s and CPU per
 * delivery of each round.
 */
import './nodeVersion.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { of } from 'rxjs';
import { fetchClient, runPool, undiciClient, type Client } from './clients.js';
import { drivePublishes, publishConfig } from './drive.js';
import { REDIS_URL, removeKeys } from './durableStores.js';
import { effectClient, kyClient, USER_KY_OPTIONS } from './endToEnd.js';
import { bigRecord, recordId, recordWithId, searchDocument } from './fixtures.js';
import { loadLibrary, type BenchProvisioner, type BenchStore, type Library } from './library.js';
import { startReceiver } from './receiverProcess.js';
import type { Round } from './rounds.js';

const total = Number(process.argv[2] ?? 20_000);
const runs = (process.argv[3] ?? 'memory').split(',');
const rounds = Number(process.argv[4] ?? 1);
const CONCURRENCY = 16;
const outstanding = Number(process.argv[5] ?? 2 * CONCURRENCY);
/** Distinct records a round publishes to, cycling (section f: 500, so each record's deliveries follow each other); default one a delivery. */
const records = Number(process.argv[6] ?? 0);
/** The Redis store's keys, removed at the end. */
const REDIS_PREFIX = `rap-profile-${process.pid}`;
const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The PostgreSQL store's schema, dropped at the end. */
const PG_SCHEMA = `rap_profile_${process.pid}`;
let pool: pg.Pool | undefined;

type Run = { readonly measure: (count: number) => Promise<Round>; readonly close: () => Promise<void> };

/** `label` names the run's store: two runs of one kind (two builds) must not share a database file, or be two instances of one shared store. */
async function provisionerRun(library: Library, url: string, kind: string, dir: string, label: string): Promise<Run> {
  const create = library.createProvisioner;
  if (create === undefined) throw new Error('Expected dist/ to export createProvisioner: run npm run build');
  let store: BenchStore | undefined;
  if (kind === 'sqlite') store = library.createSqliteStore?.({ path: join(dir, `profile-${label}.db`) });
  else if (kind === 'redis') store = await library.createRedisStore?.({ url: REDIS_URL, prefix: REDIS_PREFIX, name: `profile-${label}`, maxQueue: 100_000 });
  else if (kind === 'postgres') {
    pool ??= new pg.Pool({ connectionString: DATABASE_URL, max: 30 });
    store = await library.createPostgresStore?.({ pool, schema: PG_SCHEMA, name: `profile-${label}` });
  }
  const provisioner: BenchProvisioner = create({
    events: publishConfig(url, searchDocument()),
    http: {
      concurrency: CONCURRENCY,
      maxQueue: 100_000,
      timeoutMs: 10_000,
      retry: { limit: 0 },
      ...(kind === 'instant' ? { effect: () => of({ status: 200, headers: {}, body: null, url }) } : {}),
      ...(kind === 'hooked' ? { ky: USER_KY_OPTIONS } : {}),
    },
    ...(store === undefined ? {} : { store }),
  });
  const base = bigRecord();
  let offset = 0;
  return {
    async measure(count) {
      const start = offset;
      offset += count;
      const run = await drivePublishes(provisioner, count, outstanding, (n) => recordWithId(base, recordId(start + (records > 0 ? n % records : n))), 120_000);
      return { done: run.tally.delivered, wallNs: run.wallNs, cpuUs: run.cpuUs };
    },
    close: () => provisioner.close(),
  };
}

function clientRun(library: Library, url: string, kind: string): Run {
  const client: Client = clientOf(library, url, kind);
  const document = searchDocument();
  return {
    measure: (count) => runPool(client, count, CONCURRENCY, (n) => ({ ...document, id: recordId(n) }), 120_000),
    close: () => client.close(),
  };
}

function clientOf(library: Library, url: string, kind: string): Client {
  if (kind === 'undici') return undiciClient(url, CONCURRENCY);
  if (kind === 'fetch') return fetchClient(url);
  if (kind === 'kystock') return kyClient(url);
  if (library.createKyEffect === undefined) throw new Error('Expected dist/ to export createKyEffect: run npm run build');
  return effectClient(library.createKyEffect, url, CONCURRENCY);
}

/** The pool clients that are not the provisioner. */
const CLIENT_RUNS = new Set(['effect', 'undici', 'fetch', 'kystock']);

const library = await loadLibrary();
const receiver = await startReceiver();
const dir = mkdtempSync(join(tmpdir(), 'rap-profile-'));
const url = `${receiver.origin}/api/v1/documents`;
const started: [string, Run][] = [];
try {
  for (const run of runs) {
    const [kind = run, builtInto] = run.split('@');
    const built = builtInto === undefined ? library : await loadLibrary(pathToFileURL(resolve(builtInto, 'index.js')).href);
    started.push([run, CLIENT_RUNS.has(kind) ? clientRun(built, url, kind) : await provisionerRun(built, url, kind, dir, String(started.length))]);
  }
  for (const [, run] of started) await run.measure(2_000);
  for (let round = 0; round < rounds; round += 1) {
    for (const [kind, run] of started) {
      const result = await run.measure(total);
      const seconds = result.wallNs / 1e9;
      process.stdout.write(`${kind}: ${result.done} delivered, ${(result.done / seconds).toFixed(0)}/s, ${(result.cpuUs / result.done).toFixed(1)} µs CPU each\n`);
    }
  }
} finally {
  for (const [, run] of started) await run.close();
  await receiver.close();
  rmSync(dir, { recursive: true, force: true });
  // A run written `redis@dir` uses the store too.
  if (runs.some((run) => run.split('@')[0] === 'redis')) await removeKeys(REDIS_PREFIX);
  if (pool !== undefined) {
    await pool.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`);
    await pool.end();
  }
}
