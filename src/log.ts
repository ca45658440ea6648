/**
 * The former home of the logger and of redaction, kept while the files of the delivery
 * pipeline, the store and the command line that import it are being rewritten: new code
 * imports `src/util/log.ts`, `src/util/redact.ts` and `src/util/secretNames.ts` instead.
 * @internal
 * @packageDocumentation
 */
import { isSecretName } from './util/secretNames.js';

export { logger } from './util/log.js';
export { REDACTED, redact, redactHeaders, redactText, redactUrl } from './util/redact.js';

/**
 * Whether a key names a secret: {@link isSecretName}, the one rule of the config reporter,
 * the logs and the stores.
 *
 * @example
 * ```ts
 * isSecretKey('X-Access-Key'); // true
 * ```
 * @internal
 */
export function isSecretKey(key: string): boolean {
  return isSecretName(key);
}
