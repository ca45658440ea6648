// Secret headers never reach a durable store: every header shape the one secret-name rule
// covers (`X-Auth`, `X-Access-Key`, `X-Session`, `Private-Key`, `auth_token`, and the Bearer
// token of the config's `auth_token`), in requests and in responses, is absent from the
// SQLite database and its WAL, and from every Redis key of the store, after the deliveries are
// dead-lettered; and comes back from the config when a dead letter is replayed.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { format } from 'node:util';
import createDebug from 'debug';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProvisioner,
  createRedisStore,
  createSqliteStore,
  sqliteStoreAvailability,
  type DeliveryOutcome,
  type DeliveryStore,
  type ProvisionerConfig,
} from '../../src/index.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from './helpers/redis.js';
import { answerJson, startReceiver, type Receiver } from '../helpers/receiver.js';

const SECRETS: Readonly<Record<string, string>> = {
  'X-Auth': 'xauth-secret-1f9c',
  'X-Access-Key': 'access-key-secret-77ab',
  'X-Session': 'session-secret-03de',
  'Private-Key': 'private-key-secret-5e21',
  auth_token: 'header-auth-token-secret-9b0d',
};
const BEARER = 'config-auth-token-secret-4c8e';
const RESPONSE_SECRET = 'response-session-secret-a6f3';
const EVERY_SECRET = [...Object.values(SECRETS), BEARER, RESPONSE_SECRET];

const dir = mkdtempSync(path.join(tmpdir(), 'rap-secret-headers-'));
const prefix = uniquePrefix();
beforeAll(assertRedisReachable);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await removeKeys(prefix);
});

/** Everything Redis holds under the store's prefix: strings, hashes, lists, sets, sorted sets and streams. */
async function redisContents(): Promise<Buffer> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const parts: Buffer[] = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scanBuffer(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      cursor = String(next);
      for (const key of keys) {
        parts.push(key);
        const type = await client.type(key);
        if (type === 'string') parts.push((await client.getBuffer(key)) ?? Buffer.alloc(0));
        else if (type === 'hash') parts.push(...Object.entries(await client.hgetallBuffer(key)).flatMap(([field, value]) => [Buffer.from(field), value]));
        else if (type === 'list') parts.push(...(await client.lrangeBuffer(key, 0, -1)));
        else if (type === 'set') parts.push(...(await client.smembersBuffer(key)));
        else if (type === 'zset') parts.push(...(await client.zrangeBuffer(key, '0', '-1')));
        else if (type === 'stream') parts.push(Buffer.from(JSON.stringify(await client.xrange(key, '-', '+'))));
      }
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return Buffer.concat(parts);
}

type Durable = {
  readonly name: string;
  readonly skip: boolean;
  readonly open: () => Promise<DeliveryStore>;
  /** Every byte the store holds. */
  readonly contents: () => Promise<Buffer>;
};
const sqliteFile = path.join(dir, 'secrets.db');
const DURABLE_STORES: readonly Durable[] = [
  {
    name: 'SQLite',
    skip: !sqliteStoreAvailability().available,
    open: async () => createSqliteStore({ path: sqliteFile }),
    contents: async () => Buffer.concat([sqliteFile, `${sqliteFile}-wal`].filter((name) => existsSync(name)).map((name) => readFileSync(name))),
  },
  {
    name: 'Redis',
    skip: false,
    open: () => createRedisStore({ prefix, name: 'secrets', partitions: 1, drainPollMs: 20 }),
    contents: redisContents,
  },
];

/** A receiver that answers with `status()` and secret response headers. */
function startSecretReceiver(status: () => number): Promise<Receiver> {
  return startReceiver((_request, response) =>
    answerJson(response, status(), { error: 'rejected' }, { 'X-Session': RESPONSE_SECRET, 'X-Access-Key': RESPONSE_SECRET }),
  );
}

/** Everything the library's debug loggers print while `run` runs. */
async function captureDebug(run: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const previousLog = createDebug.log;
  const previousNamespaces = createDebug.disable();
  createDebug.enable('remote-api-provisioner:*');
  createDebug.log = (...args: unknown[]) => lines.push(format(...args));
  try {
    await run();
  } finally {
    createDebug.log = previousLog;
    createDebug.enable(previousNamespaces);
  }
  return lines.join('\n');
}

describe.each(DURABLE_STORES)('the $name store and secret headers', ({ skip, open, contents }) => {
  it.skipIf(skip)('writes no secret header value, logs none, and restores them from the config on replay', async () => {
    let failing = true;
    const receiver = await startSecretReceiver(() => (failing ? 400 : 200));
    const events = {
      rdm_record: {
        [receiver.url()]: {
          publish: { http_method: 'POST', payload: { kind: 'doc' }, headers: { ...SECRETS, 'X-Source': 'records-app' }, auth_token: BEARER },
        },
      },
    } as unknown as ProvisionerConfig;
    const provisioner = createProvisioner({ events, store: await open() });
    const outcomes: DeliveryOutcome[] = [];
    provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    let closed = false;
    try {
      const log = await captureDebug(async () => {
        const hooks = provisioner.hooks('rdm_record');
        for (let n = 0; n < 3; n += 1) hooks.publish({ identity: { id: 1 }, record: { id: `secret-${n}`, access: { record: 'public' } } });
        await provisioner.drain();
      });
      expect(outcomes.map((outcome) => (outcome.kind === 'failed' ? outcome.reason : outcome.kind))).toEqual(['http-status', 'http-status', 'http-status']);
      expect(await provisioner.deadLetters()).toHaveLength(3);
      // The secrets were sent: the stores strip them, not the requests.
      expect(receiver.requests[0]?.headers['x-access-key']).toBe(SECRETS['X-Access-Key']);
      expect(receiver.requests[0]?.headers['authorization']).toBe(`Bearer ${BEARER}`);
      for (const secret of EVERY_SECRET) expect(log, `debug log holds ${secret}`).not.toContain(secret);
      for (const outcome of outcomes) {
        const message = outcome.kind === 'failed' ? outcome.error.message : '';
        for (const secret of EVERY_SECRET) expect(message).not.toContain(secret);
      }

      const bytes = await contents();
      expect(bytes.includes('X-Source')).toBe(true); // the request headers are stored, but the secret ones
      for (const secret of EVERY_SECRET) expect(bytes.includes(secret), `${secret} in the store`).toBe(false);

      failing = false;
      const arrivedBefore = receiver.requests.length;
      expect(await provisioner.replay({ recordId: 'secret-1' })).toHaveLength(1);
      await provisioner.drain();
      expect(outcomes.at(-1)?.kind).toBe('delivered');
      const replayed = receiver.requests[arrivedBefore]?.headers;
      for (const [name, value] of Object.entries(SECRETS)) expect(replayed?.[name.toLowerCase()], name).toBe(value);
      expect(replayed?.['authorization']).toBe(`Bearer ${BEARER}`);
      expect(replayed?.['idempotency-key']).toBe(receiver.requests[1]?.headers['idempotency-key']);

      await provisioner.close({ timeoutMs: 2_000 });
      closed = true;
      const after = await contents();
      for (const secret of EVERY_SECRET) expect(after.includes(secret), `${secret} in the store after close`).toBe(false);
    } finally {
      if (!closed) await provisioner.close({ timeoutMs: 2_000 });
      await receiver.close();
    }
  }, 20_000);
});
