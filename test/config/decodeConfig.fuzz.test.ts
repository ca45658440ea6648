/*
 * Property and fuzz runs of decodeConfig: whatever it is given, it answers (accepted, or a
 * ConfigError with at least one issue, each with a path) and never throws, and it never
 * shows a secret. Seeds are fixed so a failure reproduces; fast-check prints the
 * counterexample.
 */
import fc from 'fast-check';
import { isRight } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { EVENT_CONFIG_KEYS, HTTP_METHODS, ConfigError, decodeConfig, methodsOf } from '../../src/index.js';
import { ProvisionerConfigCodec } from '../../src/config/codecs.js';
import { indexConfig } from '../../src/config/configIndex.js';

/** Planted in every secret slot; no issue may contain it. */
const SECRET = 'sk_live_FUZZ_5ecret';

const anythingOptions = {
  maxDepth: 2,
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withSparseArray: true,
  withBoxedValues: true,
  withTypedArray: true,
  withUnicodeString: true,
} as const;

/**
 * Checks one decode answer and says whether the config was accepted. Plain checks instead
 * of `expect` in the loop: thousands of runs, each with many issues.
 */
function checkAnswer(input: unknown, seen?: Map<string, number>): boolean {
  let result: ReturnType<typeof decodeConfig>;
  try {
    result = decodeConfig(input);
  } catch (error) {
    throw new Error(`decodeConfig threw: ${String(error)}`);
  }
  if (isRight(result)) {
    assert(result.right === input, 'an accepted config is returned as it is');
    assert(ProvisionerConfigCodec.is(input), 'the codec guard agrees with decodeConfig');
    const index = indexConfig(result.right);
    for (const service of ['rdm_record', 'community'] as const) {
      for (const method of index.configuredMethods(service)) {
        assert(index.endpointsFor(service, method).length > 0, `${service}.${method} is configured but has no endpoint`);
      }
    }
    return true;
  }
  const error = result.left;
  assert(error instanceof ConfigError, 'a rejection is a ConfigError');
  assert(error.issues.length >= 1, 'a rejection lists at least one issue');
  const topKeys = typeof input === 'object' && input !== null && !Array.isArray(input) ? safeKeys(input) : [];
  for (const line of error.issues) {
    assert(/: expected .+, got /.test(line), `issue not in the "path: expected X, got Y" form: ${line}`);
    const path = line.slice(0, line.indexOf(': expected '));
    const rooted =
      path === '(root)' || topKeys.some((key) => path.startsWith(`[${JSON.stringify(key)}]`) || path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`));
    assert(rooted, `issue without a path into the config: ${line}`);
    assert(!line.includes(SECRET), `issue shows a secret: ${line}`);
    if (seen !== undefined) {
      for (const kind of kindsOf(path, line)) seen.set(kind, (seen.get(kind) ?? 0) + 1);
    }
  }
  return false;
}

/** What an issue is about, to show the fuzz reaches every level and every key. */
function kindsOf(path: string, line: string): string[] {
  const kinds: string[] = [];
  const key = /\.(\w+)(?:\[[^\]]*\])*$/.exec(path)?.[1];
  if (key !== undefined && (EVENT_CONFIG_KEYS as readonly string[]).includes(key)) kinds.push(key);
  if (line.includes('(did you mean')) kinds.push('did you mean');
  if (line.includes('as the endpoint')) kinds.push('endpoint URL');
  if (/ method(?: \(|,)/.test(line)) kinds.push('method name');
  if (line.includes('an event config key')) kinds.push('event config key');
  return kinds;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

function safeKeys(value: object): string[] {
  try {
    return Object.keys(value);
  } catch {
    return [];
  }
}

// --- near-valid config generators ---------------------------------------------------------

const MUTATIONS = ['drop', 'double', 'swap', 'upper', 'lower', 'camel', 'plural', 'strip'] as const;

/** A real name with one typing mistake in it. */
function misspelt(words: readonly string[]): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...words), fc.nat(), fc.constantFrom(...MUTATIONS)).map(([word, n, mutation]) => {
    const at = word.length === 0 ? 0 : n % word.length;
    switch (mutation) {
      case 'drop':
        return word.slice(0, at) + word.slice(at + 1);
      case 'double':
        return word.slice(0, at + 1) + word.slice(at);
      case 'swap':
        return word.slice(0, at) + word.slice(at + 1, at + 2) + word.slice(at, at + 1) + word.slice(at + 2);
      case 'upper':
        return word.toUpperCase();
      case 'lower':
        return word.toLowerCase();
      case 'camel':
        return word.replace(/_(\w)/g, (_, letter: string) => letter.toUpperCase());
      case 'plural':
        return `${word}s`;
      case 'strip':
        return word.replace(/_/g, '');
    }
  });
}

/** Mostly real names, often misspelt, sometimes anything. */
function nameLike(words: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...words) },
    { weight: 3, arbitrary: misspelt(words) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '') },
  );
}

const ODD_URLS = [
  '/api/v1/documents',
  './hook',
  'ftp://files.example.org/drop',
  'search.example.org/api',
  'not a url',
  '',
  '//search.example.org/api',
  `https://user:${SECRET}@search.example.org/api`,
  'http://[::1]:8080/x',
  'https://exämple.org/ü?q=1#f',
  'mailto:a@example.org',
  'localhost:3000/hook',
  'javascript:alert(1)',
  'https://',
  'HTTPS://SEARCH.EXAMPLE.ORG/API',
  'http://127.0.0.1:0/hook',
  'https://x.org/a b',
];

const urlLike: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
  { weight: 3, arbitrary: fc.constantFrom(...ODD_URLS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ ...anythingOptions, maxDepth: 1 }),
  fc.constantFrom(undefined, null, true, false, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, '', [], {}, () => 1, Symbol('s'), new Date(0)),
);

/** A value for an event config key: the right kind of value, or a wrong one. */
function valueFor(key: string): fc.Arbitrary<unknown> {
  if (!Object.prototype.hasOwnProperty.call(RIGHT_VALUES, key)) {
    return wrongValue;
  }
  const right: fc.Arbitrary<unknown> = RIGHT_VALUES[key as keyof typeof RIGHT_VALUES];
  return fc.oneof({ weight: 2, arbitrary: right }, { weight: 1, arbitrary: wrongValue });
}

const jsonWithOddities: fc.Arbitrary<unknown> = fc.dictionary(
  fc.string({ maxLength: 8 }),
  fc.oneof(
    { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, Number.NaN, new Date(0), 10n, Symbol('s'), () => 1, new Map()) },
  ),
  { maxKeys: 4 },
);

const RIGHT_VALUES = {
  http_method: fc.oneof(fc.constantFrom(...HTTP_METHODS), misspelt(HTTP_METHODS), fc.constant(() => 'POST')),
  payload: fc.oneof(fc.constant(null), fc.constant(() => ({})), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), jsonWithOddities),
  with_record_owner: fc.boolean(),
  url_factory: fc.constant(() => 'https://search.example.org/x'),
  callback: fc.constant(() => undefined),
  headers: fc.dictionary(
    fc.oneof(fc.constantFrom('Authorization', 'X-Api-Key', 'Cookie', 'X-Auth-Token', 'X-Trace', 'Content-Type', 'X Secret', ''), fc.string({ maxLength: 10 })),
    fc.oneof(fc.constant(SECRET), fc.constant(`Bearer ${SECRET}\r\n`), fc.constant([SECRET]), fc.string({ maxLength: 10 }), fc.integer()),
    { maxKeys: 4 },
  ),
  auth_token: fc.constantFrom(SECRET, `${SECRET}\n`, '', 123456),
  include_restricted: fc.boolean(),
  timing_field: fc.oneof(fc.constant('updated'), fc.constant(''), fc.integer()),
  allowed_origins: fc.oneof(fc.constant(true), fc.array(urlLike, { maxLength: 3 })),
  retry: fc.dictionary(
    nameLike(['limit', 'baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs']),
    fc.oneof(fc.integer({ min: -5, max: 100 }), fc.double(), fc.string({ maxLength: 4 })),
    { maxKeys: 4 },
  ),
  timeout_ms: fc.oneof(fc.integer({ min: -10, max: 10_000 }), fc.double(), fc.constant('10s')),
} as const;

const eventKeyEntry: fc.Arbitrary<[string, unknown]> = nameLike(EVENT_CONFIG_KEYS).chain((key) => valueFor(key).map((value): [string, unknown] => [key, value]));

const eventConfig: fc.Arbitrary<unknown> = fc
  .tuple(
    fc.record({ http_method: RIGHT_VALUES.http_method, payload: RIGHT_VALUES.payload }, { requiredKeys: [] }),
    fc.array(eventKeyEntry, { maxLength: 3 }),
  )
  .map(([base, extras]) => ({ ...base, ...Object.fromEntries(extras) }));

const ALL_METHODS = [...new Set([...methodsOf('rdm_record'), ...methodsOf('community')])];

const endpointConfig: fc.Arbitrary<unknown> = fc
  .array(fc.tuple(nameLike(ALL_METHODS), fc.oneof({ weight: 6, arbitrary: eventConfig }, { weight: 1, arbitrary: wrongValue })), { minLength: 1, maxLength: 2 })
  .map((entries) => Object.fromEntries(entries));

const serviceConfig: fc.Arbitrary<unknown> = fc
  .array(fc.tuple(urlLike, fc.oneof({ weight: 6, arbitrary: endpointConfig }, { weight: 1, arbitrary: wrongValue })), { minLength: 1, maxLength: 2 })
  .map((entries) => Object.fromEntries(entries));

/** Configs with mistakes at every level. */
const mistakenConfig: fc.Arbitrary<unknown> = fc
  .array(fc.tuple(nameLike(['rdm_record', 'community']), fc.oneof({ weight: 6, arbitrary: serviceConfig }, { weight: 1, arbitrary: wrongValue })), { minLength: 1, maxLength: 2 })
  .map((entries) => Object.fromEntries(entries));

const GOOD_VALUES = {
  with_record_owner: fc.boolean(),
  url_factory: fc.constant(() => 'https://search.example.org/x'),
  callback: fc.constant(() => undefined),
  headers: fc.dictionary(fc.constantFrom('Authorization', 'X-Trace', 'Content-Type'), fc.constant(SECRET), { maxKeys: 2 }),
  auth_token: fc.constant(SECRET),
  include_restricted: fc.boolean(),
  timing_field: fc.constantFrom('updated', 'kcr:commons_search_updated'),
  allowed_origins: fc.oneof(fc.constant(true), fc.array(fc.webUrl({ size: 'small' }).map((url) => new URL(url).origin), { maxLength: 2 })),
  retry: fc.record({ limit: fc.nat(10), baseDelayMs: fc.nat(1000) }, { requiredKeys: [] }),
  timeout_ms: fc.integer({ min: 1, max: 60_000 }),
} as const;

/** Configs with at most one small mistake (or none): real services, their own methods. */
function almostRightEndpoint(service: 'rdm_record' | 'community'): fc.Arbitrary<unknown> {
  const goodEvent = fc
    .tuple(
      fc.constantFrom(...HTTP_METHODS),
      fc.oneof(fc.constant(null), fc.constant(() => ({})), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })),
      fc.record(GOOD_VALUES, { requiredKeys: [] }),
    )
    .map(([http_method, payload, extras]) => ({ http_method, payload, ...extras }));
  return fc.dictionary(fc.constantFrom(...methodsOf(service)), goodEvent, { minKeys: 1, maxKeys: 3 });
}

const almostRightConfig: fc.Arbitrary<unknown> = fc
  .tuple(
    fc.dictionary(fc.webUrl({ size: 'small' }), almostRightEndpoint('rdm_record'), { maxKeys: 2 }),
    fc.dictionary(fc.webUrl({ size: 'small' }), almostRightEndpoint('community'), { maxKeys: 2 }),
    fc.option(eventKeyEntry, { freq: 3 }),
  )
  .map(([rdm_record, community, mistake]) => {
    const config = { rdm_record, community };
    if (mistake !== null) {
      const endpoint = Object.values(rdm_record)[0];
      if (endpoint !== undefined) Object.assign(Object.values(endpoint as object)[0] as object, Object.fromEntries([mistake]));
    }
    return config;
  });

const nearValidConfig: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 12, arbitrary: mistakenConfig },
  { weight: 6, arbitrary: almostRightConfig },
  { weight: 1, arbitrary: wrongValue },
);

describe('decodeConfig under random input', () => {
  it('answers random JSON-ish input with the config or a ConfigError with issues, never another exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.anything(anythingOptions), fc.dictionary(fc.constantFrom('rdm_record', 'community'), fc.anything(anythingOptions))), (input) => {
        checkAnswer(input);
      }),
      { numRuns: 2_000, seed: 20_260_302 },
    );
  });

  it('fuzz: 10,000 near-valid configs (wrong types, misspelt keys and methods, odd URLs) never throw, rejections list issues with paths, no secret shown', () => {
    let accepted = 0;
    let rejected = 0;
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(nearValidConfig, (input) => {
        if (checkAnswer(input, seen)) accepted += 1;
        else rejected += 1;
      }),
      { numRuns: 10_000, seed: 6_006 },
    );
    // Both answers must be exercised, or the generator has drifted off "near valid".
    expect(accepted).toBeGreaterThan(1_000);
    expect(rejected).toBeGreaterThan(5_000);
    // Every level and every event config key was hit by rejections many times.
    for (const kind of [...EVENT_CONFIG_KEYS, 'did you mean', 'endpoint URL', 'method name', 'event config key']) {
      expect(seen.get(kind) ?? 0, `issues about ${kind}`).toBeGreaterThanOrEqual(25);
    }
  });
});
