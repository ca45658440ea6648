import type { BackfillProgress, DeadLetterFilter, DeliveryOutcome, DeliveryStore, FailureReason, ProvisionerConfig, ProvisionerOptions } from '../index.js';
import { ConfigError } from '../errors.js';
import { redactUrl } from '../util/redact.js';
import { configExportOf, loadModule, noConfigMessage } from './configModule.js';
import { plural, type Output } from './output.js';

/** The command line of `replay` and `backfill`, as `parseArgs` hands it over. */
export type CommandLine = {
  readonly positionals: readonly string[];
  readonly values: {
    readonly store?: string | undefined;
    readonly reason?: string | undefined;
    readonly endpoint?: string | undefined;
    readonly record?: string | undefined;
    readonly service?: string | undefined;
    readonly method?: string | undefined;
    readonly concurrency?: string | undefined;
  };
};

type Library = typeof import('../index.js');

/** The failure reasons a dead letter can have (`--reason`). */
const FAILURE_REASONS: readonly FailureReason[] = ['http-status', 'network', 'timeout', 'redirect', 'payload', 'url', 'owner', 'overflow', 'closed', 'expired'];

/** What is wrong with `--store` for `command` (a usage error), or `null`. */
function storeSpecIssue(spec: string, command: 'replay' | 'backfill'): string | null {
  if (spec === 'memory') return command === 'replay' ? 'Expected --store to be the app\'s durable store for replay (the memory store of a new process holds no dead letters), got memory.' : null;
  if (spec.startsWith('sqlite:')) return spec.length > 'sqlite:'.length ? null : 'Expected a file after --store sqlite:, got none.';
  if (/^(rediss?|postgres(ql)?):\/\//.test(spec)) return null;
  return `Expected --store to be sqlite:<path>, redis://host:port, postgres://host/database${command === 'backfill' ? ' or memory' : ''}, got ${JSON.stringify(redactUrl(spec))}.`;
}

/** What is wrong with replay's filters (a usage error), or `null`. */
function replayFilterIssue(values: CommandLine['values']): string | null {
  if (values.reason !== undefined && !(FAILURE_REASONS as readonly string[]).includes(values.reason)) {
    return `Expected --reason to be one of ${FAILURE_REASONS.join(', ')}, got ${JSON.stringify(values.reason)}.`;
  }
  if (values.endpoint !== undefined && !/^https?:\/\/[^/]/.test(values.endpoint)) {
    return `Expected --endpoint to be an endpoint URL of the config (http:// or https://), got ${JSON.stringify(redactUrl(values.endpoint))}.`;
  }
  return null;
}

/** Options that `command` does not use: named on stderr rather than ignored in silence. */
function noteUnused(command: 'replay' | 'backfill', values: CommandLine['values'], output: Output): void {
  const used = command === 'replay' ? ['store', 'reason', 'endpoint', 'record'] : ['store', 'service', 'method', 'concurrency'];
  const unused = Object.entries(values).filter(([name, value]) => value !== undefined && !used.includes(name)).map(([name]) => `--${name}`);
  if (unused.length > 0) output.err(`note: ${command} does not use ${unused.join(', ')}; ignored.`);
}

/** A store from `--store`: `sqlite:<path>`, `redis://…` / `rediss://…`, `postgres://…`, or `memory`. */
async function openStore(spec: string, library: Library): Promise<DeliveryStore> {
  if (spec === 'memory') return library.createMemoryStore();
  if (spec.startsWith('sqlite:')) return library.createSqliteStore({ path: spec.slice('sqlite:'.length) });
  if (spec.startsWith('redis://') || spec.startsWith('rediss://')) {
    // `?prefix=…&name=…&partitions=…` choose the store within the server (as the app creates it).
    const url = new URL(spec);
    const prefix = url.searchParams.get('prefix');
    const name = url.searchParams.get('name');
    const partitions = url.searchParams.get('partitions');
    url.search = '';
    return library.createRedisStore({
      url: url.href,
      ...(prefix !== null ? { prefix } : {}),
      ...(name !== null ? { name } : {}),
      ...(partitions !== null ? { partitions: Number(partitions) } : {}),
    });
  }
  if (spec.startsWith('postgres://') || spec.startsWith('postgresql://')) {
    // `?schema=…&name=…` choose the store within the database (as the app creates it).
    const url = new URL(spec);
    const schema = url.searchParams.get('schema');
    const name = url.searchParams.get('name');
    url.searchParams.delete('schema');
    url.searchParams.delete('name');
    return library.createPostgresStore({ connectionString: url.href, ...(schema !== null ? { schema } : {}), ...(name !== null ? { name } : {}) });
  }
  // storeSpecIssue refused anything else before.
  throw new Error(`Expected --store to be sqlite:<path>, redis://host:port, postgres://host/database or memory, got ${JSON.stringify(redactUrl(spec))}`);
}

/** Loads the config module and builds a provisioner over the `--store` store. */
async function provisionerFor(modulePath: string, storeSpec: string, output: Output) {
  const exports = await loadModule(modulePath, output);
  if (exports === null) return null;
  const exportName = configExportOf(exports);
  if (exportName === undefined) {
    output.err(noConfigMessage(modulePath, exports));
    return null;
  }
  const library = await import('../index.js');
  const options = provisionerOptionsOf(exports, exportName);
  // Checked before the store opens: a broken config leaves no store file or schema behind.
  const { provisionerIssues } = await import('../pipeline/options.js');
  const { issues } = provisionerIssues(options);
  if (issues.length > 0) throw new ConfigError(issues);
  const store = await openStore(storeSpec, library);
  try {
    return library.createProvisioner({ ...options, store });
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** The provisioner options a config module gives: its config, and its `resolveOwner`, `signing` and `http` exports. */
export function provisionerOptionsOf(exports: Readonly<Record<string, unknown>>, exportName: string): ProvisionerOptions {
  return {
    events: exports[exportName] as ProvisionerConfig,
    ...(exports['resolveOwner'] !== undefined ? { resolveOwner: exports['resolveOwner'] as never } : {}),
    ...(exports['signing'] !== undefined ? { signing: exports['signing'] as never } : {}),
    ...(exports['http'] !== undefined ? { http: exports['http'] as never } : {}),
  };
}

/** `replay <config module> --store S`: requeues the store's dead letters and waits for their outcomes. */
export async function replay(line: CommandLine, output: Output, usage: string): Promise<number> {
  const [modulePath, ...extra] = line.positionals;
  const storeSpec = line.values.store;
  if (modulePath === undefined || extra.length > 0 || storeSpec === undefined) {
    output.err(`Expected \`replay <config module> --store <store>\`, got ${modulePath === undefined ? 'no config module' : extra.length > 0 ? `${extra.length} extra arguments` : 'no --store'}.`);
    output.err(usage);
    return 2;
  }
  const wrong = storeSpecIssue(storeSpec, 'replay') ?? replayFilterIssue(line.values);
  if (wrong !== null) {
    output.err(wrong);
    return 2;
  }
  noteUnused('replay', line.values, output);
  const provisioner = await provisionerFor(modulePath, storeSpec, output);
  if (provisioner === null) return 1;
  const outcomes: DeliveryOutcome[] = [];
  provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
  try {
    const { reason, endpoint, record: recordId } = line.values;
    const filter: DeadLetterFilter = {
      ...(reason !== undefined ? { reason: reason as FailureReason } : {}),
      ...(endpoint !== undefined ? { endpoint } : {}),
      ...(recordId !== undefined ? { recordId } : {}),
    };
    const ids = new Set(await provisioner.replay(filter));
    if (ids.size === 0) {
      output.out('✓ replay: no dead letters match');
      return 0;
    }
    output.out(`replay: ${plural(ids.size, 'dead letter')} requeued with their delivery ids`);
    await provisioner.drain();
    const replayed = outcomes.filter((outcome) => outcome.kind !== 'delivered' || ids.has(outcome.request.deliveryId));
    const count = (kind: DeliveryOutcome['kind']) => replayed.filter((outcome) => outcome.kind === kind).length;
    const failed = count('failed');
    output.out(`${failed === 0 ? '✓' : '✗'} replay: ${count('delivered')} delivered, ${failed} failed, ${count('skipped')} skipped`);
    return failed === 0 ? 0 : 1;
  } finally {
    await provisioner.close({ timeoutMs: 5_000 });
  }
}

/** `backfill <config module> <records module> --service S --method M`: feeds every record through the pipeline. */
export async function backfill(line: CommandLine, output: Output, usage: string): Promise<number> {
  const [modulePath, recordsPath, ...extra] = line.positionals;
  const { service, method } = line.values;
  const concurrency = Number(line.values.concurrency ?? 16);
  if (modulePath === undefined || recordsPath === undefined || extra.length > 0 || service === undefined || method === undefined || !Number.isInteger(concurrency) || concurrency < 1) {
    output.err('Expected `backfill <config module> <records module> --service S --method M`, with --concurrency a positive integer when given.');
    output.err(usage);
    return 2;
  }
  if (service !== 'rdm_record' && service !== 'community') {
    output.err(`Expected --service to be rdm_record or community, got ${JSON.stringify(service)}.`);
    return 2;
  }
  const wrongStore = storeSpecIssue(line.values.store ?? 'memory', 'backfill');
  if (wrongStore !== null) {
    output.err(wrongStore);
    return 2;
  }
  noteUnused('backfill', line.values, output);
  const recordsModule = await loadModule(recordsPath, output);
  if (recordsModule === null) return 1;
  let source: unknown = recordsModule['default'] ?? recordsModule['records'];
  if (typeof source === 'function') source = await (source as () => unknown)();
  if (typeof source !== 'object' || source === null || !(Symbol.iterator in source || Symbol.asyncIterator in source)) {
    output.err(`✗ Expected ${recordsPath} to export (as default or \`records\`) an iterable or async iterable of records, or a function returning one, found ${source === null ? 'null' : typeof source}.`);
    return 1;
  }
  const provisioner = await provisionerFor(modulePath, line.values.store ?? 'memory', output);
  if (provisioner === null) return 1;
  const tty = process.stdout.isTTY === true;
  let lastLine = 0;
  const show = (progress: BackfillProgress, final: boolean): void => {
    const of = progress.total === undefined ? '' : `/${progress.total}`;
    const counts = `${progress.done}${of} done (${progress.delivered} delivered, ${progress.failed} failed, ${progress.skipped} skipped)`;
    if (tty) {
      const width = 30;
      const filled = progress.total === undefined || progress.total === 0 ? 0 : Math.round((progress.done / progress.total) * width);
      process.stdout.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${counts}${final ? '\n' : ''}`);
    } else if (final || Date.now() - lastLine >= 1_000) {
      lastLine = Date.now();
      output.out(`backfill: ${counts}`);
    }
  };
  try {
    let last: BackfillProgress = { done: 0, delivered: 0, failed: 0, skipped: 0, inFlight: 0 };
    await new Promise<void>((resolveDone, reject) => {
      provisioner
        .backfill(source as Iterable<never>, { service, method: method as never, concurrency })
        .subscribe({
          next: (progress) => {
            last = progress;
            show(progress, false);
          },
          error: reject,
          complete: resolveDone,
        });
    });
    show(last, true);
    output.out(`${last.failed === 0 ? '✓' : '✗'} backfill ${service}.${method}: ${plural(last.done, 'record')}, ${last.delivered} delivered, ${last.failed} failed, ${last.skipped} skipped`);
    return last.failed === 0 ? 0 : 1;
  } finally {
    await provisioner.close({ timeoutMs: 5_000 });
  }
}
