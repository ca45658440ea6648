/**
 * How stores write events, requests, responses and errors, and read them back.
 * @internal
 * @packageDocumentation
 */
import { deserialize, serialize } from 'node:v8';
import {
  CallbackError,
  ClosedError,
  ConfigError,
  HttpStatusError,
  NetworkError,
  OverflowError,
  OwnerError,
  PayloadError,
  ProvisionerError,
  RedirectError,
  TimeoutError,
  UrlError,
} from '../errors.js';
import type { ProvisionerResponse, RequestDescriptor } from '../events/request.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { REDACTED, redactText } from '../util/redact.js';
import { isSecretName } from '../util/secretNames.js';

/** The first byte of every stored event: the encoding, so that another one can be added later. */
const EVENT_FORMAT_V8 = 1;

/**
 * An event as bytes: the V8 serialization (what `structuredClone` keeps: Dates, Maps, BigInts...
 * of the hook's snapshot come back as they were), behind one format byte.
 * @internal
 */
export function encodeEvent<R>(event: ServiceEvent<R>): Buffer {
  const body = serialize(event);
  const bytes = Buffer.allocUnsafe(body.length + 1);
  bytes[0] = EVENT_FORMAT_V8;
  body.copy(bytes, 1);
  return bytes;
}

/** The event {@link encodeEvent} wrote. @internal */
export function decodeEvent<R = AppRecord>(bytes: Uint8Array): ServiceEvent<R> {
  if (bytes[0] !== EVENT_FORMAT_V8) {
    throw new ProvisionerError(`Expected a stored event in format ${EVENT_FORMAT_V8}, found format ${String(bytes[0])}`);
  }
  return deserialize(Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1)) as ServiceEvent<R>;
}

/** An event as text, as job data and stored outcomes hold it: {@link encodeEvent} in base64. @internal */
export function encodeEventText<R>(event: ServiceEvent<R>): string {
  return encodeEvent(event).toString('base64');
}

/** The event {@link encodeEventText} wrote. @internal */
export function decodeEventText<R = AppRecord>(text: string): ServiceEvent<R> {
  return decodeEvent<R>(Buffer.from(text, 'base64'));
}

/** A request as stored: JSON without its secret headers, and the names of those headers. @internal */
export type StoredRequest = { readonly json: string; readonly stripped: readonly string[] };

/**
 * Stores write requests without their secret headers (`Authorization`, token-, key-,
 * secret-, cookie-, signature-like names): they are added back from the current config when
 * the request is loaded (see `DeliveryHandlers.restoreSecrets`). A body that is exactly the
 * payload's JSON (as planning makes it) is left out and made again when the request is
 * loaded: stored, it would hold the payload twice, once escaped.
 * @internal
 */
export function encodeRequest(request: RequestDescriptor): StoredRequest {
  const headers: Record<string, string> = {};
  const stripped: string[] = [];
  for (const [name, value] of Object.entries(request.headers)) {
    if (isSecretName(name)) stripped.push(name);
    else headers[name] = value;
  }
  const payloadJson = typeof request.body === 'string' ? JSON.stringify(request.payload) : undefined;
  if (payloadJson !== undefined && request.body === payloadJson) {
    // The payload's JSON is at hand: appended as it is rather than serialized a second time.
    const { body: _madeAgain, payload: _appended, ...rest } = request;
    const json = JSON.stringify({ ...rest, headers });
    return { json: `${json.slice(0, -1)},"payload":${payloadJson}}`, stripped };
  }
  return { json: JSON.stringify({ ...request, headers }), stripped };
}

/** The request {@link encodeRequest} wrote, without its secret headers. @internal */
export function decodeRequest(json: string): RequestDescriptor {
  const stored = JSON.parse(json) as Omit<RequestDescriptor, 'body'> & { readonly body?: string | null };
  return stored.body === undefined ? { ...stored, body: JSON.stringify(stored.payload) } : (stored as RequestDescriptor);
}

/**
 * A request with its stripped secret headers added back by `restore` (the pipeline reads
 * them from the current config); without `restore`, or for a header it does not give, the
 * request goes without.
 * @internal
 */
export function restoreRequest(
  request: RequestDescriptor,
  stripped: readonly string[],
  restore: ((request: RequestDescriptor, names: readonly string[]) => Readonly<Record<string, string>>) | undefined,
): RequestDescriptor {
  if (stripped.length === 0 || restore === undefined) return request;
  return { ...request, headers: { ...request.headers, ...restore(request, stripped) } };
}

/** A response as stored: secret-looking header values redacted, the body as JSON. @internal */
export function encodeResponse(response: ProvisionerResponse): string {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) headers[name] = isSecretName(name) ? REDACTED : value;
  return JSON.stringify({ ...response, headers, body: jsonSafe(response.body) });
}

/** The response {@link encodeResponse} wrote. @internal */
export function decodeResponse(json: string): ProvisionerResponse {
  return JSON.parse(json) as ProvisionerResponse;
}

/** An error as stored: its class name and its message (URLs in it redacted). @internal */
export type StoredError = { readonly name: string; readonly message: string };

/** @internal */
export function encodeError(error: ProvisionerError): StoredError {
  return { name: error.name, message: redactText(error.message) };
}

type ErrorClass = new (message: string) => ProvisionerError;
const ERROR_CLASSES: Readonly<Record<string, ErrorClass>> = {
  NetworkError,
  TimeoutError,
  PayloadError,
  UrlError,
  OwnerError,
  OverflowError,
  ClosedError,
  CallbackError,
  ProvisionerError,
};

/**
 * The error {@link encodeError} wrote, as an instance of its class again (so `isHttpStatusError`
 * and friends work on dead letters); `HttpStatusError` and `RedirectError` get their response.
 * @internal
 */
export function decodeError(stored: StoredError, response: ProvisionerResponse | null): ProvisionerError {
  if (response !== null && stored.name === 'HttpStatusError') return new HttpStatusError(stored.message, response);
  if (response !== null && stored.name === 'RedirectError') return new RedirectError(stored.message, response);
  if (stored.name === 'ConfigError') return new ConfigError([stored.message]);
  const ErrorClass = ERROR_CLASSES[stored.name] ?? ProvisionerError;
  return new ErrorClass(stored.message);
}

/** A value JSON can hold: a body that was not JSON-parsed (a string) stays a string; anything else goes through JSON. */
function jsonSafe(value: unknown): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return String(value);
  }
}
