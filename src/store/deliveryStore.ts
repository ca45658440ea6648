import type { Observable, ObservableInput, SchedulerLike } from 'rxjs';
import type { OverflowError, ProvisionerError } from '../errors.js';
import type { DeliveryOutcome, FailedOutcome, FailureReason, RequestPlan } from '../events/outcomes.js';
import type { ProvisionerResponse, RequestDescriptor } from '../events/request.js';
import type { ServiceType } from '../events/methodTables.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';

/**
 * One committed event and the endpoints configured for its method: each (event, endpoint)
 * pair becomes one delivery of the store, with the delivery id the pipeline gives it
 * (`deliveryIdOf(event.eventId, endpoint)`), ordered behind the earlier deliveries of the
 * same endpoint and record.
 *
 * @example
 * ```ts
 * store.journal([{ event, endpoints: ['https://search.example.org/api/v1/documents'] }]);
 * ```
 */
export type JournalEntry<R = AppRecord> = {
  readonly event: ServiceEvent<R>;
  /** The config's endpoints for the event's service and method, in config order. */
  readonly endpoints: readonly string[];
  /** When the event was accepted (ms since epoch). @default event.emittedAt */
  readonly acceptedAt?: number;
};

/**
 * What {@link DeliveryStore.journal} answers: the deliveries were recorded (with their ids);
 * or none of them were, because the store is full (`maxQueue`: the pipeline then ends each
 * pair as `failed` with reason `overflow`) or could not write them (`error`: a full disk, an
 * event that cannot be serialized; the pipeline ends each pair as `failed`).
 *
 * @example
 * ```ts
 * const result = store.journal([{ event, endpoints }]);
 * if (result.kind !== 'journaled') log(result.error.message);
 * ```
 */
export type JournalResult =
  | { readonly kind: 'journaled'; readonly deliveryIds: readonly string[] }
  | { readonly kind: 'overflow'; readonly error: OverflowError }
  | { readonly kind: 'error'; readonly error: ProvisionerError };

/**
 * One delivery as a store holds it: the (event, endpoint) pair, its ordering key, the request
 * once it is planned, and how many attempts were started (interrupted ones included).
 *
 * @example
 * ```ts
 * const plan = async (delivery: StoredDelivery) => planOne(delivery.event, delivery.endpoint);
 * ```
 */
export type StoredDelivery<R = AppRecord> = {
  readonly deliveryId: string;
  readonly event: ServiceEvent<R>;
  readonly endpoint: string;
  /** The ordering key (`deliveryKey`): deliveries with the same key run one at a time, in journal order. */
  readonly key: string;
  readonly acceptedAt: number;
  /** The planned request; `null` until the store has had it planned. */
  readonly request: RequestDescriptor | null;
  /** Attempts started so far, including attempts interrupted by a crash. */
  readonly attempts: number;
};

/**
 * What the attempt handler receives: a planned delivery, the number of this attempt (1 for
 * the first; attempts interrupted by a crash count) and a signal that aborts when the store
 * closes.
 *
 * @example
 * ```ts
 * const attempt = async ({ request, attempt, signal }: AttemptInput) => sendOnce(request, attempt, signal);
 * ```
 */
export type AttemptInput<R = AppRecord> = StoredDelivery<R> & {
  readonly request: RequestDescriptor;
  readonly attempt: number;
  readonly signal: AbortSignal;
};

/**
 * The result of one attempt, as the pipeline's retry policy classified it: `delivered` (2xx),
 * `retry` after `delayMs` (the store keeps the delivery at the head of its key meanwhile), or
 * `failed` for good (the store keeps it as a dead letter). The policy, not the store, decides
 * when the retries are used up.
 *
 * @example
 * ```ts
 * const result: AttemptResult = { kind: 'retry', delayMs: 1_000, reason: 'http-status', error, response };
 * ```
 */
export type AttemptResult =
  | { readonly kind: 'delivered'; readonly response: ProvisionerResponse }
  | {
      readonly kind: 'retry';
      readonly delayMs: number;
      readonly reason: FailureReason;
      readonly error: ProvisionerError;
      readonly response: ProvisionerResponse | null;
    }
  | {
      readonly kind: 'failed';
      readonly reason: FailureReason;
      readonly error: ProvisionerError;
      readonly response: ProvisionerResponse | null;
    };

/**
 * What the pipeline hands a store when it starts it: how to plan a delivery (the config's
 * payload, owner and URL for one endpoint: `toRequests` for one event and endpoint) and how
 * to send one attempt (the `HttpEffect` and the retry policy). The store decides when each
 * runs; `plan` runs once per delivery, its request is stored before the first attempt, so a
 * resumed delivery is not planned again. Both answer with an Observable (its first value
 * counts; unsubscribing aborts) or a Promise.
 *
 * @example
 * ```ts
 * store.start({ plan: planOne, attempt: sendOnce, endpoints: Object.keys(config.rdm_record ?? {}) });
 * ```
 */
export type DeliveryHandlers<R = AppRecord> = {
  /** Plans a delivery: a request to send, or the outcome reached while building it. Should not throw (a throw fails it with reason `payload`). */
  readonly plan: (delivery: StoredDelivery<R>) => ObservableInput<RequestPlan<R>>;
  /** Sends one attempt. Should not throw (a throw fails the delivery with reason `network`). */
  readonly attempt: (input: AttemptInput<R>) => ObservableInput<AttemptResult>;
  /**
   * Durable stores never write secret headers (`Authorization`, token-, key-, secret-,
   * cookie-, signature-like names); when they load a stored request they ask this function
   * for them, by name, and the pipeline answers from the current config, so a rotated
   * `auth_token` applies to resumed work. Without it, loaded requests go without them.
   */
  readonly restoreSecrets?: (request: RequestDescriptor, names: readonly string[]) => Readonly<Record<string, string>>;
  /** Every endpoint of the config: stores that run workers per endpoint (Redis) start them for these; PostgreSQL does not fetch while it holds all it may of each. */
  readonly endpoints?: readonly string[];
  /** Local stores: deliveries (of different keys) in flight at once, per endpoint. @default 16 */
  readonly concurrency?: number;
  /**
   * Request starts per second of rate-limited endpoints (`http.endpoints[endpoint].ratePerSecond`).
   * The pipeline spaces starts in each process; a store shared by several instances may hold
   * the endpoint to it across all of them (the Redis store does with BullMQ's rate limiter, the
   * PostgreSQL store with a slot reserved in the database).
   */
  readonly rates?: Readonly<Record<string, number>>;
  /**
   * The clock and timers of retries and backoff waits (local stores; the Redis store waits
   * in Redis): a `TestScheduler` runs the store path in virtual time. @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike;
};

/**
 * A final outcome as a store reports it, with its delivery id and whether this process
 * reached it (`local`), or another instance sharing the store did (Redis): callbacks run
 * where the outcome is local, so they run once.
 *
 * @example
 * ```ts
 * store.outcomes$.pipe(filter((settled) => settled.local)).subscribe(runTheCallback);
 * ```
 */
export type StoreOutcome<R = AppRecord> = {
  readonly deliveryId: string;
  readonly outcome: DeliveryOutcome<R>;
  readonly local: boolean;
};

/**
 * A delivery that failed for good, kept by the store with its event, request (`null` when
 * planning failed), reason, attempts and last response; `requeue` sends it again with the
 * same delivery id.
 *
 * @example
 * ```ts
 * for (const letter of await store.deadLetters({ reason: 'http-status' })) {
 *   log(letter.deliveryId, letter.response?.status, letter.error.message);
 * }
 * ```
 */
export type DeadLetter<R = AppRecord> = FailedOutcome<R> & { readonly deliveryId: string };

/**
 * Which dead letters to list; every given field must match. Results come oldest failure
 * first, at most `limit`.
 *
 * @example
 * ```ts
 * await store.deadLetters({ endpoint: 'https://search.example.org/api/v1/documents', failedAfter: Date.now() - 3_600_000 });
 * ```
 */
export type DeadLetterFilter = {
  readonly deliveryIds?: readonly string[];
  readonly endpoint?: string;
  readonly serviceType?: ServiceType;
  readonly serviceMethod?: string;
  readonly recordId?: string;
  readonly reason?: FailureReason;
  /** Failed at or after this time (ms since epoch). */
  readonly failedAfter?: number;
  /** Failed before this time (ms since epoch). */
  readonly failedBefore?: number;
  /** @default 1000 */
  readonly limit?: number;
};

/** Default of {@link DeadLetterFilter.limit}. */
export const DEFAULT_DEAD_LETTER_LIMIT = 1_000;

/**
 * What {@link DeliveryStore.stats} answers.
 *
 * @example
 * ```ts
 * const { pending, oldestAcceptedAt, deadLetters } = await store.stats();
 * ```
 */
export type StoreStats = {
  /** Deliveries not yet settled. */
  readonly pending: number;
  /** When the oldest unsettled delivery was accepted (ms since epoch), `null` when none is. */
  readonly oldestAcceptedAt: number | null;
  /** Dead letters kept. */
  readonly deadLetters: number;
};

/**
 * Options of {@link DeliveryStore.close}.
 *
 * @example
 * ```ts
 * await store.close({ timeoutMs: 10_000 });
 * ```
 */
export type StoreCloseOptions = {
  /** How long to wait for attempts in flight (Redis workers) or buffered journal writes before giving up. @default 5000 */
  readonly timeoutMs?: number;
};

/**
 * Where accepted work lives between the hook and its outcome. The pipeline journals each
 * committed event synchronously (before the hook returns), starts the store with its plan
 * and attempt handlers, and reads every final outcome from `outcomes$`; the store keeps the
 * deliveries, runs them one at a time per (endpoint, record) in journal order, records every
 * attempt, schedules retries, and keeps failures as dead letters. A durable store resumes
 * unfinished deliveries, with the same delivery ids, when it is opened again.
 *
 * Four stores: `createMemoryStore` (the default: nothing survives the process),
 * `createSqliteStore` (one process, survives crashes), `createRedisStore` (several processes
 * share the work through BullMQ), `createPostgresStore` (the transactional outbox in the app's
 * PostgreSQL database, on pg-boss; several processes share the work).
 *
 * @example
 * ```ts
 * const store = createSqliteStore({ path: 'var/provisioner.db' });
 * store.outcomes$.subscribe(({ outcome }) => log(outcome.kind, outcome.endpoint));
 * store.start({ plan: planOne, attempt: sendOnce });
 * store.journal([{ event, endpoints }]);   // in the hook, when the unit of work commits
 * await store.drain();
 * await store.close();
 * ```
 */
export type DeliveryStore<R = AppRecord> = {
  /** Which implementation this is: the library's four, or the name of a store of your own. */
  readonly kind: 'memory' | 'sqlite' | 'redis' | 'postgres' | (string & {});
  /**
   * Records committed events, synchronously: when it returns, a durable store has the
   * deliveries on disk (SQLite) or queued for Redis (see `flush`). All or none.
   */
  journal(entries: readonly JournalEntry<R>[]): JournalResult;
  /** Resolves when everything journaled so far is as durable as the store makes it (Redis: acknowledged). */
  flush(): Promise<void>;
  /** Starts running deliveries, those resumed from an earlier process first. Once. */
  start(handlers: DeliveryHandlers<R>): void;
  /** Every final outcome: hot, not replayed; completes on `close()`. */
  readonly outcomes$: Observable<StoreOutcome<R>>;
  /** Deliveries not yet settled (journaled, planned, waiting or in flight) as this process knows them. */
  pending(): number;
  /**
   * A snapshot of the queue for `provisioner.stats()` and the metrics. Optional: without it
   * the pipeline counts `pending()` and the dead letters `deadLetters()` lists.
   */
  stats?(): StoreStats | Promise<StoreStats>;
  /** Resolves when no delivery is left unsettled (Redis: in any partition of the shared queue). */
  drain(): Promise<void>;
  /** The dead letters matching `filter`, oldest failure first. */
  deadLetters(filter?: DeadLetterFilter): Promise<readonly DeadLetter<R>[]>;
  /** Sends dead letters again, with the same delivery ids and a fresh attempt count; resolves with the ids requeued. */
  requeue(deliveryIds: readonly string[]): Promise<readonly string[]>;
  /** Forgets dead letters; resolves with how many there were. */
  discard(deliveryIds: readonly string[]): Promise<number>;
  /**
   * Stops running deliveries and releases the store. Attempts in flight are aborted; a
   * durable store keeps what is unsettled for the next process, the memory store ends it as
   * `failed` with reason `closed`. `outcomes$` completes.
   */
  close(options?: StoreCloseOptions): Promise<void>;
};
