import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UrlError, recordUrl } from '../../src/index.js';
import { assertHttpUrl, sameOrigin } from '../../src/util/urls.js';

const BASE = 'https://search.example.org/api/v1/documents';

describe('recordUrl', () => {
  it('appends encoded segments to the base path', () => {
    expect(recordUrl(BASE, 'q1k7x-8mz42')).toBe(`${BASE}/q1k7x-8mz42`);
    expect(recordUrl(`${BASE}/`, 'communities', 42, 'members')).toBe(`${BASE}/communities/42/members`);
    expect(recordUrl('https://search.example.org', 'a b')).toBe('https://search.example.org/a%20b');
  });

  it('keeps the query of the base', () => {
    expect(recordUrl(`${BASE}?index=records`, 'abc')).toBe(`${BASE}/abc?index=records`);
  });

  it('keeps an id with / ? # .. or unicode inside one segment', () => {
    const url = recordUrl(BASE, 'a/../../admin?x=1#frag');
    expect(url).toBe(`${BASE}/a%2F..%2F..%2Fadmin%3Fx%3D1%23frag`);
    const parsed = new URL(url);
    expect(parsed.pathname).toBe('/api/v1/documents/a%2F..%2F..%2Fadmin%3Fx%3D1%23frag');
    expect(parsed.search).toBe('');
    expect(parsed.hash).toBe('');
    expect(new URL(recordUrl(BASE, 'ünï ✓')).pathname).toBe('/api/v1/documents/%C3%BCn%C3%AF%20%E2%9C%93');
    expect(new URL(recordUrl(BASE, '%2e%2e')).pathname).toBe('/api/v1/documents/%252e%252e');
  });

  it('refuses empty, "." and ".." segments, which no encoding keeps in place', () => {
    // `%2E%2E` is a dot segment too: URL parsers pop a segment for it.
    expect(new URL(`${BASE}/%2E%2E`).pathname).toBe('/api/v1/');
    expect(() => recordUrl(BASE, '..')).toThrow(UrlError);
    expect(() => recordUrl(BASE, 'ok', '.')).toThrow('Expected path segment 2 of recordUrl to be a non-empty value other than "." and "..", got "."');
    expect(() => recordUrl(BASE, '')).toThrow(UrlError);
  });

  it('refuses a missing id (undefined, null, or either made a string), so nothing is sent to /undefined', () => {
    for (const missing of [undefined, null, 'undefined', 'null', String(undefined)]) {
      expect(() => recordUrl(BASE, missing)).toThrow(UrlError);
    }
    expect(() => recordUrl(BASE, undefined)).toThrow('Expected path segment 1 of recordUrl to be an id, got undefined (a missing id?)');
    expect(() => recordUrl(BASE, 'communities', 'null')).toThrow('Expected path segment 2 of recordUrl to be an id, got "null" (a missing id?)');
  });

  it('refuses a base that is not absolute http(s)', () => {
    expect(() => recordUrl('/api/documents', 'x')).toThrow(UrlError);
    expect(() => recordUrl('ftp://files.example.org/x', 'x')).toThrow(UrlError);
  });

  it('never lets a segment change the path above the base (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (first, second) => {
        fc.pre(![first, second].some((segment) => segment === '' || segment === '.' || segment === '..'));
        const parsed = new URL(recordUrl(BASE, first, second));
        expect(parsed.origin).toBe('https://search.example.org');
        const rest = parsed.pathname.slice('/api/v1/documents/'.length);
        expect(parsed.pathname.startsWith('/api/v1/documents/')).toBe(true);
        expect(rest.split('/').map(decodeURIComponent)).toEqual([first, second]);
        expect(parsed.search).toBe('');
        expect(parsed.hash).toBe('');
      }),
    );
  });
});

describe('assertHttpUrl', () => {
  it('returns the parsed URL of an absolute http(s) URL', () => {
    expect(assertHttpUrl('http://localhost:8080/x', 'the endpoint').href).toBe('http://localhost:8080/x');
    expect(assertHttpUrl(new URL(BASE), 'the endpoint').hostname).toBe('search.example.org');
  });

  it('says what was expected and what was found, without user info or query', () => {
    expect(() => assertHttpUrl('/documents/1', 'the URL of url_factory')).toThrow(
      'Expected the URL of url_factory to be an absolute http(s) URL, got "/documents/1"',
    );
    expect(() => assertHttpUrl('javascript:alert(1)', 'the URL of url_factory')).toThrow(
      'Expected the URL of url_factory to be an absolute http(s) URL, got the scheme "javascript:"',
    );
    let message = '';
    try {
      assertHttpUrl('ftp://user:pw@files.example.org/x?token=abc', 'the endpoint');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe('Expected the endpoint to be an absolute http(s) URL, got the scheme "ftp:" in "ftp://files.example.org/x"');
    expect(() => assertHttpUrl(42, 'the URL of url_factory')).toThrow(
      'Expected the URL of url_factory to be an absolute http(s) URL string, got a number (42)',
    );
    expect(() => assertHttpUrl(undefined, 'the URL of url_factory')).toThrow(UrlError);
  });
});

describe('sameOrigin', () => {
  it('compares scheme, host and port, with default ports and host case normalized', () => {
    expect(sameOrigin(BASE, 'https://SEARCH.example.org:443/other')).toBe(true);
    expect(sameOrigin(BASE, 'http://search.example.org/api')).toBe(false);
    expect(sameOrigin(BASE, 'https://search.example.org:8443/api')).toBe(false);
    expect(sameOrigin(BASE, 'https://search.example.org.evil.net/api')).toBe(false);
    expect(sameOrigin(BASE, 'https://user@search.example.org/api')).toBe(true);
  });

  it('is false when either is not a URL', () => {
    expect(sameOrigin(BASE, '/api')).toBe(false);
    expect(sameOrigin('not a url', 'not a url')).toBe(false);
  });
});
