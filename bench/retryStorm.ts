/**
 * e. Retry storm: the receiver answers 503 to every second request. Deliveries per second
 * and client CPU per delivery against the healthy receiver, same provisioner, same config
 * (short backoff through the public `http.retry` options), in interleaved rounds.
 */
import type { BenchContext, Section, SectionResult } from './context.js';
import { drivePublishes, publishConfig, type DriveRun } from './drive.js';
import { bigRecord, recordId, recordWithId, searchDocument } from './fixtures.js';
import { NOT_BUILT } from './library.js';
import type { ReceiverMode } from './receiver.js';
import { missing, row } from './stats.js';

/**
 * Each attempt meets a 503 with a chance of about one half (the receiver alternates, the
 * jittered retries interleave), so a delivery fails only after `limit + 1` 503s in a row:
 * about 1 in 2 million with 20 retries.
 */
const RETRY = { limit: 20, baseDelayMs: 1, maxDelayMs: 4 } as const;

export const retryStorm: Section = {
  id: 'e',
  title: 'e. Retry storm: receiver answers 503 to half the requests (concurrency 16)',
  async run(context: BenchContext): Promise<SectionResult> {
    const { quick, library, receiver, log } = context;
    const concurrency = 16;
    const total = quick ? 300 : 4_000;
    const rounds = quick ? 2 : 5;
    const maxMs = quick ? 10_000 : 60_000;
    const create = library.createProvisioner;
    if (create === undefined) {
      return {
        rows: [
          missing('e', 'healthy', 'deliveries/s', NOT_BUILT),
          missing('e', '503 for half', 'deliveries/s', NOT_BUILT),
        ],
      };
    }
    const url = `${receiver.origin}/api/v1/documents`;
    const base = bigRecord();
    const provisioner = create({
      events: publishConfig(url, searchDocument()),
      http: { concurrency, maxQueue: 100_000, timeoutMs: 10_000, retry: RETRY },
    });
    let next = 0;
    const runIn = async (mode: ReceiverMode, count: number): Promise<DriveRun> => {
      await receiver.setMode(mode);
      const before = await receiver.stats();
      const start = next;
      next += count;
      const run = await drivePublishes(provisioner, count, 2 * concurrency, (n) => recordWithId(base, recordId(start + n)), maxMs);
      const after = await receiver.stats();
      if (run.tally.delivered < count * 0.999) {
        throw new Error(
          `Expected (nearly) all ${count} deliveries to end delivered (${mode}), got ${run.tally.delivered} ` +
            `(failed ${run.tally.failed} ${JSON.stringify(run.tally.reasons)})`,
        );
      }
      log(
        `  ${mode}: ${(count / (run.wallNs / 1e9)).toFixed(0)} deliveries/s, ${(run.cpuUs / count).toFixed(1)} µs CPU each, ` +
          `${(run.tally.attempts / count).toFixed(2)} attempts each, ${after.unavailable - before.unavailable} answered 503`,
      );
      return run;
    };
    const healthy: DriveRun[] = [];
    const storm: DriveRun[] = [];
    try {
      await runIn('healthy', Math.min(total, 200));
      for (let round = 0; round < rounds; round += 1) {
        // Alternate which goes first, so drift of the machine does not favour one.
        if (round % 2 === 0) {
          healthy.push(await runIn('healthy', total));
          storm.push(await runIn('flaky', total));
        } else {
          storm.push(await runIn('flaky', total));
          healthy.push(await runIn('healthy', total));
        }
      }
    } finally {
      await receiver.setMode('healthy');
      await provisioner.close();
    }
    const settledCount = (r: DriveRun): number => r.tally.delivered + r.tally.failed;
    const rate = (r: DriveRun): number => settledCount(r) / (r.wallNs / 1e9);
    const cpu = (r: DriveRun): number => r.cpuUs / settledCount(r);
    const attempts = (r: DriveRun): number => r.tally.attempts / settledCount(r);
    const healthyRate = row('e', 'healthy', 'deliveries/s', healthy.map(rate));
    const healthyCpu = row('e', 'healthy CPU', 'µs/delivery', healthy.map(cpu));
    return {
      rows: [
        healthyRate,
        row('e', '503 for half', 'deliveries/s', storm.map(rate), { baseline: healthyRate }),
        healthyCpu,
        row('e', '503 for half CPU', 'µs/delivery', storm.map(cpu), { baseline: healthyCpu }),
        row('e', '503 for half: attempts per delivery', 'attempts', storm.map(attempts)),
        row('e', `503 for half: failed after ${RETRY.limit + 1} attempts`, 'deliveries', storm.map((r) => r.tally.failed)),
      ],
      details: { retry: RETRY, total, rounds },
    };
  },
};
