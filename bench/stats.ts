/**
 * Figures of the benchmark: each one is the median of several rounds with their min and
 * max, and may carry the ratio to a baseline measured in the same run.
 */

/** The median, min and max of the rounds of one measurement. */
export type Spread = {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly rounds: readonly number[];
};

/** Summarises the values of the rounds; an empty list gives NaN throughout. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, rounds: [] };
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, rounds: values };
}

/** A pass/fail verdict against a target of the issue; printed, never asserted. */
export type Verdict = { readonly target: string; readonly pass: boolean };

/** One line of the table. */
export type Row = {
  readonly section: string;
  readonly name: string;
  readonly unit: string;
  readonly value: Spread;
  /** Name of the baseline row (same section) the ratio is taken against. */
  readonly baseline?: string;
  /** The median of the rounds' ratios to the baseline's same rounds (see {@link ratioTo}). */
  readonly ratio?: number;
  readonly verdicts?: readonly Verdict[];
  readonly note?: string;
};

/** Builds a row, with the ratio to `baseline` when one is given. */
export function row(
  section: string,
  name: string,
  unit: string,
  values: readonly number[],
  options: { baseline?: Row; verdicts?: readonly Verdict[]; note?: string } = {},
): Row {
  const value = spread(values);
  return {
    section,
    name,
    unit,
    value,
    ...(options.baseline === undefined
      ? {}
      : { baseline: options.baseline.name, ratio: ratioTo(value, options.baseline.value) }),
    ...(options.verdicts === undefined ? {} : { verdicts: options.verdicts }),
    ...(options.note === undefined ? {} : { note: options.note }),
  };
}

/**
 * The ratio of a measurement to its baseline. Rounds are interleaved (rounds.ts): round r of
 * every contender ran within the same minute, under the same load, so the ratio is taken
 * round by round and the median of those is reported; on this shared machine the load moves
 * between rounds more than within one (one baseline's rounds spread 2×), and a ratio of the
 * two medians pairs rounds that ran under different loads. With rounds that do not pair
 * (different counts), the ratio of the medians.
 */
export function ratioTo(value: Spread, baseline: Spread): number {
  if (value.rounds.length === 0 || value.rounds.length !== baseline.rounds.length) return value.median / baseline.median;
  return spread(value.rounds.map((v, i) => v / (baseline.rounds[i] as number))).median;
}

/** A row that could not be measured, with the reason. */
export function missing(section: string, name: string, unit: string, why: string): Row {
  return { section, name, unit, value: spread([]), note: why };
}

/** CPU time (user + system, all threads of this process) and wall time of a region. */
export type Usage = { readonly wallNs: number; readonly cpuUs: number };

/** Starts measuring; call the returned function at the end of the region. */
export function startUsage(): () => Usage {
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  return () => {
    const wallNs = Number(process.hrtime.bigint() - wall);
    const used = process.cpuUsage(cpu);
    return { wallNs, cpuUs: used.user + used.system };
  };
}

/** Runs a full garbage collection when the process runs with `--expose-gc`. */
export function collectGarbage(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return false;
  gc();
  gc();
  return true;
}

/**
 * `heapUsed` after full collections, once it holds still. Objects kept by a
 * `FinalizationRegistry` (undici's `Request` registers one per request that follows a signal)
 * are only let go when its cleanup task has run after a collection, so one collection is not
 * enough: collect, let tasks run, and again, until two readings agree within 1% (at most 10).
 */
export async function settledHeap(): Promise<number> {
  let previous = Number.NaN;
  for (let attempt = 0; attempt < 10; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    collectGarbage();
    const used = process.memoryUsage().heapUsed;
    if (Math.abs(used - previous) <= 0.01 * used) return used;
    previous = used;
  }
  return previous;
}

/** Waits for `promise`, failing with a message naming `what` after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Expected ${what} within ${ms} ms, still running`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
