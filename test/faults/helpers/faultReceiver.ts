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
import { fileURLToPath } from 'node:url';
import { forkReceiver } from '../../helpers/receiverProcess.js';
import type { ReceiverPlan, ReceiverStats, RecordedRequest } from './faultPlan.js';

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

const CHILD = fileURLToPath(new URL('./faultReceiverChild.ts', import.meta.url));

/** Forks a receiver process, waits until it listens, and gives it `plan`. */
export async function startFaultReceiver(plan: ReceiverPlan = {}, options: { readonly startTimeoutMs?: number } = {}): Promise<FaultReceiver> {
  const child = await forkReceiver<never>(CHILD, {}, options.startTimeoutMs ?? 15_000);
  const receiver: FaultReceiver = {
    url: child.origin,
    port: Number(new URL(child.origin).port),
    pid: child.pid,
    setPlan: (next) => child.call<void>('plan', next),
    requests: () => child.call<readonly RecordedRequest[]>('requests'),
    stats: () => child.call<ReceiverStats>('stats'),
    reset: () => child.call<void>('reset'),
    close: () => child.close(),
  };
  await receiver.setPlan(plan);
  return receiver;
}
