import { extname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { redactUrl } from '../util/redact.js';
import type { Output } from './output.js';

/**
 * Names under which a config module may export its config, in order of preference: the
 * default export, the Python extension's own variable name (as porting.md writes it), then
 * `events` and `config`.
 */
export const CONFIG_EXPORTS = ['default', 'REMOTE_API_PROVISIONER_EVENTS', 'events', 'config'] as const;

/** The listing of {@link CONFIG_EXPORTS} for messages: "its default export or `A`, `B` or `C`". */
export const CONFIG_EXPORTS_TEXT = `its default export or ${CONFIG_EXPORTS.slice(1)
  .map((name) => `\`${name}\``)
  .join(', ')
  .replace(/, ([^,]*)$/, ' or $1')}`;

const TYPESCRIPT_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.cts']);

/**
 * Imports a module given on the command line (relative to the working directory). TypeScript
 * modules load through Node's own type stripping (on by default in every supported Node); when it
 * cannot strip them, the message says what to do instead. `null` (with the reason on `err`)
 * when the module cannot be loaded.
 */
export async function loadModule(modulePath: string, output: Output): Promise<Record<string, unknown> | null> {
  try {
    const file = isAbsolute(modulePath) ? modulePath : resolve(process.cwd(), modulePath);
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    output.err(`✗ Could not load ${modulePath}: ${redactUrl(error instanceof Error ? error.message : String(error))}`);
    const hint = typeScriptHint(modulePath, error);
    if (hint !== undefined) output.err(`  ${hint}`);
    return null;
  }
}

/** What to do when a TypeScript module fails to load for a reason of Node's type stripping. */
function typeScriptHint(modulePath: string, error: unknown): string | undefined {
  if (!TYPESCRIPT_EXTENSIONS.has(extname(modulePath))) return undefined;
  const code = (error as { readonly code?: unknown } | null)?.code;
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    // `process.features.typescript` is false when stripping is turned off (absent on a Node older than the engines range).
    const stripping = (process.features as { readonly typescript?: unknown }).typescript;
    const why = stripping === false ? 'has type stripping turned off (--no-experimental-strip-types?)' : 'cannot strip TypeScript types: use Node 22.19 or newer';
    return `Node ${process.version} ${why}; or compile the config to .js, or run \`node --import tsx <remote-api-provisioner's dist/cli/main.js> check ${modulePath}\`.`;
  }
  if (code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX') {
    return "Node's type stripping only removes types: write the config without enums, namespaces or parameter properties, or run the command with `node --import tsx`.";
  }
  return undefined;
}

/** The first of {@link CONFIG_EXPORTS} the module has, or `undefined`. */
export function configExportOf(exports: Readonly<Record<string, unknown>>): (typeof CONFIG_EXPORTS)[number] | undefined {
  return CONFIG_EXPORTS.find((name) => exports[name] !== undefined);
}

/** Why a module holds no config, naming what it does export. */
export function noConfigMessage(modulePath: string, exports: Readonly<Record<string, unknown>>): string {
  const found = Object.keys(exports);
  return `✗ Expected ${modulePath} to export a config as ${CONFIG_EXPORTS_TEXT}, found ${
    found.length === 0 ? 'no exports' : `only ${found.map((name) => `\`${name}\``).join(', ')}`
  }.`;
}
