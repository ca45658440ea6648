import { describe, expect, it } from 'vitest';
import { METHOD_TABLES, isMethodOf, methodsOf } from '../src/events/methodTables.js';

describe('method tables', () => {
  it('give both services the seed\'s "any" methods', () => {
    for (const method of ['create', 'update_tombstone', 'search', 'scan', 'read']) {
      expect(isMethodOf('rdm_record', method)).toBe(true);
      expect(isMethodOf('community', method)).toBe(true);
    }
  });

  it('keep each service\'s own methods to that service', () => {
    expect(isMethodOf('rdm_record', 'publish')).toBe(true);
    expect(isMethodOf('community', 'delete_record')).toBe(false);
    expect(isMethodOf('community', 'rename')).toBe(true);
    expect(isMethodOf('rdm_record', 'rename')).toBe(false);
    expect(methodsOf('rdm_record')).toHaveLength(18);
    expect(methodsOf('community')).toHaveLength(18);
  });

  it('list the documented arguments of rename', () => {
    expect(METHOD_TABLES.community.rename).toEqual(['identity', 'data', 'record', 'old_slug', 'slug', 'uow']);
  });
});
