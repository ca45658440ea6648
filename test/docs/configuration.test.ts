import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isLeft } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { decodeConfig } from '../../src/config/decodeConfig.js';
import { isConfigError } from '../../src/errors.js';
import { createProvisioner, type ProvisionerOptions } from '../../src/provisioner.js';
import { REPO_ROOT, extractCodeBlocks, guideFiles, runnableBlocks, writeBlocks } from './docBlocks.js';

// docs/configuration.md quotes what the validator (and createProvisioner's option check)
// says about wrong configs, in ```text blocks. Every quoted issue must be one that is really
// produced for one of the inputs below, so that the guide cannot drift from the messages.

const ENDPOINT = 'https://search.example.org/api/v1/documents';
const valid = { http_method: 'POST', payload: null };
const publishWith = (eventConfig: Record<string, unknown>) => ({ rdm_record: { [ENDPOINT]: { publish: eventConfig } } });
const at = (service: string, method: string, eventConfig: unknown = valid) => ({ [service]: { [ENDPOINT]: { [method]: eventConfig } } });

const WRONG_CONFIGS: readonly unknown[] = [
  publishWith({ ...valid, http_method: 'PUTT' }),
  publishWith({ ...valid, http_method: 'put' }),
  publishWith({ ...valid, http_method: 42 }),
  publishWith({ payload: null }),
  publishWith({ http_method: 'POST' }),
  publishWith({ ...valid, payload: 'text' }),
  publishWith({ ...valid, payload: [1] }),
  publishWith({ ...valid, payload: { at: new Date(0), n: Number.NaN } }),
  publishWith({ ...valid, with_record_owner: 'yes' }),
  publishWith({ ...valid, url_factory: 'https://x.org/{id}' }),
  publishWith({ ...valid, callback: 'record_commons_search_id' }),
  publishWith({ ...valid, headers: { 'X Trace': 'a', Authorization: 42, 'X-Note': 'a\nb' } }),
  publishWith({ ...valid, headers: 'X-Trace: a' }),
  publishWith({ ...valid, auth_token: '' }),
  publishWith({ ...valid, auth_token: 12345 }),
  publishWith({ ...valid, include_restricted: 'true' }),
  publishWith({ ...valid, timing_field: 5 }),
  publishWith({ ...valid, allowed_origins: ['https://cdn.example.org/files', 'ftp://x.org', 'cdn.example.org'] }),
  publishWith({ ...valid, allowed_origins: 'https://cdn.example.org' }),
  publishWith({ ...valid, retry: { limit: -1, baseDelayMs: '1s', limt: 3, backoff: 2 } }),
  publishWith({ ...valid, retry: 5 }),
  publishWith({ ...valid, timeout_ms: 0 }),
  publishWith({ ...valid, timeout_ms: '10s' }),
  publishWith({ ...valid, http_methd: 'POST', queue: 'x' }),
  null,
  { rdm_records: {} },
  { rdm_record: { '/api/v1/documents': { publish: valid } } },
  { rdm_record: { 'search.example.org/api': { publish: valid } } },
  { rdm_record: { 'ftp://search.example.org/api': { publish: valid } } },
  { rdm_record: { 'https://user:pw@search.example.org/api': { publish: valid } } },
  { rdm_record: { [ENDPOINT]: [] } },
  at('rdm_record', 'publsh'),
  at('rdm_record', 'mark_record_for_purge'),
  at('rdm_record', 'rename'),
  at('community', 'delete_record'),
  at('community', 'publish'),
  at('rdm_record', 'publish', 'POST'),
];

/** Wrong options of createProvisioner (with a valid config, unless the config needs an owner). */
const WRONG_OPTIONS: readonly unknown[] = [
  { events: publishWith({ ...valid, with_record_owner: true }) },
  { events: publishWith(valid), http: { concurrency: 0, maxQueue: 1.5, retry: { limt: 2, limit: -1 } }, callbackTimeoutMs: -5 },
  { events: publishWith(valid), signing: { secret: 'not base64!' } },
  { events: publishWith(valid), signing: { secret: [] } },
  { events: publishWith(valid), signing: { secret: `whsec_${Buffer.from('8 bytes!').toString('base64')}` } },
  { events: publishWith(valid), signing: { secret: [`whsec_${Buffer.alloc(24, 7).toString('base64')}`, ''] } },
];

function issuesOf(input: unknown): readonly string[] {
  const result = decodeConfig(input);
  return isLeft(result) ? result.left.issues : [];
}

function optionIssuesOf(options: unknown): readonly string[] {
  try {
    const provisioner = createProvisioner(options as ProvisionerOptions);
    void provisioner.close();
    return [];
  } catch (error) {
    return isConfigError(error) ? error.issues : [String(error)];
  }
}

describe('docs/configuration.md', () => {
  const markdown = readFileSync(path.join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
  const documented = extractCodeBlocks('docs/configuration.md', markdown)
    .filter((block) => block.lang === 'text')
    .flatMap((block) => block.code.split('\n'))
    .filter((line) => line.includes(': expected '));

  it('quotes the validator on wrong configs', () => {
    expect(documented.length).toBeGreaterThanOrEqual(30);
  });

  it('quotes only issues the validator really reports', () => {
    const produced = new Set([...WRONG_CONFIGS.flatMap(issuesOf), ...WRONG_OPTIONS.flatMap(optionIssuesOf)]);
    const stale = documented.filter((line) => !produced.has(line));
    expect(stale, `documented issues the validator no longer reports; it now says:\n${[...produced].join('\n')}`).toEqual([]);
  });

  it('accepts every config that a runnable example of the guides exports (`export const x = defineConfig(...)`)', async () => {
    // The blocks are type-checked by codeBlocks.test.ts; here the validator runs on the
    // configs they build, which types alone cannot fully check (header names, URLs...).
    const configExport = /^export const (\w+)(?::[^=]+)? = defineConfig\b/m;
    const blocks = runnableBlocks(guideFiles()).filter((block) => configExport.test(block.code));
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    const modules = writeBlocks(blocks, path.join(REPO_ROOT, '.tmp', 'doc-configs'));
    // The environment the examples say they read.
    process.env['SEARCH_API_TOKEN'] ??= 'token-of-the-docs-example';
    const rejected: string[] = [];
    for (const [file, block] of modules) {
      const name = configExport.exec(block.code)?.[1] ?? 'events';
      const exported = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      rejected.push(...issuesOf(exported[name]).map((issue) => `${block.file}:${block.line} ${issue}`));
    }
    expect(rejected).toEqual([]);
  });
});
