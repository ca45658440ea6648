// The public API is a promise: what dist/index.d.ts exports must be what the committed
// api/remote-api-provisioner.api.md says (`npm test` builds first). After an intended change,
// `npm run api:update` rewrites the report and the diff is reviewed with the code.
import { readFileSync } from 'node:fs';
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
});
