import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createProvisioner, parseConfig, SYSTEM_OWNER } from '../../src/index.js';
import { REPO_ROOT, extractCodeBlocks, isRunnable } from './docBlocks.js';

const run = promisify(execFile);

// docs/porting.md tells a porter to save its config block as provisioner.config.ts and run
// `check` on it; this does exactly that, with the built command, and compares the output with
// what the page shows.
describe('docs/porting.md', () => {
  const blocks = extractCodeBlocks('docs/porting.md', readFileSync(path.join(REPO_ROOT, 'docs/porting.md'), 'utf8'));

  it('has a config that `check` accepts as a .ts file, printing what the page shows', async () => {
    const config = blocks.find((block) => isRunnable(block) && block.code.includes('export const REMOTE_API_PROVISIONER_EVENTS'));
    expect(config, 'a runnable block exporting REMOTE_API_PROVISIONER_EVENTS').toBeDefined();
    // Inside the repository, so that 'remote-api-provisioner' resolves to this package.
    const directory = path.join(REPO_ROOT, '.tmp', 'porting');
    mkdirSync(directory, { recursive: true });
    writeFileSync(path.join(directory, 'provisioner.config.ts'), config?.code ?? '');

    const { stdout } = await run(process.execPath, ['--disable-warning=ExperimentalWarning', path.join(REPO_ROOT, 'dist/cli/main.js'), 'check', './provisioner.config.ts'], {
      cwd: directory,
    });
    const shown = blocks.find((block) => block.lang === 'text' && block.code.includes('npx') === false && block.code.startsWith('✓ ./provisioner.config.ts'));
    expect(shown, 'a text block with the output of check').toBeDefined();
    const printed = stdout.split('\n');
    for (const line of (shown?.code ?? '').split('\n').filter((line) => line !== '...')) {
      expect(printed, `check prints ${JSON.stringify(line)}`).toContain(line);
    }
  });

  it('has a ported config, timing_field included, that parseConfig and createProvisioner load as it is', async () => {
    const config = blocks.find((block) => isRunnable(block) && block.code.includes('export const REMOTE_API_PROVISIONER_EVENTS'));
    expect(config?.code).toContain("timing_field: 'kcr:commons_search_updated'");
    const directory = path.join(REPO_ROOT, '.tmp', 'porting-load');
    mkdirSync(directory, { recursive: true });
    const file = path.join(directory, 'provisioner.config.ts');
    // `declare const` has no value once types are stripped: give the write-back a stand-in.
    writeFileSync(file, (config?.code ?? '').replace(/declare const records: [^\n]*/, 'const records = { setCustomFields: async () => undefined };'));
    const loaded = (await import(pathToFileURL(file).href)) as { readonly REMOTE_API_PROVISIONER_EVENTS: unknown };
    const parsed = parseConfig(loaded.REMOTE_API_PROVISIONER_EVENTS);
    expect(Object.keys(parsed.rdm_record ?? {})).toEqual(['https://hcommons.org/api/v1/document_updates']);
    expect(parsed.rdm_record?.['https://hcommons.org/api/v1/document_updates']?.publish?.timing_field).toBe('kcr:commons_search_updated');
    const provisioner = createProvisioner({ events: parsed, resolveOwner: () => SYSTEM_OWNER });
    await provisioner.close();
  });
});
