// The public API is a promise: what dist/index.d.ts exports must be what the committed
// api/remote-api-provisioner.api.md says (`npm test` builds first). After an intended change,
// `npm run api:update` rewrites the report and the diff is reviewed with the code.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REPORT, apiReport } from '../../scripts/apiReport.js';

describe('the API report', () => {
  it('matches the built declarations (after a change: npm run api:update, and review the diff)', () => {
    expect(apiReport()).toBe(readFileSync(REPORT, 'utf8'));
  });

  it('lists the documented entry points and none of the internals', () => {
    const report = readFileSync(REPORT, 'utf8');
    for (const name of ['createProvisioner', 'defineConfig', 'parseConfig', 'decodeConfig', 'toRequests', 'deliver', 'runCallbacks', 'sendWithRetry', 'withSigning', 'createKyEffect', 'createMemoryStore', 'createSqliteStore', 'createRedisStore']) {
      expect(report, name).toMatch(new RegExp(`export declare function ${name}\\b`));
    }
    for (const name of ['classifyResponse', 'classifyError', 'indexConfig', 'endpointsFor', 'runWithCause', 'ProvisionerConfigCodec', 'assertHttpUrl', 'parseRetryAfter']) {
      expect(report, name).not.toMatch(new RegExp(`\\b${name}\\b`));
    }
  });

  it('needs none of the stores\' optional peer dependencies in its declarations (an app on another store has no @types/pg)', () => {
    const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
    const declarations = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.d.ts'));
    expect(declarations.length).toBeGreaterThan(10);
    const peers = /from '(pg|pg-boss|ioredis|bullmq|better-sqlite3)'/;
    expect(declarations.filter((file) => peers.test(readFileSync(join(dist, file), 'utf8')))).toEqual([]);
  });
});
