/**
 * The request of a plan: method, URL, headers, the payload sent and its JSON text, the
 * delivery id.
 * @internal
 * @packageDocumentation
 */
import { PayloadError } from '../errors.js';
import type { JsonObject } from '../events/json.js';
import { HTTP_METHODS, type HttpMethod, type RequestDescriptor } from '../events/request.js';
import type { ServiceEvent } from '../events/serviceEvent.js';
import { describeFound, messageOf } from '../util/describeValue.js';
import { serializePayload } from './payload.js';
import { PlanFailure, isPlanFailure } from './planFailure.js';
import { requestUrl } from './requestUrl.js';
import type { PreparedTarget } from './target.js';

/**
 * The request for an event at a target, once the payload is known; or why there is none. The
 * delivery id is `<eventId>.<endpoint id>`, sent as `Idempotency-Key`; a JSON body gets
 * `Content-Type: application/json` unless the config's headers set one.
 *
 * @example
 * ```ts
 * buildRequest(event, target, args, { id: 'q1' }, 'record q1'); // a RequestDescriptor or a PlanFailure
 * ```
 * @internal
 */
export function buildRequest<R>(
  event: ServiceEvent<R>,
  target: PreparedTarget,
  args: Readonly<Record<string, unknown>>,
  payload: JsonObject | null,
  subject: string,
): RequestDescriptor | PlanFailure {
  const { endpoint, eventConfig, path } = target;

  const sent = payload === null ? null : serializePayload(payload, path, subject);
  if (isPlanFailure(sent)) return sent;

  let method: unknown;
  try {
    method = typeof eventConfig.http_method === 'function' ? (eventConfig.http_method as (args: Readonly<Record<string, unknown>>) => unknown)(args) : eventConfig.http_method;
  } catch (error) {
    return new PlanFailure('payload', new PayloadError(`The http_method function of ${path} threw for ${subject}: ${messageOf(error)}`, { cause: error }));
  }
  if (!isHttpMethod(method)) {
    return new PlanFailure('payload', new PayloadError(`Expected the http_method of ${path} to be one of ${HTTP_METHODS.join(', ')} for ${subject}, got ${describeFound(method)}`));
  }

  const url = requestUrl(target, args, subject);
  if (isPlanFailure(url)) return url;

  const deliveryId = `${event.eventId}.${target.endpointId}`;
  const headers: Record<string, string> = {};
  const { headerNames, headerValues } = target;
  for (let index = 0; index < headerNames.length; index += 1) {
    headers[headerNames[index] as string] = headerValues[index] as string;
  }
  if (sent !== null && !target.hasContentType) headers['Content-Type'] = 'application/json';
  headers['Idempotency-Key'] = deliveryId;

  const request: { -readonly [K in keyof RequestDescriptor]: RequestDescriptor[K] } = {
    deliveryId,
    eventId: event.eventId,
    serviceType: event.serviceType,
    serviceMethod: event.method,
    endpoint,
    url,
    method,
    headers,
    payload: sent?.payload ?? null,
    body: sent?.body ?? null,
    recordId: event.recordId,
    draftId: event.draftId,
  };
  if (eventConfig.retry !== undefined) request.retry = eventConfig.retry;
  if (eventConfig.timeout_ms !== undefined) request.timeoutMs = eventConfig.timeout_ms;
  return request;
}

function isHttpMethod(value: unknown): value is HttpMethod {
  return typeof value === 'string' && (HTTP_METHODS as readonly string[]).includes(value);
}
