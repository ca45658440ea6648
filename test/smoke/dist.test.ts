import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url);

// `npm test` builds before it runs the suite; this checks what users install: dist/ under
// plain Node ESM resolution, no TypeScript loader and no vitest alias.
describe('the built package under plain node', () => {
  it('imports by name, sends an event and validates a config', async () => {
    expect(existsSync(new URL('dist/index.js', root)), 'dist/index.js is missing: run `npm run build`').toBe(true);
    const { stdout } = await run(process.execPath, [new URL('test/smoke/dist-smoke.mjs', root).pathname], { cwd: root.pathname, timeout: 20_000 });
    const result = JSON.parse(stdout) as Record<string, unknown>;
    expect(result['undefinedExports']).toEqual([]);
    expect(result['received']).toEqual([
      { method: 'POST', url: '/api/v1/documents', body: { id: 'abc-123' }, idempotencyKey: expect.any(String) },
    ]);
    expect(result['outcomes']).toEqual([{ kind: 'delivered', status: 201 }]);
    expect(result['callbacks']).toEqual([{ kind: 'ok', value: { _id: 'remote-1' } }]);
    expect(result['configError']).toEqual([expect.stringContaining('did you mean `delete_community`?')]);
  });
});
