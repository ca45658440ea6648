/**
 * The library's `debug` loggers.
 * @internal
 * @packageDocumentation
 */
import createDebug from 'debug';

/** The prefix of every `debug` namespace the library logs under. */
const NAMESPACE = 'remote-api-provisioner';

/**
 * The `debug` logger of one area of the library, namespace `remote-api-provisioner:<area>`.
 * Enable with `DEBUG=remote-api-provisioner:*`. Pass headers, configs and URLs through
 * `redact`, `redactHeaders` or `redactUrl` (`src/util/redact.ts`) before logging them.
 *
 * @example
 * ```ts
 * const log = logger('hooks');
 * log('event %s for %s.%s', event.eventId, event.serviceType, event.method);
 * ```
 * @internal
 */
export function logger(area: string): createDebug.Debugger {
  return createDebug(`${NAMESPACE}:${area}`);
}
