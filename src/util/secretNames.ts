/**
 * Which header, config and query-parameter names hold secrets: the one rule that the config
 * reporter (values never echoed), the logs (values redacted) and the stores (headers never
 * written) all follow.
 * @internal
 * @packageDocumentation
 */

/**
 * Name fragments that mark a secret: authorization schemes, tokens, secrets, passwords, keys,
 * cookies, sessions, credentials, signatures. Matched case-insensitively anywhere in the name,
 * so `X-Auth`, `X-Access-Key`, `X-Session`, `Private-Key`, `auth_token` and `signingSecret`
 * all match. `auth` does not match inside `author`, `authors`, `authored` or `authorship`
 * (record metadata is full of authors).
 */
const SECRET_FRAGMENT = /auth(?!or(?:s|ed|ship)?(?![a-z]))|token|secret|key|cookie|passw|credential|signature|session/i;

/**
 * Names that match a fragment but name no secret: `Idempotency-Key` is the delivery id, sent
 * in clear and stored so that a resumed delivery keeps it.
 */
const PUBLIC_NAMES: ReadonlySet<string> = new Set(['idempotency-key']);

/** Names already judged (headers are judged on every outcome), at most {@link MAX_REMEMBERED}. */
const verdicts = new Map<string, boolean>();
const MAX_REMEMBERED = 1_024;

/**
 * Whether a header, key or query parameter name says its value is a secret, case-insensitively.
 * Errors never echo such a value, logs redact it and stores do not write it.
 *
 * @example
 * ```ts
 * isSecretName('X-Access-Key');    // true
 * isSecretName('auth_token');      // true
 * isSecretName('author');          // false
 * isSecretName('Idempotency-Key'); // false
 * ```
 * @internal
 */
export function isSecretName(name: string): boolean {
  let secret = verdicts.get(name);
  if (secret === undefined) {
    secret = SECRET_FRAGMENT.test(name) && !PUBLIC_NAMES.has(name.toLowerCase());
    if (verdicts.size >= MAX_REMEMBERED) verdicts.clear();
    verdicts.set(name, secret);
  }
  return secret;
}
