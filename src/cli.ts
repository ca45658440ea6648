#!/usr/bin/env node
/**
 * The `remote-api-provisioner` command: `remote-api-provisioner check <config module>` loads a
 * config module, validates it like `createProvisioner` would and prints either every issue
 * (exit 1) or what will be sent to which endpoint for which service method (exit 0).
 * Secrets are never printed: `auth_token` shows as `***`, secret-looking header values and URL
 * credentials are masked.
 *
 * @example
 * ```sh
 * npx remote-api-provisioner check ./provisioner.config.js
 * ```
 * @packageDocumentation
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EventConfig, ProvisionerConfig, ServiceType } from './index.js';
import { isSecretKey, redactUrl } from './log.js';

const USAGE = `Usage: remote-api-provisioner check <config module>

Loads a config module (its default export, or its \`events\` or \`config\` export: the
REMOTE_API_PROVISIONER_EVENTS shape, service type -> endpoint URL -> service method -> event
config), validates it and prints what will be sent to which endpoint for which event.

Commands:
  check <module>   validate the config and summarize it

Options:
  -h, --help       show this help

Exit codes: 0 the config is valid, 1 it is invalid or cannot be loaded, 2 wrong usage.
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
  if (command !== 'check') {
    output.err(command === undefined ? 'Expected a command, got none.' : `Expected the command \`check\`, got ${JSON.stringify(command)}.`);
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

async function check(modulePath: string, output: Output): Promise<number> {
  let exports: Record<string, unknown>;
  try {
    const file = isAbsolute(modulePath) ? modulePath : resolve(process.cwd(), modulePath);
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    output.err(`✗ Could not load ${modulePath}: ${redactUrl(error instanceof Error ? error.message : String(error))}`);
    return 1;
  }
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
