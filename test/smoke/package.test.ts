/*
 * The package as it would be published: what `npm pack` puts in it, what publint and
 * arethetypeswrong say about it, and a scratch app outside the repository that installs the
 * tarball and runs the examples with plain node. `npm test` builds first; packing here uses
 * --ignore-scripts so that it never rebuilds dist/ under the other test files.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../docs/docBlocks.js';

const run = promisify(execFile);
/** node's own directory first, so that npm and the bin's `#!/usr/bin/env node` use this node. */
const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}`, NO_COLOR: '1' };

type PackResult = { readonly filename: string; readonly files: readonly { readonly path: string }[] };

async function npmPack(...args: string[]): Promise<PackResult> {
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', ...args], { cwd: REPO_ROOT, env, maxBuffer: 16 * 1024 * 1024 });
  const [result] = JSON.parse(stdout) as PackResult[];
  if (result === undefined) throw new Error(`Expected npm pack --json to describe one package, got ${stdout.slice(0, 200)}`);
  return result;
}

let workDir = '';
let tarball = '';
beforeAll(async () => {
  expect(existsSync(path.join(REPO_ROOT, 'dist/index.js')), 'dist/index.js is missing: run `npm run build`').toBe(true);
  workDir = mkdtempSync(path.join(tmpdir(), 'remote-api-provisioner-package-'));
  const packed = await npmPack('--pack-destination', workDir);
  tarball = path.join(workDir, packed.filename);
}, 60_000);

afterAll(() => {
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the built code, its types and maps, the sources they point at, and the license, nothing else', async () => {
    const { files } = await npmPack('--dry-run');
    const paths = files.map((file) => file.path);
    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/index.js.map',
      'dist/index.d.ts.map',
      'dist/cli/main.js',
      'src/index.ts',
    ]) {
      expect(paths, `the package has ${required}`).toContain(required);
    }
    const unexpected = paths.filter(
      (file) => !/^(dist|src)\//.test(file) && !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(file),
    );
    expect(unexpected, 'files outside dist/ and src/').toEqual([]);
    expect(paths.filter((file) => /(^|\/)(test|bench|examples|docs|node_modules|\.tmp)\//.test(file) || file.endsWith('.tsbuildinfo'))).toEqual([]);

    // Every map resolves: the sources a map names are in the package.
    const shipped = new Set(paths);
    const unresolved: string[] = [];
    for (const map of paths.filter((file) => file.endsWith('.map'))) {
      const { sources } = JSON.parse(readFileSync(path.join(REPO_ROOT, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(map), source));
        if (!shipped.has(target)) unresolved.push(`${map} → ${target}`);
      }
    }
    expect(unresolved).toEqual([]);
  });

  it('is a package publint finds nothing wrong with, strictly', async () => {
    const data = readFileSync(tarball);
    const { messages, pkg } = await publint({ pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) }, strict: true, level: 'suggestion' });
    expect(messages.map((message) => `${message.type}: ${formatMessage(message, pkg) ?? message.code}`)).toEqual([]);
  });

  it('has types that resolve as its runtime code does (arethetypeswrong, ESM only)', async () => {
    const attw = path.join(REPO_ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    const result = await run(process.execPath, [attw, tarball, '--profile', 'esm-only', '--format', 'json'], { env, maxBuffer: 16 * 1024 * 1024 }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, stdout: error.stdout ?? '' }),
    );
    type Problem = { readonly kind: string; readonly resolutionKind?: string };
    const report = JSON.parse(result.stdout) as { analysis?: { problems?: Problem[] }; problems?: Problem[] };
    // The package is ESM only (require() of it is not supported), so, as the esm-only profile
    // does, problems seen only by CommonJS resolution (node10, node16-cjs) are not problems.
    const problems = (report.analysis?.problems ?? report.problems ?? []).filter(
      (problem) => problem.resolutionKind !== 'node10' && problem.resolutionKind !== 'node16-cjs',
    );
    expect(problems).toEqual([]);
    expect(result.code).toBe(0);
  });
});

describe('a scratch app that installs the tarball', () => {
  it('installs it offline from the npm cache and runs the examples and the command with plain node', async () => {
    const app = mkdtempSync(path.join(tmpdir(), 'remote-api-provisioner-app-'));
    try {
      writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }, null, 2));
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app, env, timeout: 120_000 });

      // The smoke script: import by name, deliver to a loopback receiver, check the outcome.
      copyFileSync(path.join(REPO_ROOT, 'test/smoke/dist-smoke.mjs'), path.join(app, 'smoke.mjs'));
      const smoke = JSON.parse((await run(process.execPath, ['smoke.mjs'], { cwd: app, env, timeout: 20_000 })).stdout) as Record<string, unknown>;
      expect(smoke['undefinedExports']).toEqual([]);
      expect(smoke['outcomes']).toEqual([{ kind: 'delivered', status: 201 }]);

      // The README's example, as a user copies it into their app.
      copyFileSync(path.join(REPO_ROOT, 'examples/first-delivery.ts'), path.join(app, 'first-delivery.ts'));
      const example = await run(process.execPath, ['--disable-warning=ExperimentalWarning', 'first-delivery.ts'], { cwd: app, env, timeout: 20_000 });
      expect(example.stdout).toMatch(/^outcome: delivered POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/documents \(201\)$/m);

      // The bin npm linked, on a config of the app's own.
      copyFileSync(path.join(REPO_ROOT, 'test/cli/fixtures/porting.config.ts'), path.join(app, 'provisioner.config.ts'));
      const bin = path.join(app, 'node_modules/.bin/remote-api-provisioner');
      const checked = await run(bin, ['check', './provisioner.config.ts'], { cwd: app, env: { ...env, NODE_OPTIONS: '--disable-warning=ExperimentalWarning' }, timeout: 20_000 });
      expect(checked.stdout.split('\n')[0]).toBe(
        '✓ ./provisioner.config.ts (`REMOTE_API_PROVISIONER_EVENTS` export): a valid config with 1 service, 1 endpoint, 2 event configs',
      );
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  }, 180_000);
});
