import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SECTIONS = ['a', 'b', 'c', 'd', 'e', 'f'] as const;

type BenchJson = {
  readonly rows: readonly { readonly section: string; readonly name: string; readonly note?: string }[];
  readonly sections: Readonly<Record<string, { readonly title: string }>>;
};

// The benchmark's smoke run, so that it never rots: it must complete and report every
// section. Its figures are printed, never asserted (they depend on the machine and its load).
describe('npm run bench -- --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'rap-bench-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('completes, prints one table with every section and writes them all as JSON', async () => {
    // `npm test` builds dist/ before vitest runs; build here only when run on its own.
    if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
      await run('npm', ['run', 'build'], { cwd: ROOT, timeout: 120_000 });
    }
    const file = join(out, 'quick.json');
    // Through npm run bench's launcher, on the Node running the tests (it would take Node 24 from the registry otherwise).
    const { stdout, stderr } = await run(process.execPath, ['bench/launch.mjs', '--quick', '--out', file], {
      cwd: ROOT,
      timeout: 110_000,
      maxBuffer: 16 * 2 ** 20,
      env: { ...process.env, BENCH_NODE: 'current' },
    });
    expect(stderr).toContain(`on Node ${process.version}`);

    for (const section of SECTIONS) {
      expect(stdout, `section ${section} in the printed table`).toMatch(new RegExp(`^\\| ${section} \\| `, 'm'));
    }
    expect(stdout).toContain(`JSON written to ${file}`);

    const json = JSON.parse(readFileSync(file, 'utf8')) as BenchJson;
    expect(Object.keys(json.sections).sort()).toEqual([...SECTIONS]);
    for (const section of SECTIONS) {
      expect(json.rows.filter((r) => r.section === section).length, `rows of section ${section}`).toBeGreaterThan(0);
    }
    expect(json.rows.filter((r) => r.name === 'section failed')).toEqual([]);
    // Every library measurement ran: none fell back to "not built yet" (an export renamed or lost).
    expect(json.rows.filter((r) => r.note?.startsWith('not built yet') === true)).toEqual([]);
  }, 120_000);
});
