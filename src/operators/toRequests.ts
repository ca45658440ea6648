import {
  Observable,
  Subscription,
  asyncScheduler,
  catchError,
  from,
  isObservable,
  map,
  mergeMap,
  of,
  shareReplay,
  throwError,
  timeout,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs';
import { endpointsFor } from '../config/configIndex.js';
import type { EventConfig, ProvisionerConfig } from '../config/types.js';
import { deliveryKey } from '../delivery/deliveryKey.js';
import { assertHttpUrl, sameOrigin } from '../delivery/urls.js';
import { OwnerError, PayloadError, ProvisionerError, UrlError } from '../errors.js';
import { SYSTEM_OWNER, isSystemIdentity, type Identity, type Owner } from '../events/identity.js';
import type { JsonObject } from '../events/json.js';
import type { FailedOutcome, FailureReason, RequestPlan, SkippedOutcome } from '../events/outcomes.js';
import { HTTP_METHODS, type HttpMethod, type RequestDescriptor } from '../events/request.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { logger, redactUrl } from '../log.js';
import { endpointIdOf } from '../store/deliveryId.js';

const log = logger('requests');

/**
 * What `resolveOwner` receives: who ran the method, on which record, in which event.
 *
 * @example
 * ```ts
 * const resolveOwner = ({ record }: ResolveOwnerInput) => users.ownerOf(String(record?.id));
 * ```
 */
export type ResolveOwnerInput<R = AppRecord> = {
  readonly identity: Identity;
  readonly record: R | null;
  readonly event: ServiceEvent<R>;
};

/**
 * The app's lookup of a record's owner, for event configs with `with_record_owner`. It may
 * be async; the system identity never reaches it (its events get {@link SYSTEM_OWNER}).
 *
 * @example
 * ```ts
 * const resolveOwner: ResolveOwner = async ({ record }) => {
 *   const user = await users.find(String(record?.parent?.access?.owned_by?.user));
 *   return { id: user.id, email: user.email, username: user.username };
 * };
 * ```
 */
export type ResolveOwner<R = AppRecord> = (input: ResolveOwnerInput<R>) => Owner | Promise<Owner>;

/**
 * Options of {@link toRequests}.
 *
 * @example
 * ```ts
 * events$.pipe(toRequests(config, { resolveOwner, ownerTimeoutMs: 5_000, payloadTimeoutMs: 10_000 }));
 * ```
 */
export type ToRequestsOptions<R = AppRecord> = {
  /** Looks up the record owner for `with_record_owner`; the system identity gets {@link SYSTEM_OWNER} without it. */
  readonly resolveOwner?: ResolveOwner<R>;
  /** How long `resolveOwner` may take before the plan fails with reason `owner`. @default 10000 */
  readonly ownerTimeoutMs?: number;
  /** How long an async payload function may take before the plan fails with reason `payload`. @default 30000 */
  readonly payloadTimeoutMs?: number;
  /** Scheduler of those timeouts (virtual time in marble tests). @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
};

/**
 * Default of {@link ToRequestsOptions.ownerTimeoutMs}.
 *
 * @example
 * ```ts
 * toRequests(config, { resolveOwner, ownerTimeoutMs: DEFAULT_OWNER_TIMEOUT_MS / 2 });
 * ```
 */
export const DEFAULT_OWNER_TIMEOUT_MS = 10_000;
/**
 * Default of {@link ToRequestsOptions.payloadTimeoutMs}.
 *
 * @example
 * ```ts
 * toRequests(config, { payloadTimeoutMs: 2 * DEFAULT_PAYLOAD_TIMEOUT_MS });
 * ```
 */
export const DEFAULT_PAYLOAD_TIMEOUT_MS = 30_000;

type Target = { readonly endpoint: string; readonly eventConfig: EventConfig };
type LooseArgs = Readonly<Record<string, unknown>>;
/** Why a plan could not be built; a class so that it is never mistaken for a payload. */
class BuildFailure {
  constructor(
    readonly reason: FailureReason,
    readonly error: ProvisionerError,
  ) {}
}

/**
 * Plans the HTTP messages of each service event: one {@link RequestPlan} per endpoint whose
 * config has the event's method, in config order. A plan is a request ready to send (URL,
 * method, headers, the payload serialized once into `body`, a delivery id stable for the
 * event and endpoint, sent as `Idempotency-Key`), or the outcome already reached:
 * `skipped` for a record whose access is not public (unless `include_restricted`) or for an
 * event that this endpoint's own callback caused (`feedback-loop`; other endpoints still get
 * it), `failed` when the owner, the payload or the URL cannot be had. Nothing is thrown.
 * Plans of the same endpoint and record come out in event order, even when payload
 * functions are async; plans of other records do not wait for them.
 *
 * ```
 * events:  -p----d---|        p: publish of record A, d: delete_record of record A
 * plans:   -P----D---|        P: POST to the endpoint, D: DELETE to url_factory(record)
 * ```
 *
 * @example
 * ```ts
 * const plans$ = provisioner.events$.pipe(
 *   ofService('rdm_record'),
 *   toRequests(config, { resolveOwner: ({ record }) => users.ownerOf(record) }),
 * );
 * ```
 */
export function toRequests<R = AppRecord>(
  config: ProvisionerConfig<R>,
  options: ToRequestsOptions<R> = {},
): OperatorFunction<ServiceEvent<R>, RequestPlan<R>> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const ownerTimeoutMs = options.ownerTimeoutMs ?? DEFAULT_OWNER_TIMEOUT_MS;
  const payloadTimeoutMs = options.payloadTimeoutMs ?? DEFAULT_PAYLOAD_TIMEOUT_MS;
  const resolveOwner = (event: ServiceEvent<R>): Eventually<Owner | BuildFailure> => {
    const args = event.args as LooseArgs;
    const identity = args['identity'] as Identity;
    const record = (args['record'] ?? args['draft'] ?? null) as R | null;
    const subject = describeSubject(event);
    if (isSystemIdentity(identity)) return SYSTEM_OWNER;
    const resolver = options.resolveOwner;
    if (resolver === undefined) {
      return failure('owner', new OwnerError(`Expected a \`resolveOwner\` option to find the owner of ${subject} (with_record_owner), found none`));
    }
    const checkOwner = (owner: unknown): Owner | BuildFailure =>
      isOwner(owner)
        ? owner
        : failure('owner', new OwnerError(`Expected \`resolveOwner\` to return an owner object with an \`id\` for ${subject}, got ${describeValue(owner)}`));
    const ownerFailure = (error: unknown): BuildFailure =>
      failure('owner', error instanceof OwnerError ? error : new OwnerError(`\`resolveOwner\` failed for ${subject}: ${messageOf(error)}`, { cause: error }));
    let owner: unknown;
    try {
      owner = resolver({ identity, record, event });
    } catch (error) {
      return ownerFailure(error);
    }
    if (!isPromiseLike(owner)) return checkOwner(owner);
    return from(owner).pipe(
      timeout({
        first: ownerTimeoutMs,
        scheduler,
        with: () => throwError(() => new OwnerError(`Expected \`resolveOwner\` to settle within ${ownerTimeoutMs} ms for ${subject}, it did not`)),
      }),
      map(checkOwner),
      catchError((error: unknown) => of(ownerFailure(error))),
      // Several endpoints of one event wait for the same owner: ask once.
      shareReplay({ bufferSize: 1, refCount: false }),
    );
  };

  const planFor = (event: ServiceEvent<R>, target: PreparedTarget, ownerOf: () => Eventually<Owner | BuildFailure>): Eventually<RequestPlan<R>> => {
    const { endpoint, eventConfig, path } = target;
    const subject = describeSubject(event);

    const snapshotError = (event as { readonly snapshotError?: string }).snapshotError;
    if (snapshotError !== undefined) {
      return failedPlan(event, endpoint, failure('payload', new PayloadError(`Expected the arguments of the hook call to be copyable for ${path} and ${subject}, but copying failed: ${snapshotError}`)), scheduler.now());
    }
    if (event.causedBy !== null && event.causedBy.endpoint === endpoint) {
      log('skip %s for %s: caused by its own callback (delivery %s)', path, subject, event.causedBy.deliveryId);
      return skippedPlan(event, endpoint, 'feedback-loop', scheduler.now());
    }
    if (eventConfig.include_restricted !== true && isRestricted(event)) {
      log('skip %s for %s: access is not public', path, subject);
      return skippedPlan(event, endpoint, 'restricted', scheduler.now());
    }

    const args = event.args as LooseArgs;
    if (eventConfig.with_record_owner !== true) {
      // The usual case, without closures: everything is at hand unless the payload function is async.
      const payload = buildPayload(eventConfig, args, path, subject, payloadTimeoutMs, scheduler);
      if (!isObservable(payload)) return planOf(event, target, args, payload, subject);
      return payload.pipe(
        map((resolved) => planOf(event, target, args, resolved, subject)),
        catchError((error: unknown) => of(failedPlan(event, endpoint, planningFailure(path, subject, error), scheduler.now()))),
      );
    }
    const callArgs = then(ownerOf(), (owner): LooseArgs | BuildFailure =>
      isFailure(owner)
        ? failure('owner', new OwnerError(`The owner for ${path} could not be had: ${owner.error.message}`, { cause: owner.error }))
        : { ...args, owner },
    );
    const plan = then(callArgs, (argsToUse): Eventually<RequestPlan<R>> => {
      if (isFailure(argsToUse)) return failedPlan(event, endpoint, argsToUse, scheduler.now());
      return then(buildPayload(eventConfig, argsToUse, path, subject, payloadTimeoutMs, scheduler), (payload) => planOf(event, target, argsToUse, payload, subject));
    });
    return isObservable(plan)
      ? plan.pipe(catchError((error: unknown) => of(failedPlan(event, endpoint, planningFailure(path, subject, error), scheduler.now()))))
      : plan;
  };

  /** The plan once the payload is known: the request, or why there is none. */
  const planOf = (event: ServiceEvent<R>, target: PreparedTarget, args: LooseArgs, payload: JsonObject | null | BuildFailure, subject: string): RequestPlan<R> => {
    const request = isFailure(payload) ? payload : buildRequest(event, target, args, payload, subject);
    return isFailure(request)
      ? failedPlan(event, target.endpoint, request, scheduler.now())
      : { kind: 'request', event, request, acceptedAt: event.emittedAt };
  };

  return (source) =>
    new Observable<RequestPlan<R>>((subscriber) => {
      // One FIFO of slots per delivery key: a plan is emitted once every plan before it for
      // the same endpoint and record has been.
      const slots = new Map<string, { plan: RequestPlan<R> | undefined }[]>();
      const builds = new Subscription();
      let building = 0;
      let sourceDone = false;

      const flush = (key: string): void => {
        const lane = slots.get(key);
        if (lane === undefined) return;
        while (lane.length > 0 && lane[0]?.plan !== undefined) {
          const slot = lane.shift();
          if (slot?.plan !== undefined) subscriber.next(slot.plan);
        }
        if (lane.length === 0) slots.delete(key);
      };
      const completeWhenDone = (): void => {
        if (sourceDone && building === 0) subscriber.complete();
      };

      const sourceSubscription = source.subscribe({
        next: (event) => {
          const bindings = endpointsFor(config, event.serviceType, event.method) as readonly Target[];
          if (bindings.length === 0) return;
          let owner: Eventually<Owner | BuildFailure> | undefined;
          const ownerOf = (): Eventually<Owner | BuildFailure> => (owner ??= resolveOwner(event));
          for (const binding of bindings) {
            const key = deliveryKey({ endpoint: binding.endpoint, recordId: event.recordId, draftId: event.draftId, eventId: event.eventId });
            let plan: Eventually<RequestPlan<R>>;
            try {
              plan = planFor(event, prepare(binding, event.serviceType, event.method), ownerOf);
            } catch (error) {
              const path = configPath(event.serviceType, binding.endpoint, event.method);
              plan = failedPlan(event, binding.endpoint, planningFailure(path, describeSubject(event), error), scheduler.now());
            }
            const lane = slots.get(key);
            // Plans built synchronously (the usual case) go straight out, unless an earlier
            // plan of the same key is still being built.
            if (!isObservable(plan) && lane === undefined) {
              subscriber.next(plan);
              continue;
            }
            const slot: { plan: RequestPlan<R> | undefined } = { plan: isObservable(plan) ? undefined : plan };
            if (lane === undefined) slots.set(key, [slot]);
            else lane.push(slot);
            if (!isObservable(plan)) continue;
            building += 1;
            builds.add(
              plan.subscribe({
                next: (value) => {
                  slot.plan = value;
                },
                error: (error: unknown) => subscriber.error(error),
                complete: () => {
                  building -= 1;
                  const path = configPath(event.serviceType, binding.endpoint, event.method);
                  slot.plan ??= failedPlan(event, binding.endpoint, planningFailure(path, describeSubject(event), 'no plan'), scheduler.now());
                  flush(key);
                  completeWhenDone();
                },
              }),
            );
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          completeWhenDone();
        },
      });

      return () => {
        sourceSubscription.unsubscribe();
        builds.unsubscribe();
      };
    });
}

function buildPayload(
  eventConfig: EventConfig,
  args: LooseArgs,
  path: string,
  subject: string,
  timeoutMs: number,
  scheduler: SchedulerLike,
): Eventually<JsonObject | null | BuildFailure> {
  const payload: unknown = eventConfig.payload;
  if (typeof payload !== 'function') return checkPayload(payload, `The payload of ${path}`, subject);
  const where = `The payload function of ${path}`;
  const thrown = (error: unknown): BuildFailure =>
    failure('payload', error instanceof PayloadError ? error : new PayloadError(`${where} threw for ${subject}: ${messageOf(error)}`, { cause: error }));
  let result: unknown;
  try {
    result = (payload as (args: LooseArgs) => unknown)(args);
  } catch (error) {
    return thrown(error);
  }
  if (isPromiseLike(result)) {
    return from(result).pipe(
      timeout({
        first: timeoutMs,
        scheduler,
        with: () => throwError(() => new PayloadError(`Expected ${lower(where)} to settle within ${timeoutMs} ms for ${subject}, it did not`)),
      }),
      map((value) => checkPayload(value, where, subject)),
      catchError((error: unknown) => of(thrown(error))),
    );
  }
  if (isObservable(result)) {
    return failure('payload', new PayloadError(`Expected ${lower(where)} to return a JSON object, null or a Promise of one for ${subject}, got an Observable`));
  }
  return checkPayload(result, where, subject);
}

function checkPayload(value: unknown, where: string, subject: string): JsonObject | null | BuildFailure {
  if (value === null) return null;
  if (!isPlainObject(value)) {
    return failure('payload', new PayloadError(`Expected ${lower(where)} to be a JSON object or null for ${subject}, got ${describeValue(value)}`));
  }
  if (Object.prototype.hasOwnProperty.call(value, 'internal_error')) {
    return failure('payload', new PayloadError(`${where} reported an internal error for ${subject}: ${describeInternalError(value['internal_error'])}`));
  }
  return value as JsonObject;
}

function buildRequest<R>(
  event: ServiceEvent<R>,
  target: PreparedTarget,
  args: LooseArgs,
  payload: JsonObject | null,
  subject: string,
): RequestDescriptor | BuildFailure {
  const { endpoint, eventConfig, path } = target;

  let body: string | null = null;
  let sentPayload: JsonObject | null = null;
  if (payload !== null) {
    try {
      // The payload sent is a copy, detached from the app's object: made directly when it is
      // plain JSON data (the usual case; strings are shared, not copied), else by reading back
      // the JSON text, which gives what a receiver sees (dates as strings, no undefined...).
      const copy = jsonDataCopy(payload, 0);
      if (copy !== NOT_JSON_DATA) {
        body = JSON.stringify(copy);
        sentPayload = copy as JsonObject;
      } else {
        body = JSON.stringify(payload);
        sentPayload = JSON.parse(body) as JsonObject;
      }
    } catch (error) {
      return failure('payload', new PayloadError(`Expected the payload of ${path} to be JSON-serializable for ${subject}, but serializing it failed: ${messageOf(error)}`, { cause: error }));
    }
  }

  let method: unknown;
  try {
    method = typeof eventConfig.http_method === 'function' ? (eventConfig.http_method as (args: LooseArgs) => unknown)(args) : eventConfig.http_method;
  } catch (error) {
    return failure('payload', new PayloadError(`The http_method function of ${path} threw for ${subject}: ${messageOf(error)}`, { cause: error }));
  }
  if (!isHttpMethod(method)) {
    return failure('payload', new PayloadError(`Expected the http_method of ${path} to be one of ${HTTP_METHODS.join(', ')} for ${subject}, got ${describeValue(method)}`));
  }

  const url = buildUrl(target, args, subject);
  if (isFailure(url)) return url;

  const deliveryId = `${event.eventId}.${target.endpointId}`;
  const headers: Record<string, string> = {};
  const { headerNames, headerValues } = target;
  for (let index = 0; index < headerNames.length; index += 1) {
    headers[headerNames[index] as string] = headerValues[index] as string;
  }
  if (body !== null && !target.hasContentType) headers['Content-Type'] = 'application/json';
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
    payload: sentPayload,
    body,
    recordId: event.recordId,
    draftId: event.draftId,
  };
  if (eventConfig.retry !== undefined) request.retry = eventConfig.retry;
  if (eventConfig.timeout_ms !== undefined) request.timeoutMs = eventConfig.timeout_ms;
  return request;
}

/** Returned by {@link jsonDataCopy} when a value would not come back the same from its JSON text. */
const NOT_JSON_DATA: unique symbol = Symbol('not JSON data');
/** Deeper than this the copy leaves the value to the JSON round trip (which fails on cycles as it should). */
const MAX_JSON_DATA_DEPTH = 64;
const hasOwn = Object.prototype.hasOwnProperty;

/**
 * A deep copy of a value that is exactly what `JSON.parse(JSON.stringify(value))` gives, or
 * {@link NOT_JSON_DATA} when that is not sure: anything but plain objects, arrays, strings,
 * booleans, finite numbers (not -0) and null, or `undefined` in a property or an element,
 * a `__proto__` key, very deep or cyclic data. Several times cheaper than the round trip, as
 * strings are shared rather than parsed again.
 */
function jsonDataCopy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_JSON_DATA;
    case 'object':
      break;
    default:
      return NOT_JSON_DATA;
  }
  if (value === null) return null;
  if (depth >= MAX_JSON_DATA_DEPTH) return NOT_JSON_DATA;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return NOT_JSON_DATA;
    const copy: unknown[] = new Array<unknown>(value.length);
    for (let index = 0; index < value.length; index += 1) {
      const item = jsonDataCopy(value[index], depth + 1);
      if (item === NOT_JSON_DATA) return NOT_JSON_DATA;
      copy[index] = item;
    }
    return copy;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return NOT_JSON_DATA;
  const copy: Record<string, unknown> = {};
  for (const key in value) {
    if (!hasOwn.call(value, key)) continue;
    if (key === '__proto__') return NOT_JSON_DATA;
    const item = jsonDataCopy((value as Record<string, unknown>)[key], depth + 1);
    if (item === NOT_JSON_DATA) return NOT_JSON_DATA;
    copy[key] = item;
  }
  return copy;
}

function buildUrl(target: PreparedTarget, args: LooseArgs, subject: string): string | BuildFailure {
  const { endpoint, eventConfig, path, endpointUrl } = target;
  if (endpointUrl instanceof UrlError) return failure('url', endpointUrl);
  const factory = eventConfig.url_factory as ((record: unknown, args: LooseArgs) => unknown) | undefined;
  if (factory === undefined) return endpoint;

  let produced: unknown;
  try {
    produced = factory(args['record'], args);
  } catch (error) {
    return failure('url', new UrlError(`The url_factory of ${path} threw for ${subject}: ${messageOf(error)}`, { cause: error }));
  }
  let url: URL;
  try {
    url = assertHttpUrl(produced, `the URL returned by the url_factory of ${path} for ${subject}`);
  } catch (error) {
    return failure('url', asUrlError(error));
  }
  const allowed = eventConfig.allowed_origins;
  if (!sameOrigin(url, endpointUrl) && allowed !== true && !(allowed ?? []).includes(url.origin)) {
    return failure(
      'url',
      new UrlError(
        `Expected the url_factory URL of ${path} to have the endpoint's origin ${endpointUrl.origin} for ${subject}, got ${url.origin} (list it in \`allowed_origins\` to allow it)`,
      ),
    );
  }
  return typeof produced === 'string' ? produced : url.href;
}

/**
 * What is fixed for one endpoint binding (service, endpoint, method), worked out on its first
 * event: the config path named in messages, the endpoint's id in delivery ids, the checked
 * endpoint URL and the headers every request to it carries.
 */
type PreparedTarget = Target & {
  readonly path: string;
  readonly endpointId: string;
  readonly endpointUrl: URL | UrlError;
  /** The config's headers (but `Idempotency-Key`, and `Authorization` when `auth_token` is set), then `Authorization`. */
  readonly headerNames: readonly string[];
  readonly headerValues: readonly string[];
  /** Whether the config's headers set the content type (else JSON bodies get `application/json`). */
  readonly hasContentType: boolean;
};

/** Bindings come from the config index, one frozen object per (service, endpoint, method). */
const preparedTargets = new WeakMap<Target, PreparedTarget>();

function prepare(binding: Target, serviceType: string, method: string): PreparedTarget {
  let prepared = preparedTargets.get(binding);
  if (prepared !== undefined) return prepared;
  const { endpoint, eventConfig } = binding;
  const path = configPath(serviceType, endpoint, method);
  let endpointUrl: URL | UrlError;
  try {
    endpointUrl = assertHttpUrl(endpoint, `the endpoint of ${path}`);
  } catch (error) {
    endpointUrl = asUrlError(error);
  }
  const headerNames: string[] = [];
  const headerValues: string[] = [];
  let hasContentType = false;
  for (const [name, value] of Object.entries(eventConfig.headers ?? {})) {
    const lowerName = name.toLowerCase();
    if (lowerName === 'idempotency-key' || (lowerName === 'authorization' && eventConfig.auth_token !== undefined)) continue;
    if (lowerName === 'content-type') hasContentType = true;
    headerNames.push(name);
    headerValues.push(value);
  }
  if (eventConfig.auth_token !== undefined) {
    headerNames.push('Authorization');
    headerValues.push(`Bearer ${eventConfig.auth_token}`);
  }
  prepared = {
    endpoint,
    eventConfig,
    path,
    endpointId: endpointIdOf(endpoint),
    endpointUrl,
    headerNames,
    headerValues,
    hasContentType,
  };
  preparedTargets.set(binding, prepared);
  return prepared;
}

function asUrlError(error: unknown): UrlError {
  return error instanceof UrlError ? error : new UrlError(messageOf(error), { cause: error });
}

/** Records (`access.record`) and communities (`access.visibility`) that say anything but "public". */
function isRestricted<R>(event: ServiceEvent<R>): boolean {
  const args = event.args as LooseArgs;
  const subject = (args['record'] ?? args['draft']) as AppRecord | null | undefined;
  const access = subject?.access;
  if (access === undefined || access === null || typeof access !== 'object') return false;
  const level = event.serviceType === 'community' ? access.visibility : access.record;
  return level !== undefined && level !== 'public';
}

/** `rdm_record["https://…"].publish`, with credentials and secret-looking query values of the endpoint redacted. */
function configPath(serviceType: string, endpoint: string, method: string): string {
  return `${serviceType}[${JSON.stringify(redactUrl(endpoint))}].${method}`;
}

function describeSubject<R>(event: ServiceEvent<R>): string {
  const noun = event.serviceType === 'community' ? 'community' : 'record';
  if (event.recordId !== null) return `${noun} ${event.recordId}`;
  if (event.draftId !== null) return `draft ${event.draftId}`;
  return `event ${event.eventId}`;
}

/** A value now, or one to come: plans are built synchronously unless the app's functions are async. */
type Eventually<T> = T | Observable<T>;

/** Applies `next` to a value now, or to the value to come. */
function then<T, U>(value: Eventually<T>, next: (value: T) => Eventually<U>): Eventually<U> {
  if (!isObservable(value)) return next(value);
  return value.pipe(
    mergeMap((resolved) => {
      const result = next(resolved);
      return isObservable(result) ? result : of(result);
    }),
  );
}

function skippedPlan<R>(event: ServiceEvent<R>, endpoint: string, reason: SkippedOutcome['reason'], settledAt: number): SkippedOutcome<R> {
  return { kind: 'skipped', event, endpoint, acceptedAt: event.emittedAt, reason, settledAt };
}

function failedPlan<R>(event: ServiceEvent<R>, endpoint: string, { reason, error }: BuildFailure, settledAt: number): FailedOutcome<R> {
  return { kind: 'failed', event, endpoint, request: null, reason, error, attempts: 0, response: null, acceptedAt: event.emittedAt, settledAt };
}

function planningFailure(path: string, subject: string, error: unknown): BuildFailure {
  return failure('payload', new PayloadError(`Planning ${path} for ${subject} failed: ${messageOf(error)}`, { cause: error }));
}

function failure(reason: FailureReason, error: ProvisionerError): BuildFailure {
  return new BuildFailure(reason, error);
}

function isFailure(value: unknown): value is BuildFailure {
  return value instanceof BuildFailure;
}

function isOwner(value: unknown): value is Owner {
  return typeof value === 'object' && value !== null && 'id' in value;
}

function isHttpMethod(value: unknown): value is HttpMethod {
  return typeof value === 'string' && (HTTP_METHODS as readonly string[]).includes(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)})`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `a ${typeof value} (${String(value)})`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return name !== undefined && name !== 'Object' ? `an instance of ${name}` : 'an object';
  }
  return typeof value;
}

function describeInternalError(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : describeValue(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : describeValue(error);
}

function lower(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
