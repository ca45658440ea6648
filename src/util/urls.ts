import { UrlError } from '../errors.js';
import { describeFound } from './describeValue.js';

/** What a missing id turns into when it is made a string: never a record's id. */
const MISSING_ID_TEXTS: ReadonlySet<string> = new Set(['undefined', 'null']);

/**
 * Builds a URL from a base and record fields, each field one encoded path segment: a record id
 * containing `/`, `?`, `#`, spaces or unicode stays one segment and cannot change the path.
 * The base's query is kept. A segment that is `undefined`, `null`, `"undefined"` or `"null"`
 * (a missing id, e.g. `String(record.id)` of a record without one), empty, `.` or `..` is
 * refused with a {@link UrlError}, so no request goes to `/undefined`; dot segments because URL
 * parsers treat `..` as "go up" whether it is written `..` or `%2E%2E` (both are dot segments
 * to the WHATWG URL parser and to RFC 3986), so no encoding of it keeps the path.
 *
 * @example
 * ```ts
 * recordUrl('https://search.example.org/api/documents', record.id);
 * // 'https://search.example.org/api/documents/abc%2F..%3Fx'   for the id 'abc/..?x'
 * recordUrl('https://search.example.org/api/', 'communities', 42, 'members');
 * // 'https://search.example.org/api/communities/42/members'
 * recordUrl('https://search.example.org/api/documents', undefined);
 * // throws UrlError: Expected path segment 1 of recordUrl to be an id, got undefined (a missing id?)
 * ```
 * @throws {@link UrlError} when the base is not an absolute http(s) URL or a segment is missing, empty, `.` or `..`.
 */
export function recordUrl(base: string, ...segments: readonly (string | number | null | undefined)[]): string {
  const url = assertHttpUrl(base, 'the base URL of recordUrl');
  const encoded = segments.map((segment, index) => {
    if (segment === undefined || segment === null || MISSING_ID_TEXTS.has(String(segment))) {
      throw new UrlError(
        `Expected path segment ${index + 1} of recordUrl to be an id, got ${typeof segment === 'string' ? JSON.stringify(segment) : String(segment)} (a missing id?)`,
      );
    }
    const text = String(segment);
    if (text === '' || text === '.' || text === '..') {
      throw new UrlError(
        `Expected path segment ${index + 1} of recordUrl to be a non-empty value other than "." and "..", got ${JSON.stringify(text)}`,
      );
    }
    return encodeURIComponent(text);
  });
  const path = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
  url.pathname = path + encoded.join('/');
  return url.href;
}

/**
 * Parses `url` and checks that it is an absolute `http:` or `https:` URL; otherwise throws a
 * {@link UrlError} naming `context`. The message never shows user info, query or fragment
 * (they may hold tokens).
 *
 * @example
 * ```ts
 * const url = assertHttpUrl(config.url_factory(record, args), 'the URL of url_factory');
 * assertHttpUrl('/documents/1', 'the URL of url_factory');
 * // UrlError: Expected the URL of url_factory to be an absolute http(s) URL, got "/documents/1"
 * ```
 */
export function assertHttpUrl(url: unknown, context = 'the URL'): URL {
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw new UrlError(`Expected ${context} to be an absolute http(s) URL string, got ${describeFound(url)}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UrlError(`Expected ${context} to be an absolute http(s) URL, got "${describeUrl(String(url))}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UrlError(`Expected ${context} to be an absolute http(s) URL, got the scheme "${parsed.protocol}" in "${describeUrl(parsed.href)}"`);
  }
  return parsed;
}

/**
 * Whether two URLs have the same origin (scheme, host and port, default ports included).
 * `false` when either is not a URL.
 *
 * @example
 * ```ts
 * sameOrigin('https://x.org/api', 'https://X.org:443/api/docs/1'); // true
 * sameOrigin('https://x.org/api', 'https://x.org.evil.net/api');   // false
 * ```
 */
export function sameOrigin(a: string | URL, b: string | URL): boolean {
  try {
    const first = typeof a === 'string' ? new URL(a) : a;
    const second = typeof b === 'string' ? new URL(b) : b;
    return first.origin !== 'null' && first.origin === second.origin;
  } catch {
    return false;
  }
}

/**
 * A URL fit for messages and logs: scheme, host and path only (no user info, query or
 * fragment, which may hold tokens). Strings that are not URLs are cut to 80 characters.
 *
 * @example
 * ```ts
 * describeUrl('https://user:pw@x.org/a?token=abc'); // 'https://x.org/a'
 * ```
 * @internal
 */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return url.length > 80 ? `${url.slice(0, 80)}…` : url;
  }
}
