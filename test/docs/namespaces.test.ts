import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './docBlocks.js';

// docs/operations.md lists the debug namespaces users can enable; the source is the truth.
// Areas are named where the source creates its loggers: `logger('<area>')`.

function sourceAreas(): string[] {
  const src = path.join(REPO_ROOT, 'src');
  const areas = new Set<string>();
  for (const name of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
    if (!name.endsWith('.ts')) continue;
    const text = readFileSync(path.join(src, name), 'utf8');
    for (const match of text.matchAll(/\blogger\(\s*['"`]([a-z0-9-]+)['"`]\s*\)/g)) areas.add(match[1] ?? '');
    for (const match of text.matchAll(/createDebug\(\s*['"`]remote-api-provisioner:([a-z0-9-]+)['"`]\s*\)/g)) areas.add(match[1] ?? '');
  }
  return [...areas].sort();
}

function documentedAreas(): string[] {
  const markdown = readFileSync(path.join(REPO_ROOT, 'docs/operations.md'), 'utf8');
  const start = markdown.indexOf('<!-- namespaces -->');
  const end = markdown.indexOf('<!-- /namespaces -->', start);
  expect(start, 'docs/operations.md has a <!-- namespaces --> table').toBeGreaterThanOrEqual(0);
  const table = markdown.slice(start, end);
  return [...table.matchAll(/^\|\s*`remote-api-provisioner:([a-z0-9-]+)`/gm)].map((match) => match[1] ?? '').sort();
}

describe('docs/operations.md', () => {
  it('lists exactly the debug namespaces the library logs under', () => {
    expect(sourceAreas().length).toBeGreaterThan(0);
    expect(documentedAreas()).toEqual(sourceAreas());
  });
});
