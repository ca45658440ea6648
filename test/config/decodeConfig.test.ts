import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { COUNTERPART_METHODS } from '../../src/events/methodTables.js';
import { ConfigError, decodeConfig, defineConfig, isConfigError, isMethodOf, methodsOf, parseConfig, type AppRecord, type ServiceType } from '../../src/index.js';
import { ProvisionerConfigCodec } from '../../src/config/codecs.js';
import { community, rdmRecord } from '../helpers/factories.js';

const RECORD: AppRecord = rdmRecord();
const COMMUNITY: AppRecord = community();

const URL_A = 'https://search.example.org/api/v1/documents';
const AT = `rdm_record[${JSON.stringify(URL_A)}]`;
const GOOD = { http_method: 'POST', payload: null } as const;
const HTTP_LIST = 'GET, POST, PUT, PATCH, DELETE';

/** A config with one event config at `rdm_record[URL_A][method]`. */
function withEvent(eventConfig: unknown, method = 'publish'): unknown {
  return { rdm_record: { [URL_A]: { [method]: eventConfig } } };
}

/** The issues of a config that must be rejected. */
function issuesOf(input: unknown): readonly string[] {
  const result = decodeConfig(input);
  if (isRight(result)) {
    throw new Error('expected the config to be rejected, but it was accepted');
  }
  expect(result.left).toBeInstanceOf(ConfigError);
  return result.left.issues;
}

describe('decodeConfig: method names per service', () => {
  const services: readonly ServiceType[] = ['rdm_record', 'community'];

  for (const service of services) {
    const other: ServiceType = service === 'rdm_record' ? 'community' : 'rdm_record';
    const own = service === 'rdm_record' ? 'an rdm_record method' : 'a community method';
    const theirs = other === 'rdm_record' ? 'an rdm_record method' : 'a community method';

    it(`accepts every method of the ${service} table under ${service}`, () => {
      for (const method of methodsOf(service)) {
        const config = { [service]: { [URL_A]: { [method]: GOOD } } };
        expect(isRight(decodeConfig(config)), `${service}.${method}`).toBe(true);
      }
    });

    it(`rejects every ${other}-only method under ${service}, naming its service and suggesting the counterpart`, () => {
      const foreign = methodsOf(other).filter((method) => !isMethodOf(service, method));
      expect(foreign.length).toBe(13);
      for (const method of foreign) {
        const config = { [service]: { [URL_A]: { [method]: GOOD } } };
        const counterpart = COUNTERPART_METHODS[method];
        const hint = counterpart !== undefined && isMethodOf(service, counterpart) ? ` (did you mean \`${counterpart}\`?)` : '';
        expect(issuesOf(config), `${service}.${method}`).toEqual([
          `${service}[${JSON.stringify(URL_A)}].${method}: expected ${own}, got ${theirs}${hint}`,
        ]);
      }
    });
  }

  it('suggests delete_community for the seed example\'s community delete_record, and says rename is a community method', () => {
    expect(issuesOf({ community: { [URL_A]: { delete_record: GOOD } } })).toEqual([
      `community[${JSON.stringify(URL_A)}].delete_record: expected a community method, got an rdm_record method (did you mean \`delete_community\`?)`,
    ]);
    expect(issuesOf({ rdm_record: { [URL_A]: { rename: GOOD } } })).toEqual([
      `${AT}.rename: expected an rdm_record method, got a community method`,
    ]);
  });
});

/** The seed's example config, translated: its community section repeats the record one. */
function seedExampleConfig(): unknown {
  const formatCommonsSearchPayload = ({ record }: { record?: AppRecord | null }) => ({ id: String(record?.id ?? '') });
  const recordCommonsSearchId = () => undefined;
  return {
    rdm_record: {
      'https://hcommons.org/api/v1/document_updates': {
        publish: { http_method: 'POST', with_record_owner: true, payload: formatCommonsSearchPayload, callback: recordCommonsSearchId },
        delete_record: {
          http_method: 'DELETE',
          with_record_owner: false,
          payload: formatCommonsSearchPayload,
          url_factory: (record: AppRecord) => `https://hcommons.org/api/v1/documents/${String(record.id)}`,
        },
      },
    },
    community: {
      'https://hcommons.org/api/v1/community_updates': {
        publish: { http_method: 'POST', with_record_owner: true, payload: formatCommonsSearchPayload, callback: recordCommonsSearchId },
        delete_record: {
          http_method: 'DELETE',
          with_record_owner: false,
          payload: formatCommonsSearchPayload,
          url_factory: (record: AppRecord) => `https://hcommons.org/api/v1/communities/${String(record.id)}`,
        },
      },
    },
  };
}

describe('decodeConfig: the seed\'s example config', () => {
  it('is rejected for its two community mistakes, with the create and delete_community suggestions', () => {
    const endpoint = JSON.stringify('https://hcommons.org/api/v1/community_updates');
    expect(issuesOf(seedExampleConfig())).toEqual([
      `community[${endpoint}].publish: expected a community method, got an rdm_record method (did you mean \`create\`?)`,
      `community[${endpoint}].delete_record: expected a community method, got an rdm_record method (did you mean \`delete_community\`?)`,
    ]);
  });
});

type BadCase = { readonly name: string; readonly input: unknown; readonly issues: readonly string[] };

const circular: Record<string, unknown> = { title: 'loop' };
circular['self'] = circular;

const BAD_CONFIGS: readonly BadCase[] = [
  { name: 'top level is an array', input: [], issues: ['(root): expected an object with rdm_record and/or community, got an array'] },
  { name: 'top level is null', input: null, issues: ['(root): expected an object with rdm_record and/or community, got null'] },
  { name: 'top level is a string (not echoed)', input: 'rdm_record', issues: ['(root): expected an object with rdm_record and/or community, got a string'] },
  { name: 'top level is a Map', input: new Map(), issues: ['(root): expected an object with rdm_record and/or community, got a Map'] },
  {
    name: 'misspelt service type',
    input: { rdm_records: {} },
    issues: ['rdm_records: expected a service type (rdm_record or community), got an unknown key (did you mean `rdm_record`?)'],
  },
  { name: 'unknown service type', input: { webhooks: {} }, issues: ['webhooks: expected a service type (rdm_record or community), got an unknown key'] },
  { name: 'service is an array', input: { rdm_record: [] }, issues: ['rdm_record: expected an object of endpoint URLs to method configs, got an array'] },
  { name: 'service is null', input: { community: null }, issues: ['community: expected an object of endpoint URLs to method configs, got null'] },
  {
    name: 'endpoint is a relative path',
    input: { rdm_record: { '/api/v1/documents': {} } },
    issues: ['rdm_record["/api/v1/documents"]: expected an absolute http(s) URL as the endpoint, got a relative path'],
  },
  {
    name: 'endpoint is an ftp: URL',
    input: { rdm_record: { 'ftp://files.example.org/drop': {} } },
    issues: ['rdm_record["ftp://files.example.org/drop"]: expected an absolute http(s) URL as the endpoint, got a URL with scheme ftp:'],
  },
  {
    name: 'endpoint is not a URL',
    input: { rdm_record: { 'search service': {} } },
    issues: ['rdm_record["search service"]: expected an absolute http(s) URL as the endpoint, got text that is not a URL'],
  },
  {
    name: 'endpoint lacks a scheme',
    input: { community: { 'search.example.org/api': {} } },
    issues: [
      'community["search.example.org/api"]: expected an absolute http(s) URL as the endpoint, got a host without a scheme (did you mean "https://search.example.org/api"?)',
    ],
  },
  {
    name: 'endpoint carries credentials (redacted in the path)',
    input: { rdm_record: { 'https://user:hunter2@search.example.org/api': {} } },
    issues: [
      'rdm_record["https://[redacted]@search.example.org/api"]: expected an absolute http(s) URL as the endpoint, got a URL with credentials (put them in auth_token or headers)',
    ],
  },
  { name: 'endpoint value is a string', input: { rdm_record: { [URL_A]: 'POST' } }, issues: [`${AT}: expected an object of method names to event configs, got a string`] },
  {
    name: 'misspelt method',
    input: { rdm_record: { [URL_A]: { publsh: GOOD } } },
    issues: [`${AT}.publsh: expected an rdm_record method, got an unknown method (did you mean \`publish\`?)`],
  },
  {
    name: 'the service method\'s full name instead of the component name',
    input: { rdm_record: { [URL_A]: { mark_record_for_purge: GOOD } } },
    issues: [`${AT}.mark_record_for_purge: expected an rdm_record method, got an unknown method (did you mean \`mark_record\`?)`],
  },
  {
    name: 'unknown method without a near name lists the methods',
    input: { rdm_record: { [URL_A]: { frobnicate: GOOD } } },
    issues: [
      `${AT}.frobnicate: expected an rdm_record method (create, update_tombstone, search, scan, read, publish, delete_record, restore_record, mark_record, unmark_record, update_draft, edit, new_version, delete_draft, import_files, read_draft, search_drafts, search_versions), got an unknown method`,
    ],
  },
  { name: 'event config is null', input: withEvent(null), issues: [`${AT}.publish: expected an event config object, got null`] },
  { name: 'event config is a function', input: withEvent(() => GOOD), issues: [`${AT}.publish: expected an event config object, got a function`] },
  {
    name: 'http_method misspelt',
    input: withEvent({ http_method: 'PUTT', payload: null }),
    issues: [`${AT}.publish.http_method: expected one of ${HTTP_LIST}, got "PUTT" (did you mean "PUT"?)`],
  },
  {
    name: 'http_method in lower case',
    input: withEvent({ http_method: 'post', payload: null }),
    issues: [`${AT}.publish.http_method: expected one of ${HTTP_LIST}, got "post" (did you mean "POST"?)`],
  },
  {
    name: 'http_method is a number',
    input: withEvent({ http_method: 42, payload: null }),
    issues: [`${AT}.publish.http_method: expected one of ${HTTP_LIST} or a function, got 42`],
  },
  {
    name: 'http_method echo is cut',
    input: withEvent({ http_method: 'X'.repeat(100), payload: null }),
    issues: [`${AT}.publish.http_method: expected one of ${HTTP_LIST}, got "${'X'.repeat(59)}…"`],
  },
  {
    name: 'http_method missing',
    input: withEvent({ payload: null }),
    issues: [`${AT}.publish.http_method: expected one of ${HTTP_LIST} or a function, got nothing (the key is required)`],
  },
  {
    name: 'payload missing',
    input: withEvent({ http_method: 'DELETE' }),
    issues: [`${AT}.publish.payload: expected a JSON object, null or a function, got nothing (the key is required)`],
  },
  {
    name: 'payload undefined',
    input: withEvent({ http_method: 'DELETE', payload: undefined }),
    issues: [`${AT}.publish.payload: expected a JSON object, null or a function, got undefined`],
  },
  { name: 'payload is an array', input: withEvent({ http_method: 'POST', payload: [1] }), issues: [`${AT}.publish.payload: expected a JSON object, null or a function, got an array`] },
  {
    name: 'payload holds values JSON cannot carry',
    input: withEvent({ http_method: 'POST', payload: { when: new Date(0), scores: [1, Number.NaN], 'kcr:id': undefined } }),
    issues: [
      `${AT}.publish.payload.when: expected a JSON value, got a Date`,
      `${AT}.publish.payload.scores[1]: expected a JSON value, got NaN`,
      `${AT}.publish.payload["kcr:id"]: expected a JSON value, got undefined`,
    ],
  },
  {
    name: 'payload is circular',
    input: withEvent({ http_method: 'POST', payload: circular }),
    issues: [`${AT}.publish.payload.self: expected a JSON value, got a circular reference`],
  },
  { name: 'with_record_owner is a string', input: withEvent({ ...GOOD, with_record_owner: 'yes' }), issues: [`${AT}.publish.with_record_owner: expected a boolean, got "yes"`] },
  {
    name: 'url_factory is a URL string',
    input: withEvent({ ...GOOD, url_factory: 'https://x.org/a' }),
    issues: [`${AT}.publish.url_factory: expected a function, got "https://x.org/a"`],
  },
  { name: 'callback is an object', input: withEvent({ ...GOOD, callback: {} }), issues: [`${AT}.publish.callback: expected a function, got an object`] },
  { name: 'headers is an array', input: withEvent({ ...GOOD, headers: [] }), issues: [`${AT}.publish.headers: expected an object of header names to string values, got an array`] },
  {
    name: 'header values must be strings, and are never echoed',
    input: withEvent({ ...GOOD, headers: { 'X-Trace': 7, Authorization: 12345 } }),
    issues: [`${AT}.publish.headers["X-Trace"]: expected a string, got a number`, `${AT}.publish.headers["Authorization"]: expected a string, got a number (hidden)`],
  },
  {
    name: 'header name is not a token',
    input: withEvent({ ...GOOD, headers: { 'X Trace': 'a' } }),
    issues: [`${AT}.publish.headers["X Trace"]: expected a header name of letters, digits and !#$%&'*+-.^_\`|~ only, got a name with other characters`],
  },
  {
    name: 'header value with a line break',
    input: withEvent({ ...GOOD, headers: { 'X-Api-Key': 'k\r\nX-Evil: 1', 'X-Note': 'a\nb' } }),
    issues: [
      `${AT}.publish.headers["X-Api-Key"]: expected a header value without line breaks, got a string with a line break (hidden)`,
      `${AT}.publish.headers["X-Note"]: expected a header value without line breaks, got a string with a line break`,
    ],
  },
  { name: 'auth_token is empty', input: withEvent({ ...GOOD, auth_token: '' }), issues: [`${AT}.publish.auth_token: expected a non-empty string, got an empty string`] },
  { name: 'auth_token is a number', input: withEvent({ ...GOOD, auth_token: 12345 }), issues: [`${AT}.publish.auth_token: expected a non-empty string, got a number (hidden)`] },
  {
    name: 'auth_token with a line break',
    input: withEvent({ ...GOOD, auth_token: 'abc\ndef' }),
    issues: [`${AT}.publish.auth_token: expected a non-empty string without line breaks, got a string with a line break (hidden)`],
  },
  { name: 'include_restricted is null', input: withEvent({ ...GOOD, include_restricted: null }), issues: [`${AT}.publish.include_restricted: expected a boolean, got null`] },
  {
    name: 'allowed_origins is false',
    input: withEvent({ ...GOOD, allowed_origins: false }),
    issues: [`${AT}.publish.allowed_origins: expected true or an array of absolute http(s) origins, got false`],
  },
  {
    name: 'allowed_origins entries that are not origins',
    input: withEvent({ ...GOOD, allowed_origins: ['https://ok.example.org', 'https://x.org/a', 'x.org', 'ftp://x.org', 7] }),
    issues: [
      `${AT}.publish.allowed_origins[1]: expected an absolute http(s) origin, got "https://x.org/a" (has a path, query or fragment; did you mean "https://x.org"?)`,
      `${AT}.publish.allowed_origins[2]: expected an absolute http(s) origin, got "x.org" (a host without a scheme; did you mean "https://x.org"?)`,
      `${AT}.publish.allowed_origins[3]: expected an absolute http(s) origin, got "ftp://x.org" (a URL with scheme ftp:)`,
      `${AT}.publish.allowed_origins[4]: expected an absolute http(s) origin, got 7`,
    ],
  },
  {
    name: 'retry is a number',
    input: withEvent({ ...GOOD, retry: 3 }),
    issues: [`${AT}.publish.retry: expected an object of retry options (limit, baseDelayMs, maxDelayMs, maxRetryAfterMs), got a number`],
  },
  {
    name: 'retry with misspelt and unknown options',
    input: withEvent({ ...GOOD, retry: { limt: 1, base_delay_ms: 10, jitter: true } }),
    issues: [
      `${AT}.publish.retry.limt: expected a retry option, got an unknown key (did you mean \`limit\`?)`,
      `${AT}.publish.retry.base_delay_ms: expected a retry option, got an unknown key (did you mean \`baseDelayMs\`?)`,
      `${AT}.publish.retry.jitter: expected a retry option (limit, baseDelayMs, maxDelayMs, maxRetryAfterMs), got an unknown key`,
    ],
  },
  {
    name: 'retry values out of range',
    input: withEvent({ ...GOOD, retry: { limit: 1.5, baseDelayMs: -1, maxDelayMs: Number.POSITIVE_INFINITY, maxRetryAfterMs: '60s' } }),
    issues: [
      `${AT}.publish.retry.limit: expected an integer >= 0, got 1.5`,
      `${AT}.publish.retry.baseDelayMs: expected a number >= 0, got -1`,
      `${AT}.publish.retry.maxDelayMs: expected a number >= 0, got Infinity`,
      `${AT}.publish.retry.maxRetryAfterMs: expected a number >= 0, got "60s"`,
    ],
  },
  { name: 'timeout_ms is zero', input: withEvent({ ...GOOD, timeout_ms: 0 }), issues: [`${AT}.publish.timeout_ms: expected a positive number, got 0`] },
  { name: 'timeout_ms is a string', input: withEvent({ ...GOOD, timeout_ms: '10s' }), issues: [`${AT}.publish.timeout_ms: expected a positive number, got "10s"`] },
  {
    name: 'misspelt http_method key is one issue, not also "missing"',
    input: withEvent({ http_methods: 'POST', payload: null }),
    issues: [`${AT}.publish.http_methods: expected an event config key, got an unknown key (did you mean \`http_method\`?)`],
  },
  {
    name: 'misspelt optional keys',
    input: withEvent({ ...GOOD, callbacks: () => undefined, urlFactory: () => URL_A, withRecordOwner: true }),
    issues: [
      `${AT}.publish.callbacks: expected an event config key, got an unknown key (did you mean \`callback\`?)`,
      `${AT}.publish.urlFactory: expected an event config key, got an unknown key (did you mean \`url_factory\`?)`,
      `${AT}.publish.withRecordOwner: expected an event config key, got an unknown key (did you mean \`with_record_owner\`?)`,
    ],
  },
  {
    name: 'unknown event config key without a near name lists the keys',
    input: withEvent({ ...GOOD, priority: 1 }),
    issues: [
      `${AT}.publish.priority: expected an event config key (http_method, payload, with_record_owner, url_factory, callback, headers, auth_token, include_restricted, timing_field, allowed_origins, retry, timeout_ms, coalesce), got an unknown key`,
    ],
  },
  {
    name: 'a config whose properties throw when read',
    input: new Proxy(
      {},
      {
        ownKeys() {
          throw new TypeError('the getter held sk_live_secret');
        },
      },
    ),
    issues: ['(root): expected a config whose properties can be read, got an object that threw TypeError while being read'],
  },
];

describe('decodeConfig: malformed configs', () => {
  it('has at least 25 distinct cases', () => {
    expect(new Set(BAD_CONFIGS.map((c) => c.name)).size).toBe(BAD_CONFIGS.length);
    expect(BAD_CONFIGS.length).toBeGreaterThanOrEqual(25);
  });

  for (const { name, input, issues } of BAD_CONFIGS) {
    it(`rejects: ${name}`, () => {
      expect(issuesOf(input)).toEqual(issues);
    });
  }

  it('lists every problem at once, across services, endpoints and keys', () => {
    const config = {
      rdm_records: {},
      rdm_record: {
        '/relative': { publish: GOOD },
        [URL_A]: {
          publish: { http_method: 'PUTT', payload: null, with_record_owner: 1 },
          rename: GOOD,
        },
      },
      community: { 'https://x.org/c': { delete_record: { http_method: 'DELETE' } } },
    };
    expect(issuesOf(config)).toEqual([
      'rdm_records: expected a service type (rdm_record or community), got an unknown key (did you mean `rdm_record`?)',
      'rdm_record["/relative"]: expected an absolute http(s) URL as the endpoint, got a relative path',
      `${AT}.publish.http_method: expected one of ${HTTP_LIST}, got "PUTT" (did you mean "PUT"?)`,
      `${AT}.publish.with_record_owner: expected a boolean, got 1`,
      `${AT}.rename: expected an rdm_record method, got a community method`,
      'community["https://x.org/c"].delete_record: expected a community method, got an rdm_record method (did you mean `delete_community`?)',
    ]);
  });

  it('ConfigError message lists the issues', () => {
    try {
      parseConfig({ rdm_records: {}, community: [] });
      expect.unreachable('parseConfig should have thrown');
    } catch (error) {
      expect(isConfigError(error)).toBe(true);
      expect((error as ConfigError).message).toBe(
        [
          'Invalid remote API provisioner config (2 issues):',
          '- rdm_records: expected a service type (rdm_record or community), got an unknown key (did you mean `rdm_record`?)',
          '- community: expected an object of endpoint URLs to method configs, got an array',
        ].join('\n'),
      );
    }
  });

  it('never shows an auth_token or a secret header value, whatever is wrong around it', () => {
    const secret = 'sk_live_9f8e7d6c5b4a';
    const config = withEvent({
      http_method: 'POST',
      payload: null,
      auth_token: `${secret}\n`,
      headers: { Authorization: `Bearer ${secret}\r\n`, 'X-Api-Key': [secret], Cookie: `${secret}\n`, 'X Secret': secret },
      authToken: secret,
    });
    const issues = issuesOf(config);
    expect(issues.length).toBeGreaterThanOrEqual(5);
    for (const line of issues) {
      expect(line).not.toContain(secret);
    }
  });
});

describe('decodeConfig / parseConfig: valid configs', () => {
  type FixtureRecord = AppRecord & {
    readonly id: string;
    readonly metadata?: { readonly title?: string };
    readonly custom_fields?: Readonly<Record<string, string>>;
    readonly slug?: string;
  };

  const events = defineConfig<FixtureRecord>({
    rdm_record: {
      [URL_A]: {
        publish: {
          http_method: 'POST',
          with_record_owner: true,
          payload: ({ record, owner }) => ({
            _internal_id: record?.id ?? null,
            title: record?.metadata?.title ?? null,
            owner: owner?.username ?? null,
          }),
          callback: () => undefined,
          headers: { 'X-Source': 'records-app', Authorization: 'Bearer not-shown' },
          auth_token: 'token-not-shown',
          include_restricted: false,
          retry: { limit: 3, baseDelayMs: 10, maxDelayMs: 100, maxRetryAfterMs: 1000 },
          timeout_ms: 5000,
        },
        delete_record: {
          http_method: 'DELETE',
          payload: null,
          url_factory: (record) => `https://search.example.org/api/v1/documents/${record?.custom_fields?.['kcr:commons_search_recid'] ?? ''}`,
          allowed_origins: ['https://search.example.org', 'http://127.0.0.1:8080'],
        },
        update_draft: { http_method: ({ record }) => (record === null ? 'POST' : 'PUT'), payload: { kind: 'draft', tags: ['a', 1, true, null, { x: -0.5 }] } },
      },
    },
    community: {
      'https://search.example.org/api/v1/communities': {
        rename: { http_method: 'PATCH', payload: ({ slug, old_slug }) => ({ slug: slug ?? null, old_slug: old_slug ?? null }) },
        delete_community: { http_method: 'DELETE', payload: null, allowed_origins: true },
        create: { http_method: 'POST', payload: ({ record }) => ({ id: record?.id ?? null, slug: record?.slug ?? null }) },
      },
    },
  });

  it('returns the input object itself, functions and all', () => {
    const result = decodeConfig(events);
    expect(isRight(result) && result.right).toBe(events);
    expect(parseConfig(events)).toBe(events);
    expect(ProvisionerConfigCodec.is(events)).toBe(true);

    const parsed = parseConfig<FixtureRecord>(events);
    const publish = parsed.rdm_record?.[URL_A]?.publish;
    const identity = { id: 1 };
    const record = RECORD as FixtureRecord;
    expect(typeof publish?.payload === 'function' && publish.payload({ identity, record, owner: { id: 1, email: 'troy@example.org', username: 'troy' } })).toEqual({
      _internal_id: 'q1k7x-8mz42',
      title: 'A Romans Story',
      owner: 'troy',
    });
    const deleteRecord = parsed.rdm_record?.[URL_A]?.delete_record;
    expect(deleteRecord?.url_factory?.(record, { identity, record })).toBe('https://search.example.org/api/v1/documents/2E9SqY0Bdd2QL-HGeUuA');
    const create = parsed.community?.['https://search.example.org/api/v1/communities']?.create;
    expect(typeof create?.payload === 'function' && create.payload({ identity, record: COMMUNITY as FixtureRecord })).toEqual({
      id: 'c0a8f1e2-5b7d-4c1e-9f3a-2d4b6c8e0a1f',
      slug: 'roman-households',
    });
  });

  it('accepts an empty config, empty services and endpoints, and undefined optional slots', () => {
    for (const config of [
      {},
      { rdm_record: {} },
      { rdm_record: undefined, community: {} },
      { community: { 'https://x.org/a': {} } },
      { community: { 'http://127.0.0.1:8080/hook': { rename: undefined, update: { ...GOOD, callback: undefined, headers: undefined } } } },
      JSON.parse(`{"rdm_record":{"${URL_A}":{"publish":{"http_method":"POST","payload":{"a":[1,{"b":null}]}}}}}`) as unknown,
      { rdm_record: { [URL_A]: { publish: { ...GOOD, payload: Object.create(null) as object } } } },
    ]) {
      const result = decodeConfig(config);
      expect(isLeft(result) ? result.left.issues : result.right).toBe(config);
    }
  });
});
