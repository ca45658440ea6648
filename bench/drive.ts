/** Drives a provisioner the way a records app does: hook calls, then counting the outcomes. */
import type { Identity, JsonObject, ProvisionerConfig } from 'remote-api-provisioner';
import type { BenchProvisioner, HookMethod } from './library.js';
import { startUsage, within, type Usage } from './stats.js';

export const BENCH_IDENTITY: Identity = { id: '1' };

/** Outcome counts of a run. */
export type Tally = {
  delivered: number;
  failed: number;
  skipped: number;
  /** Sum of `attempts` over delivered and failed outcomes. */
  attempts: number;
  /** The failure reasons seen, with their counts. */
  readonly reasons: Record<string, number>;
};

export function newTally(): Tally {
  return { delivered: 0, failed: 0, skipped: 0, attempts: 0, reasons: {} };
}

/** Settled outcomes so far. */
export function settled(tally: Tally): number {
  return tally.delivered + tally.failed + tally.skipped;
}

/** Counts the outcomes of `provisioner` into a tally; call the result to stop counting. */
export function countOutcomes(provisioner: BenchProvisioner, tally: Tally, onOutcome?: () => void): () => void {
  const subscription = provisioner.outcomes$.subscribe((outcome) => {
    if (outcome.kind === 'delivered') {
      tally.delivered += 1;
      tally.attempts += outcome.attempts;
    } else if (outcome.kind === 'failed') {
      tally.failed += 1;
      tally.attempts += outcome.attempts;
      tally.reasons[outcome.reason] = (tally.reasons[outcome.reason] ?? 0) + 1;
    } else {
      tally.skipped += 1;
    }
    onOutcome?.();
  });
  return () => subscription.unsubscribe();
}

/** Calls a hook and reports a rejection instead of leaving it unhandled. */
export function callHook(hook: HookMethod, args: Parameters<HookMethod>[0]): void {
  const result = hook(args);
  if (result instanceof Promise) result.catch(reportHookError);
}

function reportHookError(error: unknown): void {
  process.exitCode = 1;
  console.error('A hook call rejected:', error);
}

/** The config of the end-to-end runs: `publish` POSTs a 1 KB search document. */
export function publishConfig(url: string, document: JsonObject): ProvisionerConfig {
  return {
    rdm_record: {
      [url]: {
        publish: {
          http_method: 'POST',
          payload: ({ record }) => ({ ...document, id: String(record?.id ?? '') }),
        },
      },
    },
  };
}

export type DriveRun = Usage & { readonly issued: number; readonly tally: Tally };

/**
 * Publishes `total` records through the provisioner's hooks, keeping at most `window` events
 * accepted but not settled (the app keeps working while deliveries go out), then drains.
 * Stops issuing after `maxMs`; the drain has `maxMs` more.
 */
export async function drivePublishes(
  provisioner: BenchProvisioner,
  total: number,
  window: number,
  recordFor: (n: number) => JsonObject,
  maxMs: number,
): Promise<DriveRun> {
  const tally = newTally();
  const publish = provisioner.hooks('rdm_record')['publish'];
  if (publish === undefined) throw new Error('Expected hooks("rdm_record") to have a publish method, it has none');
  let wake: (() => void) | undefined;
  const stopCounting = countOutcomes(provisioner, tally, () => wake?.());
  const stopAt = Date.now() + maxMs;
  // Wakes the loop at the deadline even when no outcome arrives any more.
  const watchdog = setTimeout(() => wake?.(), maxMs);
  let issued = 0;
  const stop = startUsage();
  try {
    while (issued < total && Date.now() < stopAt) {
      while (issued < total && issued - settled(tally) < window) {
        callHook(publish, { identity: BENCH_IDENTITY, record: recordFor(issued) });
        issued += 1;
      }
      if (issued < total) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (issued - settled(tally) < window) resolve();
        });
        wake = undefined;
      }
    }
    await within(provisioner.drain(), maxMs, `drain() after ${issued} publishes`);
    return { ...stop(), issued, tally };
  } finally {
    clearTimeout(watchdog);
    stopCounting();
  }
}
