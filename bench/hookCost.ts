/**
 * b. Hook cost: the time the app's service call spends in a hook, per call, for a configured
 * method (2 KB record) and for a method no endpoint is configured for, against a plain
 * function call and one `structuredClone` of the record, measured in the same run.
 *
 * The hooks belong to a provisioner whose effect answers at once, so no HTTP runs; whatever
 * the hook does synchronously (snapshot, emit, and any pipeline work it runs inline) is
 * counted, and the pipeline is drained between rounds, outside the timed loops.
 */
import { of } from 'rxjs';
import type { JsonObject, ProvisionerResponse } from 'remote-api-provisioner';
import type { BenchContext, Section, SectionResult } from './context.js';
import { BENCH_IDENTITY, callHook, publishConfig } from './drive.js';
import { bigRecord, recordId, recordWithId, searchDocument } from './fixtures.js';
import { NOT_BUILT, type HookArgs, type HookMethod } from './library.js';
import { missing, row, within, type Row } from './stats.js';

const INSTANT_RESPONSE: ProvisionerResponse = { status: 200, headers: {}, body: null, url: '' };

let sink: unknown;
/** The baseline: a function the app would call anyway; it keeps its argument so it is not optimised away. */
function plainCall(args: HookArgs): void {
  sink = args.record;
}

/** Nanoseconds per call of `call` over `calls` calls with rotating records. */
function timeCalls(call: (args: HookArgs) => unknown, records: readonly JsonObject[], calls: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i += 1) {
    call({ identity: BENCH_IDENTITY, record: records[i % records.length] as JsonObject });
  }
  return Number(process.hrtime.bigint() - started) / calls;
}

export const hookCost: Section = {
  id: 'b',
  title: 'b. Hook cost per call (time the service call spends in the hook)',
  async run(context: BenchContext): Promise<SectionResult> {
    const { quick, library, log } = context;
    const rounds = quick ? 3 : 9;
    const calls = quick ? 2_000 : 20_000;
    const base = bigRecord();
    const records = Array.from({ length: 1_000 }, (_, n) => recordWithId(base, recordId(n)));
    const samples: Record<string, number[]> = { plain: [], clone: [], configured: [], unconfigured: [] };

    const create = library.createProvisioner;
    const provisioner =
      create === undefined
        ? undefined
        : create({
            events: publishConfig('http://127.0.0.1:9/api/v1/documents', searchDocument()),
            http: { concurrency: 16, maxQueue: calls * 2, effect: () => of(INSTANT_RESPONSE) },
          });
    const hooks = provisioner?.hooks('rdm_record');
    const publish = hooks?.['publish'];
    // `read` has no endpoint in this config: the hook must do next to nothing.
    const read = hooks?.['read'];
    const callPublish = publish === undefined ? undefined : (args: HookArgs): void => callHook(publish as HookMethod, args);
    const callRead = read === undefined ? undefined : (args: HookArgs): void => callHook(read as HookMethod, args);

    try {
      // Warm up every loop so the JIT has compiled it before the timed rounds.
      timeCalls(plainCall, records, calls);
      timeCalls(structuredClone, records, calls);
      if (callPublish !== undefined) timeCalls(callPublish, records, calls);
      if (callRead !== undefined) timeCalls(callRead, records, calls);
      if (provisioner !== undefined) await within(provisioner.drain(), 60_000, 'drain() after the warm-up hook calls');

      for (let round = 0; round < rounds; round += 1) {
        samples['plain']?.push(timeCalls(plainCall, records, calls));
        samples['clone']?.push(timeCalls((args) => structuredClone(args.record), records, calls));
        if (callRead !== undefined) samples['unconfigured']?.push(timeCalls(callRead, records, calls));
        if (callPublish !== undefined) {
          samples['configured']?.push(timeCalls(callPublish, records, calls));
          await within(provisioner?.drain() ?? Promise.resolve(), 60_000, `drain() after ${calls} publish hook calls`);
        }
        log(`  round ${round + 1}/${rounds} done`);
      }
    } finally {
      await provisioner?.close();
    }

    const us = (values: readonly number[] | undefined): number[] => (values ?? []).map((ns) => ns / 1_000);
    const plain = row('b', 'plain function call', 'µs/call', us(samples['plain']));
    const clone = row('b', 'structuredClone(2 KB record)', 'µs/call', us(samples['clone']), { baseline: plain });
    const rows: Row[] = [plain, clone];
    if (callPublish === undefined) {
      rows.push(missing('b', 'hook, configured method (publish)', 'µs/call', NOT_BUILT));
    } else {
      const configured = row('b', 'hook, configured method (publish)', 'µs/call', us(samples['configured']), { baseline: plain });
      const ratioToClone = configured.value.median / clone.value.median;
      rows.push({
        ...configured,
        verdicts: [{ target: `≤ 2× structuredClone (is ${ratioToClone.toFixed(2)}×)`, pass: ratioToClone <= 2 }],
      });
    }
    if (callRead === undefined) {
      rows.push(missing('b', 'hook, unconfigured method (read)', 'µs/call', NOT_BUILT));
    } else {
      const unconfigured = row('b', 'hook, unconfigured method (read)', 'µs/call', us(samples['unconfigured']), { baseline: plain });
      rows.push({ ...unconfigured, verdicts: [{ target: '≤ 0.5 µs', pass: unconfigured.value.median <= 0.5 }] });
    }
    return { rows, details: { callsPerRound: calls, rounds, sinkType: typeof sink } };
  },
};
