// Closing a durable store leaves nothing behind that keeps the app's process alive: an app
// process (helpers/closingApp.ts) delivers one event, closes its store with a close timeout of
// ten minutes and must then exit on its own, well within this test's timeout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forkApp } from '../helpers/appProcess.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { DATABASE_URL, assertPostgresReachable, dropSchema, uniqueSchema } from './helpers/postgres.js';
import { REDIS_URL, assertRedisReachable, removeKeys, uniquePrefix } from './helpers/redis.js';

const APP = fileURLToPath(new URL('./helpers/closingApp.ts', import.meta.url));
type Message = { readonly type: 'closed'; readonly outcome: string };

const schema = uniqueSchema();
const prefix = uniquePrefix();
const directory = mkdtempSync(join(tmpdir(), 'rap-close-'));
let receiver: Receiver;

beforeAll(async () => {
  await assertPostgresReachable();
  await assertRedisReachable();
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await dropSchema(schema);
  await removeKeys(prefix);
  rmSync(directory, { recursive: true, force: true });
});

describe('closing a durable store', () => {
  it.each(['postgres', 'redis', 'sqlite'])('lets the process of a %s store exit once close() resolves: no timer of the close timeout is left running', async (store) => {
    const app = forkApp<Message>(APP, { STORE: store, RECEIVER_URL: receiver.url(), DATABASE_URL, SCHEMA: schema, REDIS_URL, PREFIX: prefix, STORE_PATH: join(directory, 'store.db') });
    try {
      expect((await app.waitFor('closed', 30_000)).outcome).toBe('delivered');
      // The close timeout is ten minutes: a timer of it left running would hold the process far longer than this.
      let timer: NodeJS.Timeout | undefined;
      const stillRunning = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running 20 s after close()'), 20_000)));
      expect(await Promise.race([app.exited, stillRunning])).toBe(0);
      clearTimeout(timer);
    } finally {
      app.child.kill('SIGKILL');
    }
  }, 60_000);
});
