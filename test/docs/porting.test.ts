import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
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
});
