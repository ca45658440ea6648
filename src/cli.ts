#!/usr/bin/env node
/**
 * The `remote-api-provisioner` command: `remote-api-provisioner check <config module>` loads a
 * config module, validates it like `createProvisioner` would and prints either every issue
 * (exit 1) or what will be sent to which endpoint for which service method (exit 0).
 * Secrets are never printed: `auth_token` shows as `***`, secret-looking header values and URL
 * credentials are masked. `replay` sends a durable store's dead letters again; `backfill` feeds
 * the records of a records module through the pipeline, with a progress bar on a terminal.
 *
 * @example
 * ```sh
 * npx remote-api-provisioner check ./provisioner.config.js
 * npx remote-api-provisioner replay ./provisioner.config.js --store sqlite:var/provisioner.db --reason http-status
 * npx remote-api-provisioner backfill ./provisioner.config.js ./records.js --service rdm_record --method publish
 * ```
 * @packageDocumentation
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackfillProgress, DeadLetterFilter, DeliveryOutcome, DeliveryStore, EventConfig, FailureReason, ProvisionerConfig, ServiceType } from './index.js';
import { isSecretKey, redactUrl } from './log.js';

const USAGE = `Usage: remote-api-provisioner check <config module>
       remote-api-provisioner replay <config module> --store <store> [--reason R] [--endpoint URL] [--record ID]
       remote-api-provisioner backfill <config module> <records module> --service S --method M [--store <store>] [--concurrency N]

Loads a config module (its default export, or its \`events\` or \`config\` export: the
REMOTE_API_PROVISIONER_EVENTS shape, service type -> endpoint URL -> service method -> event
config), validates it and prints what will be sent to which endpoint for which event.

Commands:
  check <module>   validate the config and summarize it
  replay <module>  send the store's dead letters (all, or those matching --reason, --endpoint,
                   --record) again with their delivery ids, and wait for their outcomes
  backfill <module> <records module>
                   send every record of the records module (its default or \`records\` export:
                   an array, an iterable, an async iterable, or a function returning one) as
                   events of --service and --method, by the system identity

Options:
  --store <store>  sqlite:<path>, or redis://host:port (rediss:// too) with ?prefix=, &name=,
                   &partitions= as the app's createRedisStore options; backfill: memory by default
  --concurrency N  backfill: records in the pipeline at once (default 16)
  -h, --help       show this help

The config module may also export \`resolveOwner\` and \`signing\` (createProvisioner's options).

Exit codes: 0 the config is valid, 1 it is invalid or cannot be loaded, 2 wrong usage.
replay and backfill: 0 nothing failed, 1 a delivery failed or a module cannot be loaded,
2 wrong usage.
The module is loaded with Node's import(): compile TypeScript configs first, or run
  node --import tsx node_modules/remote-api-provisioner/dist/cli.js check ./provisioner.config.ts`;

/** Names under which a config module may export its config, in order of preference. */
const CONFIG_EXPORTS = ['default', 'events', 'config'] as const;
const MASK = '***';

type Output = { out: (line: string) => void; err: (line: string) => void };

async function main(argv: readonly string[], output: Output): Promise<number> {
  if (argv.some((arg) => arg === '-h' || arg === '--help') || argv[0] === 'help') {
    output.out(USAGE);
    return 0;
  }
  const [command, ...rest] = argv;
  if (command === 'replay' || command === 'backfill') {
    const parsed = parseArgs(rest);
    if (typeof parsed === 'string') {
      output.err(parsed);
      output.err(USAGE);
      return 2;
    }
    return command === 'replay' ? replay(parsed, output) : backfill(parsed, output);
  }
  if (command !== 'check') {
    output.err(command === undefined ? 'Expected a command, got none.' : `Expected the command \`check\`, \`replay\` or \`backfill\`, got ${JSON.stringify(command)}.`);
    output.err(USAGE);
    return 2;
  }
  const modulePath = rest[0];
  if (modulePath === undefined || rest.length > 1) {
    output.err(`Expected one config module after \`check\`, got ${rest.length === 0 ? 'none' : rest.length}.`);
    output.err(USAGE);
    return 2;
  }
  return check(modulePath, output);
}

async function loadModule(modulePath: string, output: Output): Promise<Record<string, unknown> | null> {
  try {
    const file = isAbsolute(modulePath) ? modulePath : resolve(process.cwd(), modulePath);
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    output.err(`✗ Could not load ${modulePath}: ${redactUrl(error instanceof Error ? error.message : String(error))}`);
    return null;
  }
}

async function check(modulePath: string, output: Output): Promise<number> {
  const exports = await loadModule(modulePath, output);
  if (exports === null) return 1;
  const exportName = CONFIG_EXPORTS.find((name) => exports[name] !== undefined);
  if (exportName === undefined) {
    const found = Object.keys(exports);
    output.err(
      `✗ Expected ${modulePath} to export a config as its default export or as \`events\` or \`config\`, found ${
        found.length === 0 ? 'no exports' : `only ${found.map((name) => `\`${name}\``).join(', ')}`
      }.`,
    );
    return 1;
  }

  // Loaded here, not at the top: usage errors and --help answer without loading the library.
  const { decodeConfig, SERVICE_TYPES } = await import('./index.js');
  const decoded = decodeConfig(exports[exportName]);
  if (decoded._tag === 'Left') {
    const { issues } = decoded.left;
    output.out(`✗ ${modulePath}: the config is invalid (${issues.length} ${issues.length === 1 ? 'issue' : 'issues'})`);
    for (const issue of issues) output.out(`  - ${issue}`);
    return 1;
  }
  for (const line of summarize(modulePath, exportName, decoded.right, SERVICE_TYPES)) output.out(line);
  return 0;
}

/** The readable summary of a valid config: one table per endpoint, one row per method. */
function summarize(modulePath: string, exportName: string, config: ProvisionerConfig, serviceTypes: readonly ServiceType[]): string[] {
  const services = serviceTypes.filter((service) => config[service] !== undefined);
  let endpoints = 0;
  let events = 0;
  let needsOwner = false;
  const body: string[] = [];
  for (const service of services) {
    body.push('', service);
    const serviceConfig = config[service] as Readonly<Record<string, Readonly<Record<string, EventConfig | undefined>>>>;
    for (const [endpoint, methods] of Object.entries(serviceConfig)) {
      endpoints += 1;
      body.push(`  ${redactUrl(endpoint)}`);
      const rows: string[][] = [['METHOD', 'HTTP', 'PAYLOAD', 'OWNER', 'URL', 'CALLBACK', 'RESTRICTED']];
      const notes: string[] = [];
      for (const [method, eventConfig] of Object.entries(methods)) {
        if (eventConfig === undefined) continue;
        events += 1;
        needsOwner ||= eventConfig.with_record_owner === true;
        rows.push([
          method,
          typeof eventConfig.http_method === 'function' ? describeFunction(eventConfig.http_method, 'http_method') : eventConfig.http_method,
          eventConfig.payload === null
            ? 'none'
            : typeof eventConfig.payload === 'function'
              ? describeFunction(eventConfig.payload, 'payload')
              : `JSON (${plural(Object.keys(eventConfig.payload).length, 'key')})`,
          eventConfig.with_record_owner === true ? 'yes' : 'no',
          eventConfig.url_factory === undefined ? 'endpoint' : describeFunction(eventConfig.url_factory, 'url_factory'),
          eventConfig.callback === undefined ? '-' : describeFunction(eventConfig.callback, 'callback'),
          eventConfig.include_restricted === true ? 'sent' : 'not sent',
        ]);
        const extras = describeExtras(eventConfig);
        if (extras.length > 0) notes.push(`    ${method}: ${extras.join('; ')}`);
      }
      body.push(...table(rows).map((line) => `    ${line}`), ...notes);
    }
  }
  const source = exportName === 'default' ? 'default export' : `\`${exportName}\` export`;
  return [
    `✓ ${modulePath} (${source}): a valid config with ${plural(services.length, 'service')}, ${plural(endpoints, 'endpoint')}, ${plural(events, 'event config')}`,
    ...body,
    '',
    'URL "endpoint": the endpoint itself is the request URL. RESTRICTED "not sent": events of records',
    'whose access is not public are skipped (include_restricted: true sends them).',
    ...(needsOwner ? ['OWNER "yes": the payload function gets the record owner, so createProvisioner needs a resolveOwner option.'] : []),
  ];
}

type Parsed = { readonly positional: readonly string[]; readonly flags: ReadonlyMap<string, string> };

const FLAGS = new Set(['--store', '--reason', '--endpoint', '--record', '--service', '--method', '--concurrency']);

function parseArgs(args: readonly string[]): Parsed | string {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] as string;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (!FLAGS.has(name)) return `Expected one of ${[...FLAGS].join(', ')}, got ${JSON.stringify(name)}.`;
    const value = inline ?? args[index + 1];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) return `Expected a value after ${name}, got none.`;
    if (inline === undefined) index += 1;
    flags.set(name, value);
  }
  return { positional, flags };
}

type Library = typeof import('./index.js');

/** A store from `--store`: `sqlite:<path>`, `redis://…` / `rediss://…`, or `memory`. */
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
  throw new Error(`Expected --store to be sqlite:<path>, redis://host:port or memory, got ${JSON.stringify(redactUrl(spec))}`);
}

/** Loads the config module and builds a provisioner over the `--store` store. */
async function provisionerFor(modulePath: string, storeSpec: string, output: Output) {
  const exports = await loadModule(modulePath, output);
  if (exports === null) return null;
  const exportName = CONFIG_EXPORTS.find((name) => exports[name] !== undefined);
  if (exportName === undefined) {
    output.err(`✗ Expected ${modulePath} to export a config as its default export or as \`events\` or \`config\`, found none.`);
    return null;
  }
  const library = await import('./index.js');
  const store = await openStore(storeSpec, library);
  try {
    const provisioner = library.createProvisioner({
      events: exports[exportName] as ProvisionerConfig,
      store,
      ...(typeof exports['resolveOwner'] === 'function' ? { resolveOwner: exports['resolveOwner'] as never } : {}),
      ...(exports['signing'] !== undefined ? { signing: exports['signing'] as { readonly secret: string } } : {}),
    });
    return provisioner;
  } catch (error) {
    await store.close();
    throw error;
  }
}

async function replay(parsed: Parsed, output: Output): Promise<number> {
  const [modulePath, ...extra] = parsed.positional;
  const storeSpec = parsed.flags.get('--store');
  if (modulePath === undefined || extra.length > 0 || storeSpec === undefined) {
    output.err(`Expected \`replay <config module> --store <store>\`, got ${modulePath === undefined ? 'no config module' : extra.length > 0 ? `${extra.length} extra arguments` : 'no --store'}.`);
    output.err(USAGE);
    return 2;
  }
  const provisioner = await provisionerFor(modulePath, storeSpec, output);
  if (provisioner === null) return 1;
  const outcomes: DeliveryOutcome[] = [];
  provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
  try {
    const reason = parsed.flags.get('--reason');
    const endpoint = parsed.flags.get('--endpoint');
    const recordId = parsed.flags.get('--record');
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

async function backfill(parsed: Parsed, output: Output): Promise<number> {
  const [modulePath, recordsPath, ...extra] = parsed.positional;
  const service = parsed.flags.get('--service');
  const method = parsed.flags.get('--method');
  const concurrency = Number(parsed.flags.get('--concurrency') ?? 16);
  if (modulePath === undefined || recordsPath === undefined || extra.length > 0 || service === undefined || method === undefined || !Number.isInteger(concurrency) || concurrency < 1) {
    output.err('Expected `backfill <config module> <records module> --service S --method M`, with --concurrency a positive integer when given.');
    output.err(USAGE);
    return 2;
  }
  if (service !== 'rdm_record' && service !== 'community') {
    output.err(`Expected --service to be rdm_record or community, got ${JSON.stringify(service)}.`);
    return 2;
  }
  const recordsModule = await loadModule(recordsPath, output);
  if (recordsModule === null) return 1;
  let source: unknown = recordsModule['default'] ?? recordsModule['records'];
  if (typeof source === 'function') source = await (source as () => unknown)();
  if (typeof source !== 'object' || source === null || !(Symbol.iterator in source || Symbol.asyncIterator in source)) {
    output.err(`✗ Expected ${recordsPath} to export (as default or \`records\`) an iterable or async iterable of records, or a function returning one, found ${source === null ? 'null' : typeof source}.`);
    return 1;
  }
  const provisioner = await provisionerFor(modulePath, parsed.flags.get('--store') ?? 'memory', output);
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

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** `function` plus its name when the name says more than the config key it sits under. */
function describeFunction(fn: unknown, key: string): string {
  const name = typeof fn === 'function' ? fn.name : '';
  return name === '' || name === key ? 'function' : `function ${name}`;
}

/** The event config's other keys, with every secret masked. */
function describeExtras(eventConfig: EventConfig): string[] {
  const extras: string[] = [];
  if (eventConfig.auth_token !== undefined) extras.push(`Authorization: Bearer ${MASK}`);
  if (eventConfig.headers !== undefined && Object.keys(eventConfig.headers).length > 0) {
    const headers = Object.entries(eventConfig.headers).map(([name, value]) => `${name}: ${isSecretKey(name) ? MASK : value}`);
    extras.push(`headers ${headers.join(', ')}`);
  }
  if (eventConfig.retry !== undefined) {
    extras.push(`retry ${Object.entries(eventConfig.retry).map(([name, value]) => `${name} ${String(value)}`).join(', ')}`);
  }
  if (eventConfig.timeout_ms !== undefined) extras.push(`timeout ${eventConfig.timeout_ms} ms`);
  if (eventConfig.allowed_origins !== undefined) {
    extras.push(`url_factory may leave the endpoint's origin for ${eventConfig.allowed_origins === true ? 'any origin' : eventConfig.allowed_origins.join(', ')}`);
  }
  return extras;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
}

main(process.argv.slice(2), { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`✗ ${redactUrl(error instanceof Error ? error.message : String(error))}\n`);
    process.exitCode = 1;
  },
);
