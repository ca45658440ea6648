/**
 * The durable stores the bench runs the provisioner over (SQLite in a temporary directory,
 * Redis under a prefix of its own), or why one cannot run here: sections print a row saying
 * so instead of failing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { NOT_BUILT, STORES_NOT_BUILT, type BenchStore, type Library } from './library.js';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A store opened for a section, and how to clean up after it (once the provisioner over it is closed). */
export type OpenedStore = { readonly kind: 'sqlite' | 'redis'; readonly store: BenchStore; readonly cleanup: () => Promise<void> };

/** A store that cannot run here, and why. */
export type UnavailableStore = { readonly kind: 'sqlite' | 'redis'; readonly why: string };

export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';

/**
 * Opens a SQLite and a Redis store for `label` (the file's and the prefix's name); `maxQueue`
 * bounds the Redis store's unacknowledged journals.
 */
export async function openDurableStores(library: Library, label: string, maxQueue: number): Promise<{ opened: OpenedStore[]; unavailable: UnavailableStore[] }> {
  const opened: OpenedStore[] = [];
  const unavailable: UnavailableStore[] = [];
  const { createProvisioner, sqliteStoreAvailability, createSqliteStore, createRedisStore } = library;
  if (createProvisioner === undefined || sqliteStoreAvailability === undefined || createSqliteStore === undefined || createRedisStore === undefined) {
    const why = createProvisioner === undefined ? NOT_BUILT : STORES_NOT_BUILT;
    return { opened, unavailable: [{ kind: 'sqlite', why }, { kind: 'redis', why }] };
  }

  const sqlite = sqliteStoreAvailability();
  if (sqlite.available) {
    const dir = mkdtempSync(join(tmpdir(), `rap-bench-${label}-`));
    opened.push({ kind: 'sqlite', store: createSqliteStore({ path: join(dir, `${label}.db`) }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) });
  } else {
    unavailable.push({ kind: 'sqlite', why: `skipped: better-sqlite3 cannot be loaded here (${sqlite.reason ?? 'no reason given'})` });
  }

  const prefix = `rap-bench-${process.pid.toString(36)}-${Date.now().toString(36)}-${label}`;
  try {
    const store = await createRedisStore({ url: REDIS_URL, prefix, name: label, maxQueue, connectTimeoutMs: 2_000, drainPollMs: 10 });
    opened.push({ kind: 'redis', store, cleanup: () => removeKeys(prefix) });
  } catch (error) {
    unavailable.push({ kind: 'redis', why: `skipped: Redis did not answer (start redis-server, or set REDIS_URL): ${messageOf(error)}` });
  }
  return { opened, unavailable };
}

/** Deletes the keys a bench Redis store left under `prefix` (queue metadata, the failed set). */
export async function removeKeys(prefix: string): Promise<void> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  client.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
