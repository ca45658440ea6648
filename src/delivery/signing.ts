import { createHmac } from 'node:crypto';
import { defer } from 'rxjs';
import { suggest } from '../config/suggest.js';
import { ConfigError } from '../errors.js';
import type { HttpEffect } from '../events/httpEffect.js';
import type { RequestDescriptor } from '../events/request.js';
import { describeKind } from '../util/describeValue.js';

/** The prefix of Standard Webhooks secrets. */
const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** The fewest random bytes a secret may hold: Standard Webhooks secrets are 24 to 64 bytes. */
const MIN_SECRET_BYTES = 24;
const SIGNING_HEADERS: ReadonlySet<string> = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature']);

/** A decoded signing key; the secret itself is never kept in a printable form. */
type SigningKey = Buffer;

/**
 * Signs a request the Standard Webhooks way: `webhook-id` (the delivery id),
 * `webhook-timestamp` (seconds) and `webhook-signature`, one `v1,<base64 HMAC-SHA256>` per
 * secret, space separated, over `${id}.${timestamp}.${body}` where body is the exact string sent
 * (empty when there is none). Several secrets let a receiver rotate keys: it accepts any of
 * them. Secrets are `whsec_<base64>` (the prefix is optional, as in the reference library).
 * Returns a new descriptor; earlier signing headers, in any case, are replaced.
 *
 * @example
 * ```ts
 * const signed = signRequest(request, ['whsec_new...', 'whsec_old...'], Math.floor(Date.now() / 1000));
 * signed.headers['webhook-signature']; // 'v1,K5oZ... v1,3Fqa...'
 * ```
 * @throws {@link ConfigError} when a secret is empty, not base64 or shorter than 24 bytes (never showing it).
 */
export function signRequest(request: RequestDescriptor, secrets: string | readonly string[], timestampSeconds: number): RequestDescriptor {
  return signWithKeys(request, decodeSecrets(secrets), timestampSeconds);
}

/**
 * Wraps an effect so that every attempt is signed afresh with {@link signRequest}: each
 * subscription (each retry) gets a new `webhook-timestamp`, the same `webhook-id`. Secrets are
 * checked and decoded once, here: an empty secret, one that is not base64 or one of fewer than
 * 24 bytes throws a `ConfigError` that never shows it, so `createProvisioner` refuses it at start.
 *
 * ```
 * request ──► withSigning(effect)(request) ──► effect(signRequest(request, secrets, now()))
 * ```
 *
 * @example
 * ```ts
 * const effect = withSigning(createKyEffect(), { secret: process.env.WEBHOOK_SECRET ?? '' });
 * sendWithRetry(effect, request).subscribe(console.log);
 * ```
 * @throws {@link ConfigError} when a secret is empty, not base64 or shorter than 24 bytes (never showing it).
 */
export function withSigning(
  effect: HttpEffect,
  signing: { readonly secret: string | readonly string[] },
  nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
): HttpEffect {
  const keys = decodeSecrets(signing.secret);
  return (request) => defer(() => effect(signWithKeys(request, keys, nowSeconds())));
}

function signWithKeys(request: RequestDescriptor, keys: readonly SigningKey[], timestampSeconds: number): RequestDescriptor {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError(`Expected the signing timestamp to be whole seconds since the epoch, got ${String(timestampSeconds)}`);
  }
  const id = request.deliveryId;
  const timestamp = String(timestampSeconds);
  const content = `${id}.${timestamp}.${request.body ?? ''}`;
  const signature = keys.map((key) => `v1,${createHmac('sha256', key).update(content, 'utf8').digest('base64')}`).join(' ');
  const headers: Record<string, string> = {};
  for (const name of Object.keys(request.headers)) {
    if (!SIGNING_HEADERS.has(name.toLowerCase())) {
      headers[name] = request.headers[name] as string;
    }
  }
  headers['webhook-id'] = id;
  headers['webhook-timestamp'] = timestamp;
  headers['webhook-signature'] = signature;
  return { ...request, headers };
}

/**
 * What is wrong with a `signing` option, as config issues (never showing a secret): not an
 * object `{ secret }`, an unknown key, or a secret that {@link withSigning} would refuse.
 *
 * @example
 * ```ts
 * signingIssues('whsec_…'); // ['signing: expected an object { secret }, got a string']
 * ```
 * @internal
 */
export function signingIssues(signing: unknown): string[] {
  if (typeof signing !== 'object' || signing === null || Array.isArray(signing)) {
    return [`signing: expected an object { secret }, got ${describeKind(signing)}`];
  }
  const issues = Object.keys(signing)
    .filter((key) => key !== 'secret')
    .map((key) => `signing.${key}: expected one of secret, got an unknown key${suggest(key, ['secret']) === undefined ? '' : ' (did you mean "secret"?)'}`);
  try {
    decodeSecrets((signing as { readonly secret?: unknown }).secret as string | readonly string[]);
  } catch (error) {
    issues.push(...(error instanceof ConfigError ? error.issues : [String(error)]));
  }
  return issues;
}

function decodeSecrets(secrets: string | readonly string[]): SigningKey[] {
  if (typeof secrets !== 'string' && !Array.isArray(secrets)) {
    throw new ConfigError([`signing.secret: expected a whsec_… secret or a non-empty list of them, got ${describeKind(secrets)}`]);
  }
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0) {
    throw new ConfigError(['signing.secret: expected a whsec_… secret or a non-empty list of them, got an empty list']);
  }
  return list.map((secret, index) => {
    const where = typeof secrets === 'string' ? 'signing.secret' : `signing.secret[${index}]`;
    if (typeof secret !== 'string') {
      throw new ConfigError([`${where}: expected a whsec_… secret string, got ${secret === null ? 'null' : typeof secret}`]);
    }
    const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
    if (encoded.trim().length === 0) {
      throw new ConfigError([`${where}: expected a whsec_ secret of at least ${MIN_SECRET_BYTES} random bytes (base64), got ${secret.trim().length === 0 ? 'an empty string' : 'the whsec_ prefix alone'}`]);
    }
    if (!BASE64.test(encoded)) {
      throw new ConfigError([`${where}: expected a whsec_ prefix followed by base64, got a value that is not base64 (not shown)`]);
    }
    const key = Buffer.from(encoded, 'base64');
    if (key.length < MIN_SECRET_BYTES) {
      // Only the length is told: the secret itself never appears in an error.
      throw new ConfigError([`${where}: expected a whsec_ secret of at least ${MIN_SECRET_BYTES} random bytes (base64), got one of ${key.length} ${key.length === 1 ? 'byte' : 'bytes'}`]);
    }
    return key;
  });
}
