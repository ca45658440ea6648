import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const fixture = (name: string) => `test/cli/fixtures/${name}`;

type Run = { readonly code: number | null; readonly stdout: string; readonly stderr: string };

/** Runs the built CLI as users do: `node dist/cli/main.js …`, from the package root. */
function run(...args: string[]): Promise<Run> {
  return runWith([], ...args);
}

/** Runs the built CLI with `nodeOptions` given to node itself. */
function runWith(nodeOptions: readonly string[], ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeOptions, cli, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let valid: Run;
beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`Expected the built CLI at ${cli}, found none: run \`npm run build\` first (npm test does).`);
  valid = await run('check', fixture('valid.config.mjs'));
});

describe('remote-api-provisioner check', () => {
  it('summarizes a valid config per service, endpoint and method, and exits 0', async () => {
    const { code, stdout, stderr } = valid;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.split('\n').map((line) => line.trimEnd());
    expect(lines[0]).toBe(`✓ ${fixture('valid.config.mjs')} (default export): a valid config with 2 services, 2 endpoints, 3 event configs`);
    expect(lines).toContain('rdm_record');
    expect(lines).toContain('  https://search.example.org/api/v1/documents');
    expect(stdout).toMatch(/METHOD\s+HTTP\s+PAYLOAD\s+OWNER\s+URL\s+CALLBACK\s+RESTRICTED/);
    expect(stdout).toMatch(/publish\s+POST\s+function formatCommonsSearchPayload\s+yes\s+endpoint\s+function recordCommonsSearchId\s+not sent/);
    expect(stdout).toMatch(/delete_record\s+DELETE\s+none\s+no\s+function\s+-\s+not sent/);
    expect(stdout).toContain('delete_record: retry limit 3; timeout 5000 ms');
    expect(lines).toContain('community');
    expect(stdout).toMatch(/create\s+function\s+JSON \(1 key\)\s+no\s+endpoint\s+-\s+sent/);
    expect(stdout).toContain('createProvisioner needs a resolveOwner option');
  });

  it('shows each endpoint\'s effective limits, from the module\'s `http` export, and refuses limits of an endpoint the config lacks', async () => {
    const { code, stdout } = await run('check', fixture('limits.config.mjs'));
    expect(code).toBe(0);
    const lines = stdout.split('\n').map((line) => line.trimEnd());
    expect(lines).toContain(
      '    limits: 4 in flight, 50 requests/s (one every 20 ms), circuit opens after 10 failures in 30 s, probes every 1–60 s, Retry-After pauses up to 60 s',
    );
    expect(lines).toContain(
      '    limits: 8 in flight, no rate limit, circuit opens after 10 failures in 30 s, probes every 1–60 s, Retry-After pauses up to 60 s',
    );
    expect(stdout).toContain('publish: coalesce: only the newest waiting delivery of a record is sent');
    const bad = await run('check', fixture('bad-limits.config.mjs'));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(
      '  - http.endpoints["https://search.example.org/api/v1/document"]: expected an endpoint of the config, got one it does not have (did you mean "https://search.example.org/api/v1/documents"?)',
    );
  });

  it('checks the module\'s http, signing and resolveOwner exports as createProvisioner does', async () => {
    const { code, stdout } = await run('check', fixture('bad-options.config.mjs'));
    expect(code).toBe(1);
    expect(stdout).toContain('  - http.maxQeue: expected one of ');
    expect(stdout).toContain('(did you mean "maxQueue"?)');
    expect(stdout).toContain('  - http.concurrency: expected a positive integer, got 0');
    expect(stdout).toContain('  - signing: expected an object { secret }, got a string');
    expect(stdout).not.toContain('do_not_print_me');
  });

  it('ends quietly when its reader goes away (check … | head -1)', async () => {
    const result = await new Promise<Run>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, 'check', fixture('valid.config.mjs')], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
      let stderr = '';
      // Gone before the first line is written.
      child.stdout.destroy();
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: '', stderr }));
    });
    expect(result.stderr).not.toContain('EPIPE');
    expect(result.code).toBe(0);
  });

  it('never prints the auth token or secret-looking header values', async () => {
    const { stdout } = valid;
    expect(stdout).toContain('publish: Authorization: Bearer ***; headers X-Api-Key: ***, X-Source: works');
    expect(stdout).not.toContain('tok_live_do_not_print_me');
    expect(stdout).not.toContain('key_do_not_print_me');
  });

  it('lists every issue of an invalid config and exits 1', async () => {
    const { code, stdout } = await run('check', fixture('invalid.config.mjs'));
    expect(code).toBe(1);
    const endpoint = 'community["https://search.example.org/api/v1/communities"]';
    expect(stdout.split('\n').filter((line) => line !== '')).toEqual([
      `✗ ${fixture('invalid.config.mjs')}: the config is invalid (5 issues)`,
      `  - ${endpoint}.create.http_method: expected one of GET, POST, PUT, PATCH, DELETE, got "POSTT" (did you mean "POST"?)`,
      `  - ${endpoint}.delete_record: expected a community method, got an rdm_record method (did you mean \`delete_community\`?)`,
      expect.stringMatching(new RegExp(`^  - ${escape(endpoint)}\\.rename\\.with_owner: expected an event config key .*, got an unknown key`)),
      `  - ${endpoint}.rename.auth_token: expected a non-empty string, got a number (hidden)`,
      '  - rdm_records: expected a service type (rdm_record or community), got an unknown key (did you mean `rdm_record`?)',
    ]);
    expect(stdout).not.toContain('42');
  });

  it('exits 1 when the module exports no config or cannot be loaded', async () => {
    const [empty, missing] = await Promise.all([run('check', fixture('no-config.mjs')), run('check', fixture('does-not-exist.mjs'))]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain(
      'Expected test/cli/fixtures/no-config.mjs to export a config as its default export or `REMOTE_API_PROVISIONER_EVENTS`, `events` or `config`, found only `unrelated`.',
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`✗ Could not load ${fixture('does-not-exist.mjs')}`);
  });

  it('exits 2 with the usage on an unknown command, a missing module or no command', async () => {
    const cases = [['frobnicate'], ['check'], [], ['check', 'a.mjs', 'b.mjs']];
    const runs = await Promise.all(cases.map((args) => run(...args)));
    for (const [index, { code, stdout, stderr }] of runs.entries()) {
      const args = cases[index];
      expect(code, `args ${JSON.stringify(args)}`).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain('Usage: remote-api-provisioner check <config module>');
    }
  });

  it('loads a TypeScript config with Node\'s own type stripping, under the name porting.md exports', async () => {
    const { code, stdout, stderr } = await run('check', fixture('porting.config.ts'));
    expect(stderr.replace(/^.*ExperimentalWarning.*\n(.*--trace-warnings.*\n)?/gm, '')).toBe('');
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe(
      `✓ ${fixture('porting.config.ts')} (\`REMOTE_API_PROVISIONER_EVENTS\` export): a valid config with 1 service, 1 endpoint, 2 event configs`,
    );
    expect(stdout).toMatch(/publish\s+POST\s+function formatCommonsSearchPayload\s+no\s+endpoint/);
    // The Python loop guard is accepted and explained, not reported as an issue.
    expect(stdout).toContain('publish: note: timing_field "kcr:commons_search_updated" is accepted as in the Python original');
    expect(stdout).toContain('but is redundant when the write-back runs inside the callback: its events are recognised by async context');
  });

  it('says what to do when this Node does not strip TypeScript types', async () => {
    const { code, stderr } = await runWith(['--no-experimental-strip-types'], 'check', fixture('porting.config.ts'));
    expect(code).toBe(1);
    expect(stderr).toContain(`✗ Could not load ${fixture('porting.config.ts')}: Unknown file extension ".ts"`);
    expect(stderr).toContain('has type stripping turned off (--no-experimental-strip-types?); or compile the config to .js, or run `node --import tsx');
  });

  it('finds a config exported as `config` among other exports', async () => {
    const { code, stdout } = await run('check', fixture('named.config.mjs'));
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe(`✓ ${fixture('named.config.mjs')} (\`config\` export): a valid config with 1 service, 1 endpoint, 1 event config`);
  });

  it('refuses unknown options with a suggestion, and options without a value, with exit 2', async () => {
    const [misspelt, valueless, onCheck] = await Promise.all([
      run('replay', fixture('valid.config.mjs'), '--stor', 'sqlite:x.db'),
      run('replay', fixture('valid.config.mjs'), '--store', '--reason', 'network'),
      run('check', fixture('valid.config.mjs'), '--store=memory'),
    ]);
    expect(misspelt.code).toBe(2);
    expect(misspelt.stderr.split('\n')[0]).toBe(
      'Expected one of --store, --reason, --endpoint, --record, --service, --method, --concurrency, got "--stor" (did you mean --store?).',
    );
    expect(valueless.code).toBe(2);
    expect(valueless.stderr.split('\n')[0]).toBe('Expected a value after --store, got none.');
    expect(onCheck.code).toBe(2);
    expect(onCheck.stderr.split('\n')[0]).toBe('Expected no options, got --store.');
  });

  it('prints the usage on --help and exits 0', async () => {
    const { code, stdout } = await run('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: remote-api-provisioner check <config module>');
    expect(stdout).toContain('Exit codes: 0 the config is valid, 1 it is invalid or cannot be loaded, 2 wrong usage.');
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
