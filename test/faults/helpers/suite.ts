/**
 * Small helpers shared by the fault suite: outcome tallies, deadlines, and the figures the suite prints.
 *
 * @internal test helper
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { DeliveryOutcome } from '../../../src/index.js';

/** Outcomes counted by kind, and by kind:reason. */
export function tallyOutcomes(outcomes: readonly DeliveryOutcome<unknown>[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const outcome of outcomes) {
    const key = outcome.kind === 'delivered' ? 'delivered' : `${outcome.kind}:${outcome.reason}`;
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(tally).sort(([a], [b]) => a.localeCompare(b)));
}

/** Counts values by a key. */
export function countBy<T>(items: Iterable<T>, key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const name = key(item);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** Resolves with `promise`, or rejects naming `what` when it takes longer than `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Expected ${what} within ${ms} ms, it took longer`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Prints the suite's figures in one block (copied into docs/measurements/reliability.md). */
export function printFigures(title: string, figures: Readonly<Record<string, unknown>>): void {
  const width = Math.max(...Object.keys(figures).map((key) => key.length));
  const lines = Object.entries(figures).map(
    ([key, value]) => `  ${key.padEnd(width)}  ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`,
  );
  console.log(`\n[fault suite] ${title}\n${lines.join('\n')}\n`);
}

/** Heap used, in MiB with one decimal, after a garbage collection when one can be forced. */
export function heapUsedMiB(): number {
  forceGc();
  return Math.round((process.memoryUsage().heapUsed / 1024 / 1024) * 10) / 10;
}

let gcFunction: (() => void) | null | undefined;
/** Runs a full garbage collection (exposing `gc` for this process on first use). */
function forceGc(): void {
  if (gcFunction === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFunction = runInNewContext('gc') as () => void;
    } catch {
      gcFunction = null;
    }
  }
  gcFunction?.();
}
