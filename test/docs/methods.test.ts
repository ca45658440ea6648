import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANY_METHODS, COMMUNITY_METHODS, RDM_RECORD_METHODS, REQUIRED_ARGUMENTS } from '../../src/events/methodTables.js';
import { REPO_ROOT } from './docBlocks.js';

// docs/methods.md documents the method table of each service; the library's tables are the
// truth. Each table sits between `<!-- methods:<name> -->` and `<!-- /methods -->`.

const TABLES: Readonly<Record<'any' | 'rdm_record' | 'community', Readonly<Record<string, readonly string[]>>>> = {
  any: ANY_METHODS,
  rdm_record: RDM_RECORD_METHODS,
  community: COMMUNITY_METHODS,
};
const markdown = readFileSync(path.join(REPO_ROOT, 'docs/methods.md'), 'utf8');

/** `[method, [argument...]]` rows of the documented table `name`. */
function documentedTable(name: string): [string, string[]][] {
  const start = markdown.indexOf(`<!-- methods:${name} -->`);
  const end = markdown.indexOf('<!-- /methods -->', start);
  expect(start, `docs/methods.md has a <!-- methods:${name} --> table`).toBeGreaterThanOrEqual(0);
  return markdown
    .slice(start, end)
    .split('\n')
    .filter((line) => /^\|\s*`/.test(line))
    .map((line) => {
      const [method = '', args = ''] = line.split('|').slice(1, 3);
      return [method.replaceAll('`', '').trim(), [...args.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '')];
    });
}

/** `[method, [required argument...]]` rows of the documented table `name`: the arguments in bold. */
function documentedRequired(name: string): [string, string[]][] {
  const start = markdown.indexOf(`<!-- methods:${name} -->`);
  const end = markdown.indexOf('<!-- /methods -->', start);
  return markdown
    .slice(start, end)
    .split('\n')
    .filter((line) => /^\|\s*`/.test(line))
    .map((line) => {
      const [method = '', args = ''] = line.split('|').slice(1, 3);
      return [method.replaceAll('`', '').trim(), [...args.matchAll(/\*\*`([^`]+)`\*\*/g)].map((match) => match[1] ?? '')];
    });
}

/** The rows the table `name` must have, as markdown, to paste when the test fails. */
function expectedRows(name: keyof typeof TABLES): string {
  return Object.entries(TABLES[name])
    .map(([method, args]) => `| \`${method}\` | ${args.map((arg) => `\`${arg}\``).join(', ')} | ... |`)
    .join('\n');
}

describe('docs/methods.md', () => {
  for (const name of Object.keys(TABLES) as (keyof typeof TABLES)[]) {
    it(`lists the methods of ${name} with their arguments, as METHOD_TABLES does`, () => {
      const expected = Object.entries(TABLES[name]).map(([method, args]) => [method, [...args]]);
      expect(documentedTable(name), `expected rows:\n${expectedRows(name)}`).toEqual(expected);
    });

    it(`marks in bold the required arguments of ${name}, as REQUIRED_ARGUMENTS does`, () => {
      const required = REQUIRED_ARGUMENTS[name === 'community' ? 'community' : 'rdm_record'] as Readonly<Record<string, readonly string[]>>;
      const expected = Object.keys(TABLES[name]).map((method) => [method, [...(required[method] ?? [])]]);
      expect(documentedRequired(name)).toEqual(expected);
    });
  }
});
