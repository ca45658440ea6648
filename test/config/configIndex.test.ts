import { describe, expect, it } from 'vitest';
import { defineConfig, parseConfig } from '../../src/index.js';
import { configNeedsOwner, configuredMethods, endpointsFor, indexConfig } from '../../src/config/configIndex.js';

const DOCS = 'https://search.example.org/api/v1/documents';
const MIRROR = 'https://mirror.example.org/records';
const COMMUNITIES = 'https://search.example.org/api/v1/communities';

const buildDoc = () => ({ kind: 'doc' });

const events = defineConfig({
  rdm_record: {
    [DOCS]: {
      publish: { http_method: 'POST', with_record_owner: true, payload: buildDoc },
      delete_record: { http_method: 'DELETE', payload: null },
    },
    [MIRROR]: {
      publish: { http_method: 'PUT', payload: buildDoc },
    },
  },
  community: {
    [COMMUNITIES]: {
      rename: { http_method: 'PATCH', payload: null },
    },
  },
});

describe('config index', () => {
  it('lists the configured methods of each service', () => {
    expect([...configuredMethods(events, 'rdm_record')].sort()).toEqual(['delete_record', 'publish']);
    expect([...configuredMethods(events, 'community')]).toEqual(['rename']);
    expect(configuredMethods(events, 'community').has('update')).toBe(false);
    expect(configuredMethods({}, 'rdm_record').size).toBe(0);
  });

  it('gives the endpoints of a method in config order, with their event configs', () => {
    const publish = endpointsFor(events, 'rdm_record', 'publish');
    expect(publish.map((binding) => binding.endpoint)).toEqual([DOCS, MIRROR]);
    expect(publish[0]?.eventConfig).toBe(events.rdm_record?.[DOCS]?.publish);
    expect(publish[1]?.eventConfig.http_method).toBe('PUT');
    expect(endpointsFor(events, 'community', 'rename').map((binding) => binding.endpoint)).toEqual([COMMUNITIES]);
  });

  it('answers empty for methods nobody configured, and for the other service\'s names', () => {
    expect(endpointsFor(events, 'rdm_record', 'edit')).toEqual([]);
    expect(endpointsFor(events, 'community', 'publish')).toEqual([]);
    expect(endpointsFor(events, 'rdm_record', 'constructor')).toEqual([]);
  });

  it('is built once per config object and frozen', () => {
    const index = indexConfig(events);
    expect(indexConfig(events)).toBe(index);
    expect(index.config).toBe(events);
    expect(Object.isFrozen(index)).toBe(true);
    expect(Object.isFrozen(index.endpointsFor('rdm_record', 'publish'))).toBe(true);
    expect(Object.isFrozen(index.endpointsFor('rdm_record', 'publish')[0])).toBe(true);
    expect(endpointsFor(events, 'rdm_record', 'publish')).toBe(index.endpointsFor('rdm_record', 'publish'));
  });

  it('skips methods left undefined', () => {
    const config = parseConfig({ community: { [COMMUNITIES]: { rename: undefined, update: { http_method: 'PUT', payload: null } } } });
    expect([...configuredMethods(config, 'community')]).toEqual(['update']);
  });

  it('tells whether any event config asks for the record owner', () => {
    expect(configNeedsOwner(events)).toBe(true);
    expect(configNeedsOwner({ community: { [COMMUNITIES]: { rename: { http_method: 'PATCH', payload: null, with_record_owner: false } } } })).toBe(false);
    expect(configNeedsOwner({})).toBe(false);
  });
});
