// The replay and backfill commands, run from the built CLI as users do, against a receiver on
// 127.0.0.1: replay sends a durable store's dead letters again under their delivery ids;
// backfill sends a records module's records and prints plain progress lines off a terminal.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, createProvisioner, createRedisStore, createSqliteStore, sqliteStoreAvailability, type DeliveryStore, type ProvisionerConfig } from '../../src/index.js';
import { startReceiver } from '../helpers/receiver.js';
import { DATABASE_URL, assertPostgresReachable, dropSchema, uniqueSchema } from '../store/helpers/postgres.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from '../store/helpers/redis.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const fixture = (name: string) => `test/cli/fixtures/${name}`;
const dir = mkdtempSync(path.join(tmpdir(), 'rap-cli-'));
const prefix = uniquePrefix();
const schema = uniqueSchema();
const sqlite = sqliteStoreAvailability();

type Run = { readonly code: number | null; readonly stdout: string; readonly stderr: string };

function run(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`Expected the built CLI at ${cli}, found none: run \`npm run build\` first (npm test does).`);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await removeKeys(prefix);
  await dropSchema(schema);
});

const stores = [
  { name: 'sqlite', skip: !sqlite.available, spec: () => `sqlite:${path.join(dir, 'replay.db')}`, open: async (spec: string) => createSqliteStore({ path: spec.slice('sqlite:'.length) }) },
  {
    name: 'redis',
    skip: false,
    spec: () => `${REDIS_URL}?prefix=${prefix}&name=cli-replay&partitions=2`,
    open: async () => createRedisStore({ url: REDIS_URL, prefix, name: 'cli-replay', partitions: 2, drainPollMs: 20 }),
  },
  {
    name: 'postgres',
    skip: false,
    spec: () => `${DATABASE_URL}?schema=${schema}&name=cli-replay`,
    open: async () => createPostgresStore({ connectionString: DATABASE_URL, schema, name: 'cli-replay', drainPollMs: 20 }),
  },
] as const;

describe.each(stores)('remote-api-provisioner replay with the $name store', ({ name, skip, spec, open }) => {
  it.skipIf(skip)('sends the dead letters again with their delivery ids and exits 0 when all are delivered', async () => {
    if (name === 'redis') await assertRedisReachable();
    if (name === 'postgres') await assertPostgresReachable();
    let failing = true;
    const receiver = await startReceiver({ status: () => (failing ? 503 : 200) });
    const env = { RECEIVER_URL: receiver.url() };
    process.env['RECEIVER_URL'] = receiver.url();
    try {
      const configUrl = `${pathToFileURL(path.join(root, fixture('receiver.config.mjs'))).href}?${name}`;
      const config = ((await import(/* @vite-ignore */ configUrl)) as { default: ProvisionerConfig }).default;
      const store: DeliveryStore = await open(spec());
      const app = createProvisioner({ events: config, store });
      for (let n = 0; n < 3; n += 1) app.hooks('rdm_record').publish({ identity: { id: 1 }, record: { id: `dl-${n}`, revision_id: 1, access: { record: 'public' } } });
      await app.drain();
      await app.close();
      const failedIds = receiver.requests.map((arrival) => arrival.deliveryId);
      expect(failedIds).toHaveLength(3);

      failing = false;
      const result = await run(env, 'replay', fixture('receiver.config.mjs'), '--store', spec(), '--reason', 'http-status');
      expect(result.stderr).toBe('');
      expect(result.stdout).toContain('replay: 3 dead letters requeued with their delivery ids');
      expect(result.stdout).toContain('✓ replay: 3 delivered, 0 failed, 0 skipped');
      expect(result.code).toBe(0);
      expect(receiver.requests.slice(3).map((arrival) => arrival.deliveryId).sort()).toEqual([...failedIds].sort());
      expect(`${result.stdout}${result.stderr}`).not.toContain('tok_cli_do_not_print_me');

      const again = await run(env, 'replay', fixture('receiver.config.mjs'), '--store', spec());
      expect(again.stdout.trim()).toBe('✓ replay: no dead letters match');
      expect(again.code).toBe(0);
    } finally {
      await receiver.close();
    }
  }, 30_000);
});

describe('remote-api-provisioner backfill', () => {
  it('sends every record of the records module and prints plain progress lines off a terminal', async () => {
    const receiver = await startReceiver({ delayMs: 2, status: (arrival) => (arrival.recordId === 'bf-3' ? 400 : 200) });
    try {
      const result = await run({ RECEIVER_URL: receiver.url(), RECORD_COUNT: '25' }, 'backfill', fixture('receiver.config.mjs'), fixture('records.mjs'), '--service', 'rdm_record', '--method', 'publish', '--concurrency', '4');
      expect(result.stderr).toBe('');
      const lines = result.stdout.trim().split('\n');
      expect(lines.at(-2)).toBe('backfill: 25/25 done (24 delivered, 1 failed, 0 skipped)');
      expect(lines.at(-1)).toBe('✗ backfill rdm_record.publish: 25 records, 24 delivered, 1 failed, 0 skipped');
      expect(result.stdout).not.toContain('\r');
      expect(result.code).toBe(1);
      expect(new Set(receiver.requests.map((arrival) => arrival.recordId)).size).toBe(25);
    } finally {
      await receiver.close();
    }
  }, 30_000);

  it.skipIf(!sqlite.available)('goes through a durable store with --store, and exits 0 when every record is delivered', async () => {
    const receiver = await startReceiver();
    try {
      const result = await run(
        { RECEIVER_URL: receiver.url(), RECORD_COUNT: '10' },
        'backfill', fixture('receiver.config.mjs'), fixture('records.mjs'), '--service', 'rdm_record', '--method', 'publish', '--store', `sqlite:${path.join(dir, 'backfill.db')}`,
      );
      expect(result.stdout.trim().split('\n').at(-1)).toBe('✓ backfill rdm_record.publish: 10 records, 10 delivered, 0 failed, 0 skipped');
      expect(result.code).toBe(0);
      expect(receiver.requests).toHaveLength(10);
    } finally {
      await receiver.close();
    }
  }, 30_000);

  it('goes through the postgres store with --store postgres://…?schema=&name=', async () => {
    await assertPostgresReachable();
    const receiver = await startReceiver();
    try {
      const result = await run(
        { RECEIVER_URL: receiver.url(), RECORD_COUNT: '10' },
        'backfill', fixture('receiver.config.mjs'), fixture('records.mjs'), '--service', 'rdm_record', '--method', 'publish', '--store', `${DATABASE_URL}?schema=${schema}&name=cli-backfill`,
      );
      expect(result.stdout.trim().split('\n').at(-1)).toBe('✓ backfill rdm_record.publish: 10 records, 10 delivered, 0 failed, 0 skipped');
      expect(result.code).toBe(0);
      expect(receiver.requests).toHaveLength(10);
    } finally {
      await receiver.close();
    }
  }, 30_000);

  // `script` (util-linux) gives the command a terminal; without it there is no TTY to test on.
  it.skipIf(spawnSync('script', ['--version']).status !== 0)('draws a progress bar in place on a terminal', async () => {
    const receiver = await startReceiver();
    try {
      const command = [process.execPath, cli, 'backfill', fixture('receiver.config.mjs'), fixture('records.mjs'), '--service', 'rdm_record', '--method', 'publish'].map((arg) => `'${arg}'`).join(' ');
      // Spawned, not spawnSync: the receiver answers from this process's event loop.
      const result = await new Promise<{ status: number | null; stdout: string }>((resolve, reject) => {
        const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: root, env: { ...process.env, RECEIVER_URL: receiver.url(), RECORD_COUNT: '12' } });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.on('error', reject);
        child.on('close', (status) => resolve({ status, stdout }));
      });
      expect(result.status, result.stdout).toBe(0);
      expect(result.stdout).toContain(`\r[${'#'.repeat(30)}] 12/12 done (12 delivered, 0 failed, 0 skipped)`);
      expect(result.stdout).not.toContain('backfill: 12/12');
      expect(result.stdout).toContain('✓ backfill rdm_record.publish: 12 records, 12 delivered, 0 failed, 0 skipped');
    } finally {
      await receiver.close();
    }
  }, 30_000);

  it('refuses wrong usage with exit code 2', async () => {
    const result = await run({}, 'backfill', fixture('receiver.config.mjs'), fixture('records.mjs'), '--service', 'rdm_record');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Expected `backfill <config module> <records module> --service S --method M`');
    const store = await run({}, 'backfill', fixture('receiver.config.mjs'), fixture('records.mjs'), '--service', 'rdm_record', '--method', 'publish', '--store', 'mysql://db/x');
    expect(store.code).toBe(2);
    expect(store.stderr).toContain('Expected --store to be sqlite:<path>, redis://host:port, postgres://host/database or memory, got "mysql://db/x".');
  });
});

describe('remote-api-provisioner replay, wrong usage', () => {
  const env = { RECEIVER_URL: 'http://127.0.0.1:9/hooks' };
  it.each([
    [['--store', 'bogus'], 'Expected --store to be sqlite:<path>, redis://host:port, postgres://host/database, got "bogus".'],
    [['--store', 'memory'], "Expected --store to be the app's durable store for replay (the memory store of a new process holds no dead letters), got memory."],
    [['--store', 'sqlite:'], 'Expected a file after --store sqlite:, got none.'],
    [['--store', 'sqlite:x.db', '--reason', 'htpp'], 'Expected --reason to be one of http-status, network, timeout, redirect, payload, url, owner, overflow, closed, expired, got "htpp".'],
    [['--store', 'sqlite:x.db', '--endpoint', 'not-a-url'], 'Expected --endpoint to be an endpoint URL of the config (http:// or https://), got "not-a-url".'],
  ])('exits 2 for %j, saying what was expected', async (args, message) => {
    const result = await run(env, 'replay', fixture('receiver.config.mjs'), ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(existsSync(path.join(root, 'x.db'))).toBe(false);
  });

  it('checks the config module before it opens the store: a broken config leaves no store file behind', async () => {
    const file = path.join(dir, 'untouched.db');
    const result = await run({}, 'replay', fixture('invalid.config.mjs'), '--store', `sqlite:${file}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Invalid remote API provisioner config');
    expect(existsSync(file)).toBe(false);
  });
});
