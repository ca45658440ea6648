import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/index.js';

const COMMUNITIES = 'https://search.example.org/api/v1/communities';

/** The issues parseConfig reports for `method` configured under community. */
function issuesOfCommunityMethod(method: string): readonly string[] {
  try {
    parseConfig({ community: { [COMMUNITIES]: { [method]: { http_method: 'POST', payload: null } } } });
    return [];
  } catch (error) {
    return error instanceof ConfigError ? error.issues : [String(error)];
  }
}

describe('a method of the other service', () => {
  it.each([
    ['publish', 'create'],
    ['delete_record', 'delete_community'],
    ['read_draft', 'read'],
    ['search_drafts', 'search'],
  ])('community.%s suggests `%s`', (method, counterpart) => {
    expect(issuesOfCommunityMethod(method)).toEqual([
      `community["${COMMUNITIES}"].${method}: expected a community method, got an rdm_record method (did you mean \`${counterpart}\`?)`,
    ]);
  });
});
