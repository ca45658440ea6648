import type { JsonObject } from './json.js';
import type { ServiceType } from './methodTables.js';

/**
 * The HTTP methods a config may use.
 *
 * @example
 * ```ts
 * HTTP_METHODS.includes(method as HttpMethod); // whether a string read from a file is usable as http_method
 * ```
 */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
/**
 * One of {@link HTTP_METHODS}.
 *
 * @example
 * ```ts
 * const methodFor = (record: Work | null | undefined): HttpMethod => (record?.custom_fields.remote_id === undefined ? 'POST' : 'PUT');
 * ```
 */
export type HttpMethod = (typeof HTTP_METHODS)[number];

/**
 * Retry policy options, the same names globally (`http.retry`) and per event config (`retry`).
 *
 * @example
 * ```ts
 * createProvisioner({ events, http: { retry: { limit: 8, baseDelayMs: 500, maxDelayMs: 60_000 } } });
 * // per event config: publish: { http_method: 'POST', payload, retry: { limit: 0 } }
 * ```
 */
export type RetryOptions = {
  /** Retries after the first attempt; a request is tried at most `limit + 1` times. @default 5 */
  readonly limit?: number;
  /** Base of the exponential backoff. @default 1000 */
  readonly baseDelayMs?: number;
  /** Cap of one backoff delay. @default 30000 */
  readonly maxDelayMs?: number;
  /** Longest `Retry-After` honoured; a longer one waits this long. @default 60000 */
  readonly maxRetryAfterMs?: number;
};

/**
 * One HTTP message to send: everything needed to send it again, serializable. The delivery
 * id stays the same across retries and is sent as `Idempotency-Key` (and `webhook-id`).
 *
 * @example
 * ```ts
 * provisioner.outcomes$.subscribe((outcome) => {
 *   if (outcome.kind === 'delivered') {
 *     const { deliveryId, method, url, recordId } = outcome.request; // deliveryId is the Idempotency-Key sent
 *     audit.write({ deliveryId, method, url, recordId, status: outcome.response.status });
 *   }
 * });
 * ```
 */
export type RequestDescriptor = {
  readonly deliveryId: string;
  readonly eventId: string;
  readonly serviceType: ServiceType;
  readonly serviceMethod: string;
  /** The endpoint key of the config. */
  readonly endpoint: string;
  readonly url: string;
  readonly method: HttpMethod;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: JsonObject | null;
  /** `payload` serialized once: the exact bytes sent and signed. */
  readonly body: string | null;
  readonly recordId: string | null;
  readonly draftId: string | null;
  /** Per event config overrides of the global HTTP options. */
  readonly retry?: RetryOptions;
  readonly timeoutMs?: number;
};

/**
 * What an {@link HttpEffect} answers: any status, the body read once (JSON or text).
 *
 * @example
 * ```ts
 * callback: (response: ProvisionerResponse, meta) => {
 *   if (response.status === 201) return storeRemoteId(meta.record_id, (response.body as { _id: string })._id);
 * }
 * ```
 */
export type ProvisionerResponse = {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  readonly url: string;
  /** Set when the body was longer than `maxResponseBytes` and was cut. */
  readonly bodyTruncated?: boolean;
};
