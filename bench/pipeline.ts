/**
 * c. Pipeline cost without HTTP: an effect that answers at once; events per second for
 * 1,000,000 publishes over 100,000 distinct records (in chunks of 100,000, each one a round),
 * and the heap after the drain against the heap before (per-record state must be released).
 */
import { of } from 'rxjs';
import type { ProvisionerResponse } from 'remote-api-provisioner';
import type { BenchContext, Section, SectionResult } from './context.js';
import { drivePublishes, publishConfig } from './drive.js';
import { bigRecord, recordId, recordWithId, searchDocument } from './fixtures.js';
import { NOT_BUILT } from './library.js';
import { collectGarbage, missing, row, settledHeap, type Row } from './stats.js';

const INSTANT_RESPONSE: ProvisionerResponse = { status: 200, headers: {}, body: null, url: '' };

export const pipelineCost: Section = {
  id: 'c',
  title: 'c. Pipeline without HTTP (effect answers at once)',
  async run(context: BenchContext): Promise<SectionResult> {
    const { quick, library, log } = context;
    const total = quick ? 50_000 : 1_000_000;
    const distinct = quick ? 5_000 : 100_000;
    const chunks = 10;
    const chunk = total / chunks;
    const window = 1_000;
    const create = library.createProvisioner;
    if (create === undefined) {
      return {
        rows: [
          missing('c', `${total} events / ${distinct} records`, 'events/s', NOT_BUILT),
          missing('c', 'heap after drain vs before', '%', NOT_BUILT),
        ],
      };
    }
    const gcAvailable = collectGarbage();
    const base = bigRecord();
    const provisioner = create({
      events: publishConfig('http://127.0.0.1:9/api/v1/documents', searchDocument()),
      http: { concurrency: 16, maxQueue: window * 4, effect: () => of(INSTANT_RESPONSE) },
    });
    const rates: number[] = [];
    const cpu: number[] = [];
    const heapAfterChunk: number[] = [];
    let delivered = 0;
    let heapBefore = 0;
    let heapAfter = 0;
    try {
      // Warm-up on other record ids, so that "before" holds the compiled code, not the records.
      await drivePublishes(provisioner, 10_000, window, (n) => recordWithId(base, `warm-${n % 1_000}`), 120_000);
      heapBefore = await settledHeap();
      for (let c = 0; c < chunks; c += 1) {
        const offset = c * chunk;
        const run = await drivePublishes(
          provisioner,
          chunk,
          window,
          (n) => recordWithId(base, recordId((offset + n) % distinct)),
          300_000,
        );
        if (run.tally.delivered !== chunk) {
          throw new Error(
            `Expected ${chunk} delivered outcomes in chunk ${c + 1}, got ${run.tally.delivered} ` +
              `(failed ${run.tally.failed} ${JSON.stringify(run.tally.reasons)}, skipped ${run.tally.skipped})`,
          );
        }
        delivered += run.tally.delivered;
        rates.push(chunk / (run.wallNs / 1e9));
        cpu.push(run.cpuUs / chunk);
        heapAfterChunk.push(process.memoryUsage().heapUsed);
        log(`  chunk ${c + 1}/${chunks}: ${(chunk / (run.wallNs / 1e9)).toFixed(0)} events/s`);
      }
      await provisioner.drain();
      heapAfter = await settledHeap();
    } finally {
      await provisioner.close();
    }
    const growth = ((heapAfter - heapBefore) / heapBefore) * 100;
    const rows: Row[] = [
      row('c', `${total} events / ${distinct} records`, 'events/s', rates, { note: `rounds: ${chunks} chunks of ${chunk}` }),
      row('c', 'CPU per event', 'µs/event', cpu),
      row('c', 'heap before (after warm-up, GC)', 'MB', [heapBefore / 2 ** 20]),
      row('c', 'heap after drain (GC)', 'MB', [heapAfter / 2 ** 20]),
      {
        ...row('c', 'heap after drain vs before', '%', [growth]),
        verdicts: [{ target: 'within 10% of before', pass: Math.abs(growth) <= 10 && gcAvailable }],
        ...(gcAvailable ? {} : { note: 'run without --expose-gc: heap figures include garbage' }),
      },
    ];
    return { rows, details: { total, distinct, delivered, heapBefore, heapAfter, heapAfterChunk, gcAvailable } };
  },
};
