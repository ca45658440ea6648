#!/usr/bin/env node
/**
 * The `remote-api-provisioner` command: `remote-api-provisioner check <config module>` loads a
 * config module (`.js`, `.mjs`, or `.ts` through Node's type stripping), validates it like
 * `createProvisioner` would and prints either every issue (exit 1) or what will be sent to
 * which endpoint for which service method (exit 0). Secrets are never printed: `auth_token`
 * shows as `***`, secret-looking header values and URL credentials are masked. `replay` sends
 * a durable store's dead letters again; `backfill` feeds the records of a records module
 * through the pipeline, with a progress bar on a terminal.
 *
 * @example
 * ```sh
 * npx remote-api-provisioner check ./provisioner.config.ts
 * npx remote-api-provisioner replay ./provisioner.config.js --store sqlite:var/provisioner.db --reason http-status
 * npx remote-api-provisioner backfill ./provisioner.config.js ./records.js --service rdm_record --method publish
 * ```
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { suggest } from '../config/suggest.js';
import { redactUrl } from '../util/redact.js';
import { check } from './check.js';
import { CONFIG_EXPORTS_TEXT } from './configModule.js';
import { backfill, replay, type CommandLine } from './durableCommands.js';
import type { Output } from './output.js';

const USAGE = `Usage: remote-api-provisioner check <config module>
       remote-api-provisioner replay <config module> --store <store> [--reason R] [--endpoint URL] [--record ID]
       remote-api-provisioner backfill <config module> <records module> --service S --method M [--store <store>] [--concurrency N]

Loads a config module (${CONFIG_EXPORTS_TEXT}: the REMOTE_API_PROVISIONER_EVENTS shape,
service type -> endpoint URL -> service method -> event config), validates it and prints what
will be sent to which endpoint for which event.

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
                   &partitions= as the app's createRedisStore options, or postgres://host/database
                   with ?schema=, &name= as the app's createPostgresStore options; backfill:
                   memory by default
  --reason R       replay: dead letters of this failure reason only (http-status, network, …)
  --endpoint URL   replay: dead letters of this endpoint only
  --record ID      replay: dead letters of this record only
  --concurrency N  backfill: records in the pipeline at once (default 16)
  -h, --help       show this help

The config module may also export \`resolveOwner\`, \`signing\` and \`http\` (createProvisioner's
options): \`check\` validates them, \`replay\` and \`backfill\` use them.
Modules may be .js, .mjs or .ts: Node loads TypeScript by stripping its types (no enums or
namespaces); where stripping is off, compile the config first or run
  node --import tsx node_modules/remote-api-provisioner/dist/cli/main.js check ./provisioner.config.ts

Exit codes: 0 the config is valid, 1 it is invalid or cannot be loaded, 2 wrong usage.
replay and backfill: 0 nothing failed, 1 a delivery failed or a module cannot be loaded,
2 wrong usage.`;

/** The options of `replay` and `backfill` (both accept all of them, as they always have). */
const DURABLE_OPTIONS = {
  store: { type: 'string' },
  reason: { type: 'string' },
  endpoint: { type: 'string' },
  record: { type: 'string' },
  service: { type: 'string' },
  method: { type: 'string' },
  concurrency: { type: 'string' },
} as const;

type Options = Readonly<Record<string, { readonly type: 'string' | 'boolean' }>>;

/** The command line after the command, or the message of what is wrong with it. */
function parseCommandLine(args: readonly string[], options: Options): CommandLine | string {
  const known = Object.keys(options).map((name) => `--${name}`);
  // Not strict: unknown options and missing values are reported here, in the house style.
  const { tokens, values, positionals } = parseArgs({ args: [...args], options, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (!Object.hasOwn(options, token.name)) {
      if (known.length === 0) return `Expected no options, got ${token.rawName}.`;
      const hint = suggest(token.rawName, known);
      return `Expected one of ${known.join(', ')}, got ${JSON.stringify(token.rawName)}${hint === undefined ? '' : ` (did you mean ${hint}?)`}.`;
    }
    if (options[token.name]?.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('--')))) {
      return `Expected a value after ${token.rawName}, got none.`;
    }
  }
  return { positionals, values: values as CommandLine['values'] };
}

async function main(argv: readonly string[], output: Output): Promise<number> {
  if (argv.some((arg) => arg === '-h' || arg === '--help') || argv[0] === 'help') {
    output.out(USAGE);
    return 0;
  }
  const [command, ...rest] = argv;
  const usageError = (message: string): number => {
    output.err(message);
    output.err(USAGE);
    return 2;
  };
  if (command === 'replay' || command === 'backfill') {
    const line = parseCommandLine(rest, DURABLE_OPTIONS);
    if (typeof line === 'string') return usageError(line);
    return command === 'replay' ? replay(line, output, USAGE) : backfill(line, output, USAGE);
  }
  if (command !== 'check') {
    return usageError(command === undefined ? 'Expected a command, got none.' : `Expected the command \`check\`, \`replay\` or \`backfill\`, got ${JSON.stringify(command)}.`);
  }
  const line = parseCommandLine(rest, {});
  if (typeof line === 'string') return usageError(line);
  const [modulePath, ...extra] = line.positionals;
  if (modulePath === undefined || extra.length > 0) {
    return usageError(`Expected one config module after \`check\`, got ${line.positionals.length === 0 ? 'none' : line.positionals.length}.`);
  }
  return check(modulePath, output);
}

// A reader that went away (`check … | head -1`) ends the output, not the process with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2), { out: (line) => process.stdout.write(`${line}\n`), err: (line) => process.stderr.write(`${line}\n`) }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`✗ ${redactUrl(error instanceof Error ? error.message : String(error))}\n`);
    process.exitCode = 1;
  },
);
