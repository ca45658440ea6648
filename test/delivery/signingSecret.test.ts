import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, createProvisioner, defineConfig } from '../../src/index.js';

const events = defineConfig({ rdm_record: { 'https://search.example.org/api/v1/documents': { publish: { http_method: 'POST', payload: null } } } });

/** The issues of the ConfigError `createProvisioner` throws for `secret`, or null when it starts. */
function startIssues(secret: string | readonly string[]): readonly string[] | null {
  try {
    void createProvisioner({ events, signing: { secret } }).close();
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
}

describe('signing secrets at start', () => {
  it('starts with a whsec_ secret of 24 bytes or more', () => {
    expect(startIssues(`whsec_${randomBytes(24).toString('base64')}`)).toBeNull();
    expect(startIssues([`whsec_${randomBytes(32).toString('base64')}`, `whsec_${randomBytes(64).toString('base64')}`])).toBeNull();
  });

  it('refuses a short secret, telling its length and never the secret', () => {
    const short = `whsec_${Buffer.from('8 bytes!').toString('base64')}`;
    const issues = startIssues(short);
    expect(issues).toEqual(['signing.secret: expected a whsec_ secret of at least 24 random bytes (base64), got one of 8 bytes']);
    expect(issues?.join('\n')).not.toContain(short.slice('whsec_'.length));
  });

  it('says an empty secret is empty, as from an unset environment variable', () => {
    expect(startIssues('')).toEqual(['signing.secret: expected a whsec_ secret of at least 24 random bytes (base64), got an empty string']);
    expect(startIssues('whsec_')).toEqual(['signing.secret: expected a whsec_ secret of at least 24 random bytes (base64), got the whsec_ prefix alone']);
  });

  it('checks every secret of a rotation list, naming the one at fault', () => {
    const good = `whsec_${randomBytes(24).toString('base64')}`;
    const short = `whsec_${randomBytes(23).toString('base64')}`;
    const issues = startIssues([good, short]);
    expect(issues).toEqual(['signing.secret[1]: expected a whsec_ secret of at least 24 random bytes (base64), got one of 23 bytes']);
    expect(issues?.join('\n')).not.toContain(short.slice('whsec_'.length));
    expect(issues?.join('\n')).not.toContain(good.slice('whsec_'.length));
  });
});
