/**
 * Starts the fault-injecting receiver in a separate process and controls it over IPC.
 *
 * ```ts
 * const receiver = await startFaultReceiver({ script: [{ kind: 'status', status: 503 }] });
 * await fetch(`${receiver.url}/documents`, { method: 'POST', body: '{}' }); // 503
 * await fetch(`${receiver.url}/documents`, { method: 'POST', body: '{}' }); // 200
 * const seen = await receiver.requests();
 * await receiver.close();
 * ```
 *
 * @internal test helper
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ControlMessage, ReceiverMessage, ReceiverPlan, ReceiverStats, RecordedRequest } from './faultPlan.js';

/** A control message before the receiver client numbers it. */
type ControlWithoutId = ControlMessage extends infer M ? (M extends { readonly id: number } ? Omit<M, 'id'> : never) : never;

/** A running receiver. */
export type FaultReceiver = {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The receiver's process id (it is a separate process). */
  readonly pid: number;
  /** Replaces the plan (scripts and rules start over; records are kept). */
  setPlan(plan: ReceiverPlan): Promise<void>;
  /** Every request received since the start or the last `reset()`, in arrival order. */
  requests(): Promise<readonly RecordedRequest[]>;
  stats(): Promise<ReceiverStats>;
  /** Forgets the records and counters, and starts the plan's scripts over. */
  reset(): Promise<void>;
  /** Closes every connection and ends the process. */
  close(): Promise<void>;
};

const childPath = fileURLToPath(new URL('./receiverProcess.ts', import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Forks a receiver process, waits until it listens, and gives it `plan`. */
export async function startFaultReceiver(plan: ReceiverPlan = {}, options: { readonly startTimeoutMs?: number } = {}): Promise<FaultReceiver> {
  const child: ChildProcess = fork(childPath, [], {
    execArgv: ['--import', tsxLoader],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let exited = false;

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`Expected the fault receiver to listen within ${options.startTimeoutMs ?? 15_000} ms, it did not`));
    }, options.startTimeoutMs ?? 15_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Expected the fault receiver to start, it exited with code ${String(code)}`));
    });
    child.on('message', (raw: unknown) => {
      const message = raw as ReceiverMessage;
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message.port);
        return;
      }
      const waiter = pending.get(message.id);
      if (waiter === undefined) return;
      pending.delete(message.id);
      if (message.type === 'reply') waiter.resolve(message.value);
      else waiter.reject(new Error(`fault receiver: ${message.message}`));
    });
  });
  child.removeAllListeners('exit');
  child.on('exit', () => {
    exited = true;
    for (const waiter of pending.values()) waiter.reject(new Error('Expected the fault receiver to answer, it exited'));
    pending.clear();
  });

  const call = <T>(message: ControlWithoutId): Promise<T> => {
    if (exited) return Promise.reject(new Error('Expected a running fault receiver, it has exited'));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ ...message, id } as ControlMessage);
    });
  };

  const receiver: FaultReceiver = {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    setPlan: (next) => call<void>({ type: 'plan', plan: next }),
    requests: () => call<readonly RecordedRequest[]>({ type: 'requests' }),
    stats: () => call<ReceiverStats>({ type: 'stats' }),
    reset: () => call<void>({ type: 'reset' }),
    close: async () => {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await call<void>({ type: 'close' }).catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await gone;
      clearTimeout(timer);
    },
  };
  await receiver.setPlan(plan);
  return receiver;
}
