/**
 * A receiver in a process of its own, for the tests that need one: a receiver that can be
 * killed or made to refuse connections, whose resets are real socket resets, and whose work
 * never shows up in the app process's event-loop figures. The child is a module that starts
 * its server (with `receiver.ts`'s recording code) and calls {@link serveOverIpc}; the test
 * forks it with {@link forkReceiver}, calls the child's functions over IPC and reads the
 * events it reports.
 *
 * ```ts
 * // child.ts
 * const receiver = await startReceiver({ onRequest: (request) => report({ type: 'request', ...request }) });
 * serveOverIpc(receiver, { count: () => receiver.requests.length });
 * // the test
 * const child = await forkReceiver<{ type: 'request' }>(fileURLToPath(new URL('./child.ts', import.meta.url)));
 * await fetch(child.url(), { method: 'POST', body: '{}' });
 * await child.call('count'); // 1
 * await child.close();
 * ```
 *
 * @internal test helper
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** What a receiver process sends to the test. */
type ChildMessage =
  | { readonly type: 'ready'; readonly origin: string }
  | { readonly type: 'reply'; readonly id: number; readonly value: unknown }
  | { readonly type: 'error'; readonly id: number; readonly message: string }
  | { readonly type: 'event'; readonly event: unknown };

/** What the test sends to a receiver process: a call of one of its functions. */
type CallMessage = { readonly type: 'call'; readonly id: number; readonly name: string; readonly args: readonly unknown[] };

/** The functions a receiver process offers over IPC (`close` is always there). */
type Calls = Readonly<Record<string, (...args: never[]) => unknown>>;

// ---------------------------------------------------------------------------------------------
// In the child

/** Sends an event to the test (the test reads it with `events()` or `waitFor`). */
export function report(event: unknown): void {
  process.send?.({ type: 'event', event } satisfies ChildMessage);
}

/**
 * Offers `calls` to the test, and `close` (closes the receiver, then ends the process); tells
 * the test the receiver's origin. The process ends when the test goes away.
 */
export function serveOverIpc(receiver: { readonly origin: string; close(): Promise<void> }, calls: Calls = {}): void {
  const send = (message: ChildMessage): void => void process.send?.(message);
  process.on('message', (raw: unknown) => {
    const message = raw as CallMessage;
    if (message.type !== 'call') return;
    if (message.name === 'close') {
      void receiver.close().finally(() => {
        send({ type: 'reply', id: message.id, value: null });
        process.disconnect?.();
        process.exit(0);
      });
      return;
    }
    try {
      const call = calls[message.name];
      if (call === undefined) throw new Error(`Expected a call of ${Object.keys(calls).join(', ')} or close, got ${message.name}`);
      send({ type: 'reply', id: message.id, value: (call as (...args: readonly unknown[]) => unknown)(...message.args) });
    } catch (error) {
      send({ type: 'error', id: message.id, message: error instanceof Error ? error.message : String(error) });
    }
  });
  // The test process went away: do not outlive it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', origin: receiver.origin });
}

// ---------------------------------------------------------------------------------------------
// In the test

/** A running receiver process; `E` is the type of the events it reports. */
export type ReceiverProcess<E> = {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The URL of `path` on the receiver. @default '/documents' */
  url(path?: string): string;
  /** The receiver's process id. */
  readonly pid: number;
  /** The events reported so far, in order. */
  events(): readonly E[];
  /** Resolves with the first event (past or future) that matches, or rejects after `timeoutMs`. */
  waitFor<X extends E>(predicate: (event: E) => event is X, timeoutMs?: number): Promise<X>;
  /** Calls one of the functions the child offers, and resolves with what it returned. */
  call<T>(name: string, ...args: readonly unknown[]): Promise<T>;
  /** Closes the receiver and ends its process (killed if it does not end within 2 s). */
  close(): Promise<void>;
};

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Forks the receiver module at `childPath` (with `env` added) and waits until it listens. */
export async function forkReceiver<E>(childPath: string, env: Readonly<Record<string, string>> = {}, startTimeoutMs = 20_000): Promise<ReceiverProcess<E>> {
  const child: ChildProcess = fork(childPath, [], {
    execArgv: ['--import', TSX],
    env: { ...process.env, ...env },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const events: E[] = [];
  const waiters = new Set<(event: E) => void>();
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let exited = false;

  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Expected the receiver process to listen within ${startTimeoutMs} ms, it did not`));
    }, startTimeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Expected the receiver process to start, it exited with code ${String(code)}`));
    });
    child.on('message', (raw: unknown) => {
      const message = raw as ChildMessage;
      switch (message.type) {
        case 'ready':
          clearTimeout(timer);
          resolve(message.origin);
          return;
        case 'event':
          events.push(message.event as E);
          for (const waiter of [...waiters]) waiter(message.event as E);
          return;
        default: {
          const waiter = pending.get(message.id);
          if (waiter === undefined) return;
          pending.delete(message.id);
          if (message.type === 'reply') waiter.resolve(message.value);
          else waiter.reject(new Error(`receiver process: ${message.message}`));
        }
      }
    });
  });
  child.removeAllListeners('exit');
  child.on('exit', () => {
    exited = true;
    for (const waiter of pending.values()) waiter.reject(new Error('Expected the receiver process to answer, it exited'));
    pending.clear();
  });

  const call = <T>(name: string, ...args: readonly unknown[]): Promise<T> => {
    if (exited) return Promise.reject(new Error('Expected a running receiver process, it has exited'));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ type: 'call', id, name, args } satisfies CallMessage);
    });
  };

  return {
    origin,
    url: (path = '/documents') => `${origin}${path}`,
    pid: child.pid ?? -1,
    events: () => events,
    waitFor: <X extends E>(predicate: (event: E) => event is X, timeoutMs = 10_000): Promise<X> => {
      const past = events.find(predicate);
      if (past !== undefined) return Promise.resolve(past);
      return new Promise<X>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`Expected a matching receiver event within ${timeoutMs} ms, got none`));
        }, timeoutMs);
        const waiter = (event: E): void => {
          if (!predicate(event)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(event);
        };
        waiters.add(waiter);
      });
    },
    call,
    close: async () => {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await call<void>('close').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
