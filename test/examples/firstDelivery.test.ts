import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, copiedBlocks } from '../docs/docBlocks.js';

const run = promisify(execFile);
const EXAMPLE = 'examples/first-delivery.ts';

describe('examples/first-delivery.ts, the README example', () => {
  it('is what the README shows, character for character', () => {
    const copies = copiedBlocks(['README.md']).filter(({ source }) => source === EXAMPLE);
    expect(copies, `README.md has a block fenced \`ts copy-of=${EXAMPLE}\``).toHaveLength(1);
    expect(`${copies[0]?.block.code}\n`).toBe(readFileSync(path.join(REPO_ROOT, EXAMPLE), 'utf8'));
  });

  it('runs as it is with plain node (type stripping), against the built package, and delivers', async () => {
    // The example imports 'remote-api-provisioner', which node resolves to this package's dist/.
    const { stdout } = await run(process.execPath, ['--disable-warning=ExperimentalWarning', EXAMPLE], { cwd: REPO_ROOT, timeout: 20_000 });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('receiver: POST /api/v1/documents {"id":"q1k7x-8mz42","title":"A Romans Story"}');
    expect(lines[1]).toMatch(/^outcome: delivered POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/documents \(201\)$/);
    expect(lines[2]).toBe("callback: q1k7x-8mz42 indexed as { _id: 'search-42' }");
    expect(lines).toHaveLength(3);
  });
});
