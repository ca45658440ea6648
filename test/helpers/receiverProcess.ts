/**
 * Starts `receiverChild.ts` (the delivery tests' receiving API) in a separate process and
 * collects what it reports: the requests it received and what became of its responses.
 *
 * @internal test helper
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A request as the receiver saw it. */
export type ReceivedRequest = {
  readonly type: 'request';
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
  /** When it arrived (ms since epoch, receiver clock). */
  readonly at: number;
};

/** What the receiver reports over IPC. */
export type ReceiverEvent =
  | { readonly type: 'ready'; readonly port: number }
  | ReceivedRequest
  | { readonly type: 'closed'; readonly path: string }
  | { readonly type: 'big-done'; readonly path: string; readonly written: number; readonly finished: boolean };

export type ReceiverProcess = {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  url(path: string): string;
  /** Requests received so far, in arrival order. */
  requests(): readonly ReceivedRequest[];
  /** Resolves with the first event (past or future) that matches, or rejects after `timeoutMs`. */
  waitFor<E extends ReceiverEvent>(predicate: (event: ReceiverEvent) => event is E, timeoutMs?: number): Promise<E>;
  close(): Promise<void>;
};

const CHILD_PATH = fileURLToPath(new URL('./receiverChild.ts', import.meta.url));

/** Forks the receiver (secrets for `/verify` in `secrets`) and waits until it listens. */
export async function startReceiverProcess(options: { readonly secrets?: readonly string[] } = {}): Promise<ReceiverProcess> {
  const child: ChildProcess = fork(CHILD_PATH, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, RECEIVER_SECRETS: JSON.stringify(options.secrets ?? []) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const events: ReceiverEvent[] = [];
  const waiters = new Set<(event: ReceiverEvent) => void>();
  child.on('message', (event: ReceiverEvent) => {
    events.push(event);
    for (const waiter of [...waiters]) waiter(event);
  });

  const waitFor = <E extends ReceiverEvent>(predicate: (event: ReceiverEvent) => event is E, timeoutMs = 10_000): Promise<E> => {
    const past = events.find(predicate);
    if (past !== undefined) return Promise.resolve(past);
    return new Promise<E>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`Expected a matching receiver event within ${timeoutMs} ms, got none`));
      }, timeoutMs);
      const waiter = (event: ReceiverEvent): void => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        waiters.delete(waiter);
        resolve(event);
      };
      waiters.add(waiter);
    });
  };

  const exited = new Promise<never>((_, reject) => {
    child.once('exit', (code) => reject(new Error(`Expected the receiver to start, it exited with code ${String(code)}`)));
  });
  const ready = await Promise.race([
    waitFor((event): event is Extract<ReceiverEvent, { type: 'ready' }> => event.type === 'ready', 20_000),
    exited,
  ]);
  exited.catch(() => undefined);
  const origin = `http://127.0.0.1:${ready.port}`;

  return {
    origin,
    url: (path) => `${origin}${path}`,
    requests: () => events.filter((event): event is ReceivedRequest => event.type === 'request'),
    waitFor,
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
