/**
 * Redaction of secrets in anything that may be logged, stored or shown in an error: header
 * maps, configs, URLs and free text.
 * @internal
 * @packageDocumentation
 */
import { isSecretName } from './secretNames.js';

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/** How deep {@link redact} walks before it stops copying (logs do not need more). */
const MAX_DEPTH = 8;

/**
 * A copy of a header map in which every secret-looking header value is `"[redacted]"`.
 *
 * @example
 * ```ts
 * redactHeaders({ Authorization: 'Bearer abc', 'Content-Type': 'application/json' });
 * // { Authorization: '[redacted]', 'Content-Type': 'application/json' }
 * ```
 * @internal
 */
export function redactHeaders(
  headers: Readonly<Record<string, string | readonly string[] | undefined>> | null | undefined,
): Record<string, string | readonly string[] | undefined> {
  const copy: Record<string, string | readonly string[] | undefined> = {};
  if (headers === null || headers === undefined) {
    return copy;
  }
  for (const [key, value] of Object.entries(headers)) {
    copy[key] = isSecretName(key) ? REDACTED : value;
  }
  return copy;
}

/**
 * A copy of any value, safe to log: values under secret-looking keys (at any depth) become
 * `"[redacted]"`, credentials and secret-looking query parameters inside URL strings are
 * redacted, functions are shown as `[function name]`, cycles as `[circular]`. Never throws.
 *
 * @example
 * ```ts
 * redact({ endpoint: 'https://x.org/api', auth_token: 's3cret', headers: { 'X-Api-Key': 'k' } });
 * // { endpoint: 'https://x.org/api', auth_token: '[redacted]', headers: { 'X-Api-Key': '[redacted]' } }
 * ```
 * @internal
 */
export function redact(value: unknown): unknown {
  return redactValue(value, 0, new WeakSet());
}

/**
 * A URL with its user info and secret-looking query parameters redacted. Strings that are not
 * absolute URLs are returned as they are.
 *
 * @example
 * ```ts
 * redactUrl('https://user:pw@x.org/a?token=abc&page=2');
 * // 'https://%5Bredacted%5D:%5Bredacted%5D@x.org/a?token=%5Bredacted%5D&page=2'
 * ```
 * @internal
 */
export function redactUrl(url: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    return url;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  let changed = false;
  if (parsed.username !== '' || parsed.password !== '') {
    if (parsed.username !== '') parsed.username = REDACTED;
    if (parsed.password !== '') parsed.password = REDACTED;
    changed = true;
  }
  for (const key of [...parsed.searchParams.keys()]) {
    if (isSecretName(key)) {
      parsed.searchParams.set(key, REDACTED);
      changed = true;
    }
  }
  return changed ? parsed.toString() : url;
}

/**
 * A URL-like string with its user info replaced by `[redacted]`, so that endpoint keys and
 * origins can be shown without the password some URLs carry.
 *
 * @example
 * ```ts
 * withoutCredentials('https://user:pw@x.org/a'); // 'https://[redacted]@x.org/a'
 * ```
 * @internal
 */
export function withoutCredentials(text: string): string {
  const userInfo = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)@/.exec(text);
  return userInfo === null ? text : `${userInfo[1] ?? ''}${REDACTED}@${text.slice(userInfo[0].length)}`;
}

/** URLs inside free text (error messages, log lines). */
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/**
 * A text with every URL inside it passed through {@link redactUrl}: for error messages and
 * other free text that may quote a request URL.
 *
 * @example
 * ```ts
 * redactText('GET https://x.org/a?token=abc failed'); // 'GET https://x.org/a?token=%5Bredacted%5D failed'
 * ```
 * @internal
 */
export function redactText(text: string): string {
  return text.includes('://') ? text.replace(URL_IN_TEXT, (url) => redactUrl(url)) : text;
}

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') {
    return redactText(value);
  }
  if (typeof value === 'function') {
    return `[function ${value.name || 'anonymous'}]`;
  }
  if (typeof value !== 'object' || value === null) {
    return value;
  }
  if (seen.has(value)) {
    return '[circular]';
  }
  if (depth >= MAX_DEPTH) {
    return '[…]';
  }
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      return value.map((item: unknown) => redactValue(item, depth + 1, seen));
    }
    if (value instanceof Error) {
      return { name: value.name, message: redactText(value.message) };
    }
    if (value instanceof Map) {
      return new Map(
        [...value.entries()].map(([key, item]: [unknown, unknown]) => [
          key,
          typeof key === 'string' && isSecretName(key) ? REDACTED : redactValue(item, depth + 1, seen),
        ]),
      );
    }
    if (typeof Headers !== 'undefined' && value instanceof Headers) {
      return redactHeaders(Object.fromEntries(value.entries()));
    }
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = readProperty(value, key);
      // A URL key (an endpoint of the config) is data, not a name: redact inside it instead.
      if (key.includes('://')) {
        copy[redactText(key)] = redactValue(item, depth + 1, seen);
      } else {
        copy[key] = isSecretName(key) ? REDACTED : redactValue(item, depth + 1, seen);
      }
    }
    return copy;
  } catch {
    return '[unreadable]';
  } finally {
    seen.delete(value);
  }
}

function readProperty(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return '[unreadable]';
  }
}
