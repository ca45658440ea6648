import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  type CodeBlock,
  extractCodeBlocks,
  formatDiagnostics,
  guideFiles,
  isRunnable,
  copiedBlocks,
  runnableBlocks,
  typeCheckBlocks,
} from './docBlocks.js';

// A block that must fail, checked in the same program as the guides' blocks: it proves that
// an error in a block is reported at its markdown file and line.
const SELF_CHECK: CodeBlock = {
  file: 'docs/(self-check).md',
  line: 10,
  lang: 'ts',
  attributes: ['runnable'],
  code: ["import type { HttpMethod } from 'remote-api-provisioner';", '', "export const method: HttpMethod = 'PUTT';"].join('\n'),
};

describe('runnable code blocks of README.md and docs/', () => {
  it('are found by their `ts runnable` fence', () => {
    const markdown = ['# t', '', '```ts runnable', 'const a = 1;', '```', '', '```ts', 'not compiled', '```', '````sh', '```', '````'].join('\n');
    const blocks = extractCodeBlocks('t.md', markdown);
    expect(blocks.map((b) => [b.lang, b.line, isRunnable(b)])).toEqual([
      ['ts', 4, true],
      ['ts', 8, false],
      ['sh', 11, false],
    ]);
  });

  it('compile against the library, and an error is reported at its file and line', () => {
    const blocks = runnableBlocks(guideFiles());
    // Guards against a renamed marker silently turning the check off.
    expect(blocks.length, `runnable blocks found in ${guideFiles().join(', ')}`).toBeGreaterThanOrEqual(10);

    const diagnostics = typeCheckBlocks([...blocks, SELF_CHECK]);
    const fromGuides = diagnostics.filter((d) => d.file !== SELF_CHECK.file);
    const fromSelfCheck = diagnostics.filter((d) => d.file === SELF_CHECK.file);

    expect(formatDiagnostics(fromGuides), 'runnable blocks that do not compile').toBe('');
    expect(fromSelfCheck.map((d) => d.line)).toContain(SELF_CHECK.line + 2);
    // One TypeScript program over every block: seconds on a quiet machine, more on a busy one.
  }, 120_000);

  it('that are marked `copy-of=<file>` are that file, character for character', () => {
    const copies = copiedBlocks(guideFiles());
    expect(copies.length).toBeGreaterThanOrEqual(1);
    for (const { block, source } of copies) {
      const original = readFileSync(path.join(REPO_ROOT, source), 'utf8');
      expect(`${block.code}\n`, `${block.file}:${block.line} is a copy of ${source}`).toBe(original);
    }
  });
});
