/**
 * b. Hook cost: the time the app's service call spends in a hook, per call, for a configured
 * method (2 KB record) and for a method no endpoint is configured for, against a plain
 * function call and one `structuredClone` of the record, measured in the same run.
 *
 * Hooks emit synchronously: whatever the subscribed pipeline does before its first
 * asynchronous step runs inside the app's call, so the provisioner's hooks are measured with
 * the pipeline attached (an effect that answers at once, no HTTP), drained between rounds
 * outside the timed loops. The hooks alone (`createHooks` emitting into an event bus nobody
 * listens to) are measured too, to tell the hook's share from the pipeline's.
 */
import { of } from 'rxjs';
import type { JsonObject, ProvisionerResponse } from 'remote-api-provisioner';
import type { BenchContext, Section, SectionResult } from './context.js';
import { BENCH_IDENTITY, callHook, publishConfig } from './drive.js';
import { bigRecord, recordId, recordWithId, searchDocument } from './fixtures.js';
import { HOOKS_NOT_BUILT, NOT_BUILT, type HookArgs, type HookMethod } from './library.js';
import { missing, row, within, type Row, type Spread, type Verdict } from './stats.js';

const INSTANT_RESPONSE: ProvisionerResponse = { status: 200, headers: {}, body: null, url: '' };
/** The unconfigured target of the issue, in µs. */
const UNCONFIGURED_TARGET_US = 0.5;

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

/** A loop to time; `settle` runs after each timed batch, outside the timing. */
type Subject = {
  readonly key: string;
  readonly name: string;
  readonly call: (args: HookArgs) => unknown;
  readonly kind: 'baseline' | 'configured' | 'unconfigured';
  readonly settle?: () => Promise<void>;
};

const asCall =
  (hook: HookMethod) =>
  (args: HookArgs): void =>
    callHook(hook, args);

export const hookCost: Section = {
  id: 'b',
  title: 'b. Hook cost per call (time the service call spends in the hook)',
  async run(context: BenchContext): Promise<SectionResult> {
    const { quick, library, log } = context;
    const rounds = quick ? 3 : 9;
    const calls = quick ? 2_000 : 20_000;
    const base = bigRecord();
    const records = Array.from({ length: 1_000 }, (_, n) => recordWithId(base, recordId(n)));
    const subjects: Subject[] = [
      { key: 'plain', name: 'plain function call', call: plainCall, kind: 'baseline' },
      { key: 'clone', name: 'structuredClone(2 KB record)', call: (args) => structuredClone(args.record), kind: 'baseline' },
    ];
    const notBuilt: Row[] = [];

    // The hooks alone: snapshot, event, emit into a bus with no pipeline.
    const { createHooks, createEventBus } = library;
    const bus = createEventBus?.();
    if (createHooks !== undefined && bus !== undefined) {
      const emit = (event: unknown): void => bus.emit(event);
      const configured = createHooks('rdm_record', emit, { isConfigured: (method) => method === 'publish' });
      subjects.push(
        { key: 'hooksConfigured', name: 'createHooks alone, configured (publish)', call: asCall(configured['publish'] as HookMethod), kind: 'configured' },
        { key: 'hooksUnconfigured', name: 'createHooks alone, unconfigured (read)', call: asCall(configured['read'] as HookMethod), kind: 'unconfigured' },
      );
    } else {
      notBuilt.push(missing('b', 'createHooks alone', 'µs/call', HOOKS_NOT_BUILT));
    }

    // The provisioner's hooks, the pipeline attached (no HTTP: the effect answers at once).
    const create = library.createProvisioner;
    const provisioner =
      create === undefined
        ? undefined
        : create({
            events: publishConfig('http://127.0.0.1:9/api/v1/documents', searchDocument()),
            http: { concurrency: 16, maxQueue: calls * 2, effect: () => of(INSTANT_RESPONSE) },
          });
    if (provisioner !== undefined) {
      const hooks = provisioner.hooks('rdm_record');
      const drain = (): Promise<void> => within(provisioner.drain(), 60_000, `drain() after ${calls} publish hook calls`);
      subjects.push(
        { key: 'configured', name: 'provisioner hook, configured (publish)', call: asCall(hooks['publish'] as HookMethod), kind: 'configured', settle: drain },
        // `read` has no endpoint in this config: the hook must do next to nothing.
        { key: 'unconfigured', name: 'provisioner hook, unconfigured (read)', call: asCall(hooks['read'] as HookMethod), kind: 'unconfigured' },
      );
    } else {
      notBuilt.push(
        missing('b', 'provisioner hook, configured (publish)', 'µs/call', NOT_BUILT),
        missing('b', 'provisioner hook, unconfigured (read)', 'µs/call', NOT_BUILT),
      );
    }

    const samples = new Map<string, number[]>(subjects.map((s) => [s.key, []]));
    try {
      // Warm up every loop so the JIT has compiled it before the timed rounds.
      for (const subject of subjects) {
        timeCalls(subject.call, records, calls);
        await subject.settle?.();
      }
      for (let round = 0; round < rounds; round += 1) {
        for (let i = 0; i < subjects.length; i += 1) {
          const subject = subjects[(round + i) % subjects.length] as Subject;
          samples.get(subject.key)?.push(timeCalls(subject.call, records, calls) / 1_000);
          await subject.settle?.();
        }
        log(`  round ${round + 1}/${rounds} done`);
      }
    } finally {
      bus?.complete();
      await provisioner?.close();
    }

    const plain = row('b', 'plain function call', 'µs/call', samples.get('plain') ?? []);
    const clone = row('b', 'structuredClone(2 KB record)', 'µs/call', samples.get('clone') ?? [], { baseline: plain });
    const verdictsFor = (kind: Subject['kind'], value: Spread): Verdict[] => {
      if (kind === 'configured') {
        const ratio = value.median / clone.value.median;
        return [{ target: `≤ 2× structuredClone (is ${ratio.toFixed(2)}×)`, pass: ratio <= 2 }];
      }
      if (kind === 'unconfigured') return [{ target: `≤ ${UNCONFIGURED_TARGET_US} µs`, pass: value.median <= UNCONFIGURED_TARGET_US }];
      return [];
    };
    const rows: Row[] = [plain, clone];
    for (const subject of subjects.slice(2)) {
      const measured = row('b', subject.name, 'µs/call', samples.get(subject.key) ?? [], { baseline: plain });
      rows.push({ ...measured, verdicts: verdictsFor(subject.kind, measured.value) });
    }
    rows.push(...notBuilt);
    return { rows, details: { callsPerRound: calls, rounds, sinkType: typeof sink } };
  },
};
