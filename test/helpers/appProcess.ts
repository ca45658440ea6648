/**
 * App processes of the crash and multi-instance tests, both ends: the test forks an app script
 * under tsx and follows what it reports over IPC; the script reads its settings from the
 * environment and reports to its parent.
 *
 * @internal test helper
 */
import { fork, type ChildProcess } from 'node:child_process';

/** A forked app: its process, what it reported so far, and how it ended. */
export type AppProcess<M extends { readonly type: string }> = {
  readonly child: ChildProcess;
  /** Its messages in arrival order (those `keep` let through). */
  readonly messages: M[];
  /** The exit signal, or the exit code. */
  readonly exited: Promise<NodeJS.Signals | number | null>;
  /** Its first message of `type`; rejects if it exits first or, with `timeoutMs`, after that long. */
  waitFor<T extends M['type']>(type: T, timeoutMs?: number): Promise<Extract<M, { type: T }>>;
};

/**
 * Forks `script` under tsx, with `env` over this process's environment. `keep` sees every
 * message first; one it returns `false` for is not kept (progress reports, say).
 */
export function forkApp<M extends { readonly type: string }>(script: string, env: Record<string, string>, keep: (message: M) => boolean = () => true): AppProcess<M> {
  const child = fork(script, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: M[] = [];
  const listeners = new Set<() => void>();
  child.on('message', (message: M) => {
    if (!keep(message)) return;
    messages.push(message);
    for (const listener of [...listeners]) listener();
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  const waitFor = <T extends M['type']>(type: T, timeoutMs?: number): Promise<Extract<M, { type: T }>> =>
    new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = (): void => {
        const found = messages.find((m): m is Extract<M, { type: T }> => m.type === type);
        if (found === undefined) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          if (listeners.delete(check)) reject(new Error(`Expected the app (pid ${child.pid}) to report '${type}' within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      listeners.add(check);
      check();
      void exited.then((status) => {
        clearTimeout(timer);
        if (listeners.delete(check)) reject(new Error(`Expected the app (pid ${child.pid}) to report '${type}', it exited with ${String(status)} first`));
      });
    });
  return { child, messages, exited, waitFor };
}

/** A forked app that reports `progress` with its callbacks so far: the last figure is kept, not the reports. */
export type CountingApp<M extends { readonly type: string }> = AppProcess<M> & {
  /** The deliveries it made (its callbacks), as it last reported them. */
  delivered(): number;
};

/** {@link forkApp} for an app that reports `{ type: 'progress', callbacks }` now and then. */
export function forkCountingApp<M extends { readonly type: string }>(script: string, env: Record<string, string>): CountingApp<M> {
  let delivered = 0;
  const app = forkApp<M>(script, env, (message) => {
    const progress = message as { readonly type: string; readonly callbacks?: number };
    if (progress.type !== 'progress') return true;
    delivered = progress.callbacks ?? delivered;
    return false;
  });
  return { ...app, delivered: () => delivered };
}

/** In an app script: the environment variable `name`, which the test must have set. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`Expected the environment variable ${name}`);
  return value;
}

/** In an app script: reports `message` to the test over IPC. */
export function sendToParent(message: object): void {
  process.send?.(message);
}

/**
 * In an app script run with WAIT_FOR_GO=1: reports 'ready' and resolves when the test says
 * 'go' (so that several instances listen before any of them works). At once otherwise.
 */
export async function waitForGo(): Promise<void> {
  if (process.env['WAIT_FOR_GO'] !== '1') return;
  const go = new Promise<void>((resolve) => {
    process.on('message', (message: { readonly type?: string }) => {
      if (message.type === 'go') resolve();
    });
  });
  sendToParent({ type: 'ready' });
  await go;
}
