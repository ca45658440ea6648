// Forked Redis app instances (helpers/redisApp.ts) for the crash tests, and the receiver
// checks they share.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deliveryIdOf } from '../../../src/store/deliveryId.js';
import type { Receiver } from './receiver.js';
import { REDIS_URL } from './redis.js';

const APP = fileURLToPath(new URL('./redisApp.ts', import.meta.url));

export type AppMessage =
  | { readonly type: 'journaled'; readonly count: number; readonly perEventUs: number; readonly flushedMs: number }
  | { readonly type: 'started' }
  | { readonly type: 'closed'; readonly delivered: number };

export type App = { readonly child: ChildProcess; readonly messages: AppMessage[]; readonly exited: Promise<NodeJS.Signals | number | null>; waitFor(type: AppMessage['type'], timeoutMs?: number): Promise<AppMessage> };

export function startApp(prefix: string, partitions: number, env: Record<string, string>): App {
  const child = fork(APP, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, REDIS_URL, PREFIX: prefix, PARTITIONS: String(partitions), ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: AppMessage[] = [];
  const listeners = new Set<() => void>();
  child.on('message', (message: AppMessage) => {
    messages.push(message);
    for (const listener of listeners) listener();
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const waitFor = (type: AppMessage['type'], timeoutMs = 20_000): Promise<AppMessage> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = messages.find((m) => m.type === type);
        if (found === undefined) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`Expected the app (pid ${child.pid}) to report '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return { child, messages, exited, waitFor };
}

export async function closeApp(app: App): Promise<number> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return 0;
  app.child.send({ type: 'close' });
  const closed = await app.waitFor('closed');
  await app.exited;
  return closed.type === 'closed' ? closed.delivered : 0;
}

export async function waitForUnique(receiver: Receiver, count: number, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (new Set(receiver.arrivals.map((a) => a.deliveryId)).size < count) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(`Expected ${count} distinct deliveries at the receiver within ${timeoutMs} ms, got ${new Set(receiver.arrivals.map((a) => a.deliveryId)).size}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function expectedArrivals(runId: string, url: string, events: number, records: number): Map<string, { recordId: string; revision: number }> {
  const expected = new Map<string, { recordId: string; revision: number }>();
  for (let n = 0; n < events; n += 1) expected.set(deliveryIdOf(`${runId}-${n}`, url), { recordId: `rec-${n % records}`, revision: Math.floor(n / records) + 1 });
  return expected;
}
