/** Starts `receiver.ts` in a child process and scripts it over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReceiverCommand, ReceiverMessage, ReceiverMode, ReceiverStats } from './receiver.js';

export type Receiver = {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** Switches the behaviour; resolves once the receiver has switched. */
  setMode(mode: ReceiverMode): Promise<ReceiverStats>;
  stats(): Promise<ReceiverStats>;
  close(): Promise<void>;
};

const RECEIVER_PATH = fileURLToPath(new URL('./receiver.ts', import.meta.url));

/** Forks the receiver and waits until it listens (at most 20 s). */
export async function startReceiver(): Promise<Receiver> {
  const child: ChildProcess = fork(RECEIVER_PATH, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (stats: ReceiverStats) => void>();
  let nextId = 1;

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('Expected the receiver to listen within 20 s, it did not')), 20_000);
    child.once('exit', (code) => reject(new Error(`Expected the receiver to start, it exited with code ${String(code)}`)));
    child.on('message', (message: ReceiverMessage) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message.port);
      } else {
        pending.get(message.id)?.(message.stats);
        pending.delete(message.id);
      }
    });
  });

  const command = (mode?: ReceiverMode): Promise<ReceiverStats> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      const message: ReceiverCommand = mode === undefined ? { id } : { id, mode };
      child.send(message);
    });

  return {
    origin: `http://127.0.0.1:${port}`,
    setMode: (mode) => command(mode),
    stats: () => command(),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.disconnect();
        setTimeout(() => child.kill(), 2_000).unref();
      }),
  };
}
