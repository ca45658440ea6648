/**
 * d. Memory per queued delivery while the receiver is stalled, up to `maxQueue`, and proof
 * that memory stops growing at the bound: past it new work ends in `overflow` outcomes.
 */
import type { JsonObject } from 'remote-api-provisioner';
import type { BenchContext, Section, SectionResult } from './context.js';
import { BENCH_IDENTITY, callHook, countOutcomes, newTally, publishConfig } from './drive.js';
import { bigRecord, recordId, recordWithId, searchDocument } from './fixtures.js';
import { NOT_BUILT } from './library.js';
import { collectGarbage, missing, row, settledHeap, within, type Row } from './stats.js';

/** One heap sample while filling the queue. */
type Sample = { readonly published: number; readonly overflowed: number; readonly heapUsed: number };

export const queueMemory: Section = {
  id: 'd',
  title: 'd. Memory per queued delivery, stalled receiver, up to maxQueue',
  async run(context: BenchContext): Promise<SectionResult> {
    const { quick, library, receiver, log } = context;
    const maxQueue = quick ? 1_000 : 10_000;
    const concurrency = 16;
    const rounds = quick ? 1 : 3;
    const step = maxQueue / 4;
    /** Steps of `step` publishes: four up to the bound, then two past it. */
    const steps = 6;
    const create = library.createProvisioner;
    if (create === undefined) {
      return {
        rows: [
          missing('d', 'memory per queued delivery', 'KB', NOT_BUILT),
          missing('d', 'growth per publish past the bound', 'bytes', NOT_BUILT),
        ],
      };
    }
    const gcAvailable = collectGarbage();
    const url = `${receiver.origin}/api/v1/documents`;
    const base = bigRecord();
    const perQueued: number[] = [];
    const pastBound: number[] = [];
    const heldAtEnd: number[] = [];
    const samplesByRound: Sample[][] = [];
    let next = 0;

    for (let round = 0; round < rounds; round += 1) {
      await receiver.setMode('healthy');
      const provisioner = create({
        events: publishConfig(url, searchDocument()),
        http: { concurrency, maxQueue, timeoutMs: 600_000, retry: { limit: 0 } },
      });
      const tally = newTally();
      const stopCounting = countOutcomes(provisioner, tally);
      const publish = provisioner.hooks('rdm_record')['publish'];
      if (publish === undefined) throw new Error('Expected hooks("rdm_record") to have a publish method, it has none');
      const publishMany = (count: number): void => {
        for (let i = 0; i < count; i += 1) {
          const record: JsonObject = recordWithId(base, recordId(next++));
          callHook(publish, { identity: BENCH_IDENTITY, record });
        }
      };
      try {
        // Warm-up: fill past the bound once (so both the queueing and the overflow paths are
        // compiled before the heap is sampled), release, drain, then stall the receiver again.
        await receiver.setMode('stalled');
        publishMany(maxQueue + 100);
        await receiver.setMode('healthy');
        await within(provisioner.drain(), 120_000, 'drain() of the warm-up');
        await receiver.setMode('stalled');
        const overflowedBefore = tally.reasons['overflow'] ?? 0;
        const samples: Sample[] = [{ published: 0, overflowed: 0, heapUsed: await settledHeap() }];
        for (let s = 1; s <= steps; s += 1) {
          publishMany(step);
          const heapUsed = await settledHeap();
          samples.push({ published: s * step, overflowed: (tally.reasons['overflow'] ?? 0) - overflowedBefore, heapUsed });
        }
        samplesByRound.push(samples);
        const first = samples[0] as Sample;
        const atBound = samples[4] as Sample;
        const last = samples[steps] as Sample;
        const queuedAtBound = atBound.published - atBound.overflowed;
        perQueued.push((atBound.heapUsed - first.heapUsed) / queuedAtBound / 1024);
        const extra = last.published - atBound.published;
        pastBound.push((last.heapUsed - atBound.heapUsed) / extra);
        heldAtEnd.push(last.published - last.overflowed);
        log(
          `  round ${round + 1}/${rounds}: ${queuedAtBound} queued, ` +
            `${((atBound.heapUsed - first.heapUsed) / 2 ** 20).toFixed(1)} MB; ` +
            `${last.overflowed} overflowed, heap ${((last.heapUsed - atBound.heapUsed) / 2 ** 20).toFixed(2)} MB past the bound`,
        );
      } finally {
        await receiver.setMode('healthy');
        await within(provisioner.drain(), 120_000, 'drain() after releasing the stalled receiver');
        stopCounting();
        await provisioner.close();
      }
    }
    const note = gcAvailable ? undefined : 'run without --expose-gc: heap figures include garbage';
    const rows: Row[] = [
      row('d', `memory per queued delivery (maxQueue ${maxQueue})`, 'KB', perQueued, note === undefined ? {} : { note }),
      {
        ...row('d', 'heap growth per publish past the bound', 'bytes', pastBound),
        verdicts: [{ target: 'stops growing (< 5% of per-queued)', pass: median(pastBound) < median(perQueued) * 1024 * 0.05 }],
      },
      {
        ...row('d', `held (not overflowed) after ${1.5 * maxQueue} publishes`, 'deliveries', heldAtEnd),
        verdicts: [
          { target: `≤ maxQueue (${maxQueue})`, pass: Math.max(...heldAtEnd) <= maxQueue },
        ],
      },
    ];
    return { rows, details: { maxQueue, concurrency, samplesByRound } };
  },
};

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
