/**
 * Outcomes carry their request; its secret headers (`Authorization`, token-, key-, secret-,
 * session-, cookie-, signature-like names, by the one rule of `util/secretNames.ts`) are shown
 * as `[redacted]`, as the logs show them, so that an outcome logged or kept whole leaks none.
 * @internal
 * @packageDocumentation
 */
import type { DeliveryOutcome } from '../events/outcomes.js';
import type { RequestDescriptor } from '../events/request.js';
import { REDACTED } from '../util/redact.js';
import { isSecretName } from '../util/secretNames.js';

/** The outcome as it is, or a copy whose request's secret header values are redacted. @internal */
export function withoutSecretHeaders<R>(outcome: DeliveryOutcome<R>): DeliveryOutcome<R> {
  if (outcome.kind === 'skipped' || outcome.request === null) return outcome;
  const request = redactedRequest(outcome.request);
  return request === outcome.request ? outcome : ({ ...outcome, request } as DeliveryOutcome<R>);
}

function redactedRequest(request: RequestDescriptor): RequestDescriptor {
  let headers: Record<string, string> | undefined;
  for (const name in request.headers) {
    if (!isSecretName(name) || request.headers[name] === REDACTED) continue;
    headers ??= { ...request.headers };
    headers[name] = REDACTED;
  }
  return headers === undefined ? request : { ...request, headers };
}
