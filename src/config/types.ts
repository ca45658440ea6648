import type { Observable } from 'rxjs';
import type { Owner } from '../events/identity.js';
import type { JsonObject } from '../events/json.js';
import type { MethodOf, RequiredArgumentOf, ServiceType } from '../events/methodTables.js';
import type { HttpMethod, ProvisionerResponse, RetryOptions } from '../events/request.js';
import type { AppRecord, MethodArgs, ServiceEvent } from '../events/serviceEvent.js';

/**
 * What payload functions, `http_method` functions and `url_factory` receive: the service
 * method's arguments, plus `owner` when `with_record_owner` is set.
 *
 * @example
 * ```ts
 * function toDocument({ record, owner }: PayloadArgs<'rdm_record', 'publish', Work>): JsonObject {
 *   return { id: record?.id ?? null, title: record?.metadata.title ?? '', owner: owner?.username ?? null };
 * }
 * ```
 */
export type PayloadArgs<S extends ServiceType, M extends MethodOf<S>, R = AppRecord> = Omit<MethodArgs<S, M, R>, 'uow'> & {
  readonly owner?: Owner;
};

/**
 * The keyword arguments of the seed's callback contract, plus what a write-back needs.
 *
 * @example
 * ```ts
 * async function storeRemoteId(response: ProvisionerResponse, meta: CallbackMeta<Work>): Promise<void> {
 *   const remoteId = (response.body as { _id?: string } | null)?._id;
 *   if (remoteId !== undefined && meta.record_id !== null) await records.setRemoteId(meta.record_id, remoteId);
 * }
 * ```
 */
export type CallbackMeta<R = AppRecord> = {
  readonly service_type: ServiceType;
  readonly service_method: string;
  readonly request_url: string;
  readonly payload: JsonObject | null;
  readonly record_id: string | null;
  readonly draft_id: string | null;
  readonly delivery_id: string;
  readonly endpoint: string;
  readonly attempts: number;
  readonly record: R | null;
  readonly draft: R | null;
  readonly data: JsonObject | null;
  readonly event: ServiceEvent<R>;
};

/**
 * What a callback may return: nothing, a value, a Promise or an Observable.
 *
 * @example
 * ```ts
 * callback: () => undefined                                  // nothing
 * callback: async (response, meta) => store(meta, response)  // a Promise: its value
 * callback: (response, meta) => from(store(meta, response))  // an Observable: its last value
 * ```
 */
export type CallbackResult = unknown | Promise<unknown> | Observable<unknown>;

/**
 * What to send to one endpoint when one service method runs. Keys are the seed's own
 * (`http_method`, `payload`, `with_record_owner`, `url_factory`, `callback`, `headers`,
 * `auth_token`, `timing_field`) plus this library's options (`include_restricted`,
 * `allowed_origins`, `retry`, `timeout_ms`).
 *
 * @example
 * ```ts
 * const publish: EventConfig<'rdm_record', 'publish', Work> = {
 *   http_method: 'POST',
 *   with_record_owner: true,
 *   payload: ({ record, owner }) => ({ id: record?.id ?? null, owner: owner?.username ?? null }),
 *   callback: storeRemoteId,
 *   retry: { limit: 8 },
 * };
 * ```
 */
export type EventConfig<S extends ServiceType = ServiceType, M extends MethodOf<S> = MethodOf<S>, R = AppRecord> = {
  /** The HTTP method, or a function of the method's arguments that returns it. */
  readonly http_method: HttpMethod | ((args: PayloadArgs<S, M, R>) => HttpMethod);
  /** The JSON body; `null` for none; or a (possibly async) function of the arguments returning it. */
  readonly payload:
    | JsonObject
    | null
    | ((args: PayloadArgs<S, M, R>) => JsonObject | null | Promise<JsonObject | null>);
  /** Pass the record owner to the payload function as `owner`. @default false */
  readonly with_record_owner?: boolean;
  /**
   * Builds the URL from the record and the arguments; without it the endpoint key is the URL.
   * The record is there whenever the method requires one ({@link REQUIRED_ARGUMENTS}).
   */
  readonly url_factory?: (record: 'record' extends RequiredArgumentOf<S, M> ? R : R | null | undefined, args: PayloadArgs<S, M, R>) => string;
  /** Runs after a 2xx response with the response and the seed's keyword arguments. */
  readonly callback?: (response: ProvisionerResponse, meta: CallbackMeta<R>) => CallbackResult;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as `Authorization: Bearer <auth_token>`; never logged. */
  readonly auth_token?: string;
  /** Send records that are not positively public (or whose visibility cannot be read) too. @default false */
  readonly include_restricted?: boolean;
  /**
   * The Python original's loop guard: skip (reason `feedback-loop`) when the record's
   * `custom_fields[timing_field]` (an ISO string or epoch ms/s) is less than 5 s old.
   * Accepted so that ported configs load; the async-context guard already skips a callback's
   * own write-backs, so it is redundant here.
   */
  readonly timing_field?: string;
  /** Origins a `url_factory` URL may have besides the endpoint's own; `true` allows any. */
  readonly allowed_origins?: true | readonly string[];
  /** Overrides of the global retry policy for this event. */
  readonly retry?: RetryOptions;
  /** Overrides the global per-attempt timeout for this event. */
  readonly timeout_ms?: number;
  /**
   * Coalescing (this library's extension): while several deliveries of this event config wait
   * in one (endpoint, record) lane and none has started, only the newest is sent; the older
   * ones end `skipped` with reason `superseded`, and their callbacks do not run. For receivers
   * that want a record's current state (a search index), not every step. Deliveries of
   * another method of the record are passed over only when that method's config sets it too.
   * @default false
   */
  readonly coalesce?: boolean;
};

/**
 * The methods configured for one endpoint of one service.
 *
 * @example
 * ```ts
 * const documents: EndpointConfig<'rdm_record', Work> = {
 *   publish: { http_method: 'POST', payload: toDocument },
 *   delete_record: { http_method: 'DELETE', payload: null, url_factory: (record) => recordUrl(DOCUMENTS, record.id) },
 * };
 * ```
 */
export type EndpointConfig<S extends ServiceType, R = AppRecord> = {
  readonly [M in MethodOf<S>]?: EventConfig<S, M, R>;
};

/**
 * Endpoint URL → its methods, for one service.
 *
 * @example
 * ```ts
 * const rdmRecord: ServiceConfig<'rdm_record', Work> = { [DOCUMENTS]: documents };
 * ```
 */
export type ServiceConfig<S extends ServiceType, R = AppRecord> = {
  readonly [endpoint: string]: EndpointConfig<S, R>;
};

/**
 * The whole config: the shape of the seed's `REMOTE_API_PROVISIONER_EVENTS`.
 *
 * @example
 * ```ts
 * const events: ProvisionerConfig<Work> = defineConfig<Work>({ rdm_record: { [DOCUMENTS]: documents } });
 * createProvisioner({ events });
 * ```
 */
export type ProvisionerConfig<R = AppRecord> = {
  readonly rdm_record?: ServiceConfig<'rdm_record', R>;
  readonly community?: ServiceConfig<'community', R>;
};

/**
 * The keys an event config may have, as data for the validator.
 *
 * @example
 * ```ts
 * EVENT_CONFIG_KEYS.includes('url_factory'); // true
 * ```
 */
export const EVENT_CONFIG_KEYS = [
  'http_method',
  'payload',
  'with_record_owner',
  'url_factory',
  'callback',
  'headers',
  'auth_token',
  'include_restricted',
  'timing_field',
  'allowed_origins',
  'retry',
  'timeout_ms',
  'coalesce',
] as const;
