import { isLeft, left, right, type Either } from 'fp-ts/lib/Either.js';
import { ConfigError } from '../errors.js';
import { logger } from '../util/log.js';
import type { AppRecord } from '../events/serviceEvent.js';
import { ProvisionerConfigCodec } from './codecs.js';
import { ROOT_PATH, problem, reportIssues } from './reporter.js';
import type { ProvisionerConfig } from './types.js';

const log = logger('config');

/**
 * Validates a config (the shape of the seed's `REMOTE_API_PROVISIONER_EVENTS`) and returns
 * either a {@link ConfigError} listing every problem at once, or the config itself.
 *
 * On success the result is the input object itself, not a copy: payload functions,
 * callbacks and URL factories are kept as they are, and the app's record type `R` (which
 * cannot be checked at run time) is the caller's to state. Treat the config as immutable
 * once validated. Never throws: a config whose getters or proxies throw is rejected with an
 * issue at `(root)`.
 *
 * Each issue reads `path: expected X, got Y`, with an optional hint:
 * `rdm_record["https://x.org/a"].publish.http_method: expected one of GET, POST, PUT, PATCH, DELETE, got "PUTT" (did you mean "PUT"?)`.
 *
 * @example
 * ```ts
 * import { isLeft } from 'fp-ts/lib/Either.js';
 * const result = decodeConfig({ community: { 'https://x.org/api': { delete_record: { http_method: 'DELETE', payload: null } } } });
 * if (isLeft(result)) console.error(result.left.issues);
 * // ['community["https://x.org/api"].delete_record: expected a community method, got an rdm_record method (did you mean `delete_community`?)']
 * ```
 */
export function decodeConfig<R = AppRecord>(input: unknown): Either<ConfigError, ProvisionerConfig<R>> {
  let issues: string[];
  try {
    const result = ProvisionerConfigCodec.decode(input);
    if (!isLeft(result)) {
      log('config accepted');
      return right(result.right as ProvisionerConfig<R>);
    }
    issues = reportIssues(result.left);
  } catch (error) {
    // Only the error's name: its message may quote whatever the getter held.
    const name = error instanceof Error ? error.name : typeof error;
    issues = [`${ROOT_PATH}: ${problem('a config whose properties can be read', `an object that threw ${name} while being read`)}`];
  }
  log('config rejected with %d issue(s)', issues.length);
  return left(new ConfigError(issues));
}

/**
 * Validates a config and returns it (the same object), or throws a {@link ConfigError}
 * whose `issues` list every problem as `path: expected X, got Y`.
 *
 * @example
 * ```ts
 * try {
 *   parseConfig({ rdm_records: {} });
 * } catch (error) {
 *   if (isConfigError(error)) console.error(error.issues);
 *   // ['rdm_records: expected a service type (rdm_record or community), got an unknown key (did you mean `rdm_record`?)']
 * }
 * ```
 * @throws {@link ConfigError} listing every problem, when the config is invalid.
 */
export function parseConfig<R = AppRecord>(input: unknown): ProvisionerConfig<R> {
  const result = decodeConfig<R>(input);
  if (isLeft(result)) {
    throw result.left;
  }
  return result.right;
}
