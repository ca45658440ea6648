/**
 * The options of {@link createProvisioner} and their checks.
 * @packageDocumentation
 */
import type { SchedulerLike } from 'rxjs';
import { configNeedsOwner } from '../config/configIndex.js';
import { decodeConfig } from '../config/decodeConfig.js';
import { suggest } from '../config/suggest.js';
import type { ProvisionerConfig } from '../config/types.js';
import type { CircuitBreakerOptions, EndpointLimits } from '../delivery/endpointPolicy.js';
import type { KyClientOptions } from '../delivery/kyEffect.js';
import { signingIssues } from '../delivery/signing.js';
import type { HttpEffect } from '../events/httpEffect.js';
import type { RetryOptions } from '../events/request.js';
import type { AppRecord } from '../events/serviceEvent.js';
import { describeKind, describeValue } from '../util/describeValue.js';
import { redactUrl } from '../util/redact.js';
import type { IsPublic, ResolveOwner } from '../operators/toRequests.js';
import type { DeliveryStore } from '../store/deliveryStore.js';
import { endpointOptionIssues } from './endpointOptions.js';

/**
 * The `http` options of {@link createProvisioner}.
 *
 * @example
 * ```ts
 * createProvisioner({ events, http: { timeoutMs: 5_000, retry: { limit: 3 }, concurrency: 32, maxQueue: 50_000 } });
 * ```
 */
export type ProvisionerHttpOptions = {
  /** Timeout of one attempt; an event config's `timeout_ms` overrides it. @default 10000 */
  readonly timeoutMs?: number;
  /** The retry policy; an event config's `retry` overrides it key by key. @default { limit: 5, baseDelayMs: 1000, maxDelayMs: 30000, maxRetryAfterMs: 60000 } */
  readonly retry?: RetryOptions;
  /** Deliveries in flight at once to each endpoint (of different records). @default 16 */
  readonly concurrency?: number;
  /**
   * Limits of single endpoints, by their config key: `ratePerSecond` spaces request starts
   * `1000 / rate` ms apart (no bursts), `concurrency` caps attempts in flight. Per process;
   * instances sharing a Redis or PostgreSQL store keep the rate together (see docs/delivery.md).
   */
  readonly endpoints?: Readonly<Record<string, EndpointLimits>>;
  /**
   * The circuit breaker of every endpoint: after `failureThreshold` consecutive network
   * failures, timeouts or 5xx within `windowMs`, deliveries to it wait in the store (no
   * attempt spent, order kept) while one probe goes out per cool-down; the first answer
   * closes it. `false` turns it off. @default { failureThreshold: 5, windowMs: 30000, minCooldownMs: 1000, maxCooldownMs: 60000 }
   */
  readonly circuitBreaker?: CircuitBreakerOptions | false;
  /** How long a delivery may wait for its endpoint (circuit open, paused) before it fails with reason `expired`. @default 86400000 (24 h) */
  readonly maxDeliveryAgeMs?: number;
  /**
   * Deliveries accepted and not yet settled, with every store; past it new ones fail with
   * reason `overflow`. The default memory store is created with it as its own `maxQueue`;
   * with a `store`, it bounds what the store counts as pending (SQLite: the unsettled
   * deliveries in its file; Redis: the deliveries this instance journaled and has not seen
   * settled), besides the store's own `maxQueue`. @default 10000 (the memory store's bound)
   */
  readonly maxQueue?: number;
  /** Longest response body read per attempt. @default 1048576 (1 MiB) */
  readonly maxResponseBytes?: number;
  /** Replaces the default ky effect (tests, custom transports); `timeoutMs` and `maxResponseBytes` are then its own business. */
  readonly effect?: HttpEffect;
  /** ky `hooks` (`beforeRequest`, `afterResponse`, `beforeError`) and `headers` for every delivery of the default effect. */
  readonly ky?: KyClientOptions;
};

/**
 * What `provisioner.stats()` answers: a snapshot of the queue, to graph or alert on (a
 * growing `oldestPendingAgeMs` means a receiver is not taking deliveries; `pending` near
 * `http.maxQueue` means new work is about to fail with reason `overflow`).
 *
 * @example
 * ```ts
 * const { pending, inFlight, oldestPendingAgeMs, deadLetters } = await provisioner.stats();
 * if ((oldestPendingAgeMs ?? 0) > 5 * 60_000) alert(`deliveries waiting for ${oldestPendingAgeMs} ms`);
 * ```
 */
export type ProvisionerStats = {
  /** The store's kind (`memory`, `sqlite`, `redis`, ...). */
  readonly store: string;
  /** Deliveries accepted and not yet settled (waiting, retrying or in flight). */
  readonly pending: number;
  /** Attempts in flight in this process. */
  readonly inFlight: number;
  /** How long the oldest unsettled delivery has waited (ms); `null` when none is, or the store cannot tell. */
  readonly oldestPendingAgeMs: number | null;
  /** Dead letters the store keeps. */
  readonly deadLetters: number;
  /** Callbacks of delivered outcomes still running in this process. */
  readonly callbacksPending: number;
};

/**
 * Options of {@link createProvisioner}.
 *
 * @example
 * ```ts
 * const options: ProvisionerOptions = {
 *   events,
 *   resolveOwner: ({ record }) => users.ownerOf(String(record?.id)),
 *   signing: { secret: process.env.WEBHOOK_SECRET ?? '' },
 *   http: { timeoutMs: 10_000 },
 *   callbackTimeoutMs: 10_000,
 * };
 * const provisioner = createProvisioner(options);
 * ```
 */
export type ProvisionerOptions<R = AppRecord> = {
  /** The config (the seed's `REMOTE_API_PROVISIONER_EVENTS`); validated, an invalid one throws `ConfigError`. */
  readonly events: ProvisionerConfig<R>;
  /** The record owner for `with_record_owner`; required when any event config sets it. */
  readonly resolveOwner?: ResolveOwner<R>;
  /**
   * Which records may be sent, for apps whose records keep their visibility elsewhere. It
   * replaces the original's rule (an rdm_record event is sent when its record's or draft's
   * `access.record` is `"public"`, a community event when its `access.visibility` is; a
   * record whose field cannot be read is skipped as `restricted`). Not asked for events
   * without a record and a draft, nor for event configs with `include_restricted: true`.
   * A throw, or an answer that is not a boolean, fails the delivery with reason `payload`:
   * nothing is sent.
   */
  readonly isPublic?: IsPublic<R>;
  /** Standard Webhooks signing of every request with one or several `whsec_` secrets. */
  readonly signing?: { readonly secret: string | readonly string[] };
  readonly http?: ProvisionerHttpOptions;
  /** How long `resolveOwner` may take. @default 10000 */
  readonly ownerTimeoutMs?: number;
  /** How long an async payload function may take. @default 30000 */
  readonly payloadTimeoutMs?: number;
  /** How long a callback may take to settle. @default 30000 */
  readonly callbackTimeoutMs?: number;
  /**
   * Where accepted work lives until its outcome: `createSqliteStore(...)` (survives a crash
   * of the process), `await createRedisStore(...)` (several instances share the work) or
   * `createMemoryStore(...)`. Each hook call journals its event in the store before it
   * returns; the provisioner starts the store, and closes it in `close()`. Without it, the
   * provisioner runs the same pipeline over `createMemoryStore({ maxQueue: http.maxQueue })`
   * (see docs/durability.md).
   */
  readonly store?: DeliveryStore<R>;
  /**
   * The clock and timers of the pipeline: retries, backoff and `Retry-After` waits in the
   * store's lanes, owner, payload and callback timeouts. A `TestScheduler` runs the whole
   * pipeline in virtual time (see docs/pipelines.md). @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike;
};

/** Every key of {@link ProvisionerOptions}: an unknown one is a mistake, not something to ignore. */
const OPTION_KEYS = {
  events: true,
  resolveOwner: true,
  isPublic: true,
  signing: true,
  http: true,
  ownerTimeoutMs: true,
  payloadTimeoutMs: true,
  callbackTimeoutMs: true,
  store: true,
  scheduler: true,
} as const satisfies Record<keyof ProvisionerOptions, true>;

/** Every key of {@link ProvisionerHttpOptions}. */
const HTTP_OPTION_KEYS = {
  timeoutMs: true,
  retry: true,
  concurrency: true,
  maxQueue: true,
  maxResponseBytes: true,
  effect: true,
  ky: true,
  endpoints: true,
  circuitBreaker: true,
  maxDeliveryAgeMs: true,
} as const satisfies Record<keyof ProvisionerHttpOptions, true>;

/**
 * The config of `options`, when it is valid, and every problem of the config and the options
 * together, as createProvisioner and the command line report them.
 *
 * @example
 * ```ts
 * const { config, issues } = provisionerIssues(options);
 * if (issues.length > 0) throw new ConfigError(issues);
 * ```
 * @internal
 */
export function provisionerIssues<R>(options: ProvisionerOptions<R>): { readonly config: ProvisionerConfig<R> | null; readonly issues: string[] } {
  const decoded = decodeConfig<R>(options.events);
  const config = decoded._tag === 'Left' ? null : decoded.right;
  return { config, issues: [...(decoded._tag === 'Left' ? decoded.left.issues : []), ...optionIssues(config, options)] };
}

/**
 * What would otherwise fail later or be ignored: unknown option keys, owners without a
 * resolver, out-of-range numbers, a store, effect or signing option that is not one. With
 * `config` `null` (the config itself is broken) the issues that depend on it are left out, so
 * that one `ConfigError` lists the config's issues and the options' together.
 *
 * @example
 * ```ts
 * optionIssues(null, { events, http: { concurrency: 0 } }); // ['http.concurrency: expected a positive integer, got 0']
 * ```
 * @internal
 */
export function optionIssues<R>(config: ProvisionerConfig<R> | null, options: ProvisionerOptions<R>): string[] {
  const issues: string[] = [...unknownKeys('', options, OPTION_KEYS), ...unknownKeys('http.', options.http === undefined ? {} : options.http, HTTP_OPTION_KEYS)];
  if (config !== null && configNeedsOwner(config) && typeof options.resolveOwner !== 'function') {
    const paths: string[] = [];
    for (const service of ['rdm_record', 'community'] as const) {
      for (const [endpoint, methods] of Object.entries(config[service] ?? {})) {
        for (const [method, eventConfig] of Object.entries(methods as Readonly<Record<string, { readonly with_record_owner?: boolean } | undefined>>)) {
          if (eventConfig?.with_record_owner === true) paths.push(`${service}[${JSON.stringify(redactUrl(endpoint))}].${method}`);
        }
      }
    }
    issues.push(
      `resolveOwner: expected a function, because ${paths.join(', ')} ${paths.length === 1 ? 'sets' : 'set'} with_record_owner, got ${options.resolveOwner === undefined ? 'none' : typeof options.resolveOwner}`,
    );
  }
  else if (options.resolveOwner !== undefined && typeof options.resolveOwner !== 'function') {
    issues.push(`resolveOwner: expected a function ({ record, identity }) => owner, got ${describeKind(options.resolveOwner)}`);
  }
  if (options.signing !== undefined) issues.push(...signingIssues(options.signing));
  if (options.isPublic !== undefined && typeof options.isPublic !== 'function') {
    issues.push(`isPublic: expected a function ({ serviceType, record, draft }) => boolean, got ${options.isPublic === null ? 'null' : typeof options.isPublic}`);
  }
  const positive = (path: string, value: number | undefined, integer: boolean): void => {
    if (value === undefined) return;
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      issues.push(`${path}: expected a positive ${integer ? 'integer' : 'number'}, got ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))}`);
    }
  };
  positive('http.timeoutMs', options.http?.timeoutMs, false);
  positive('http.concurrency', options.http?.concurrency, true);
  positive('http.maxQueue', options.http?.maxQueue, true);
  positive('http.maxResponseBytes', options.http?.maxResponseBytes, true);
  positive('http.maxDeliveryAgeMs', options.http?.maxDeliveryAgeMs, false);
  if (config !== null) issues.push(...endpointOptionIssues(config, options.http ?? {}));
  positive('ownerTimeoutMs', options.ownerTimeoutMs, false);
  positive('payloadTimeoutMs', options.payloadTimeoutMs, false);
  positive('callbackTimeoutMs', options.callbackTimeoutMs, false);
  const retry: unknown = options.http?.retry;
  if (retry !== undefined && (typeof retry !== 'object' || retry === null || Array.isArray(retry))) {
    issues.push(`http.retry: expected an object { ${RETRY_KEYS.join('?, ')}? }, got ${describeValue(retry)}`);
  }
  for (const [key, value] of Object.entries(typeof retry === 'object' && retry !== null ? retry : {})) {
    if (!RETRY_KEYS.includes(key)) {
      const near = suggest(key, RETRY_KEYS);
      issues.push(`http.retry.${key}: expected one of ${RETRY_KEYS.join(', ')}, got an unknown key${near === undefined ? '' : ` (did you mean "${near}"?)`}`);
    } else if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (key === 'limit' && !Number.isInteger(value)))) {
      issues.push(`http.retry.${key}: expected ${key === 'limit' ? 'an integer' : 'a number'} >= 0, got ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))}`);
    }
  }
  const store = options.store as Partial<DeliveryStore<R>> | undefined;
  if (store !== undefined && (typeof store !== 'object' || store === null || typeof store.journal !== 'function' || typeof store.start !== 'function')) {
    issues.push(`store: expected a delivery store (createMemoryStore, createSqliteStore or await createRedisStore), got ${store === null ? 'null' : typeof store}`);
  }
  const scheduler = options.scheduler as Partial<SchedulerLike> | undefined;
  if (scheduler !== undefined && (typeof scheduler !== 'object' || scheduler === null || typeof scheduler.schedule !== 'function' || typeof scheduler.now !== 'function')) {
    issues.push(`scheduler: expected an RxJS scheduler (asyncScheduler, a TestScheduler), got ${scheduler === null ? 'null' : typeof scheduler}`);
  }
  issues.push(...kyOptionIssues(options.http?.ky, options.http?.effect !== undefined));
  if (options.http?.effect !== undefined && typeof options.http.effect !== 'function') {
    issues.push(`http.effect: expected a function (request) => Observable<ProvisionerResponse>, got ${typeof options.http.effect}`);
  }
  return issues;
}

/** The keys of `http.retry`. */
const RETRY_KEYS: readonly string[] = ['limit', 'baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'];

function unknownKeys(path: string, value: object, known: Readonly<Record<string, true>>): string[] {
  if (typeof value !== 'object' || value === null) return [`${path === '' ? 'options' : path.slice(0, -1)}: expected an object, got ${value === null ? 'null' : typeof value}`];
  const names = Object.keys(known);
  const issues: string[] = [];
  for (const key of Object.keys(value)) {
    if (Object.prototype.hasOwnProperty.call(known, key)) continue;
    const near = suggest(key, names);
    issues.push(`${path}${key}: expected one of ${names.join(', ')}, got an unknown key${near === undefined ? '' : ` (did you mean "${near}"?)`}`);
  }
  return issues;
}

/** `http.ky`: ky's hooks and headers, and only with the default effect (a custom one has no ky client). */
function kyOptionIssues(ky: unknown, customEffect: boolean): string[] {
  if (ky === undefined) return [];
  if (typeof ky !== 'object' || ky === null || Array.isArray(ky)) return [`http.ky: expected an object { hooks?, headers? }, got ${ky === null ? 'null' : Array.isArray(ky) ? 'an array' : typeof ky}`];
  const issues: string[] = [];
  if (customEffect) issues.push('http.ky: expected no ky options next to http.effect (a custom effect has no ky client), got both');
  const { hooks, headers, ...rest } = ky as { hooks?: unknown; headers?: unknown };
  for (const key of Object.keys(rest)) issues.push(`http.ky.${key}: expected one of hooks, headers, got an unknown key`);
  if (hooks !== undefined) {
    if (typeof hooks !== 'object' || hooks === null) issues.push(`http.ky.hooks: expected an object of hook arrays, got ${hooks === null ? 'null' : typeof hooks}`);
    else {
      for (const [name, list] of Object.entries(hooks)) {
        if (!['beforeRequest', 'afterResponse', 'beforeError'].includes(name)) issues.push(`http.ky.hooks.${name}: expected one of beforeRequest, afterResponse, beforeError, got an unknown hook`);
        else if (!Array.isArray(list) || list.some((hook) => typeof hook !== 'function')) issues.push(`http.ky.hooks.${name}: expected an array of functions, got ${Array.isArray(list) ? 'an array with a non-function' : typeof list}`);
      }
    }
  }
  if (headers !== undefined) {
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) issues.push(`http.ky.headers: expected an object of header names to strings, got ${headers === null ? 'null' : typeof headers}`);
    else {
      for (const [name, value] of Object.entries(headers)) {
        // The value is not shown: headers may hold tokens.
        if (typeof value !== 'string') issues.push(`http.ky.headers[${JSON.stringify(name)}]: expected a string, got ${typeof value}`);
      }
    }
  }
  return issues;
}

