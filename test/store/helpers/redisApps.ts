// Forked Redis app instances (helpers/redisApp.ts) for the crash tests, and waiting for
// their deliveries at the receiver.
import { fileURLToPath } from 'node:url';
import { forkApp, type AppProcess } from '../../helpers/appProcess.js';
import type { Receiver } from '../../helpers/receiver.js';
import { REDIS_URL } from './redis.js';

const APP = fileURLToPath(new URL('./redisApp.ts', import.meta.url));

export type AppMessage =
  | { readonly type: 'journaled'; readonly count: number; readonly perEventUs: number; readonly flushedMs: number }
  | { readonly type: 'started' }
  | { readonly type: 'closed'; readonly delivered: number };

export type App = AppProcess<AppMessage>;

/** Forks a Redis app instance on `prefix`; its `waitFor` gives up after 20 s unless told otherwise. */
export function startApp(prefix: string, partitions: number, env: Record<string, string>): App {
  const app = forkApp<AppMessage>(APP, { REDIS_URL, PREFIX: prefix, PARTITIONS: String(partitions), ...env });
  return { ...app, waitFor: (type, timeoutMs = 20_000) => app.waitFor(type, timeoutMs) };
}

export async function closeApp(app: App): Promise<number> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return 0;
  app.child.send({ type: 'close' });
  const closed = await app.waitFor('closed');
  await app.exited;
  return closed.delivered;
}

export async function waitForUnique(receiver: Receiver, count: number, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (new Set(receiver.requests.map((a) => a.deliveryId)).size < count) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(`Expected ${count} distinct deliveries at the receiver within ${timeoutMs} ms, got ${new Set(receiver.requests.map((a) => a.deliveryId)).size}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
