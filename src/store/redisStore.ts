import { createHash, randomBytes } from 'node:crypto';
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { Subject, type Observable } from 'rxjs';
import { deliveryKey } from '../delivery/deliveryKey.js';
import { ClosedError, NetworkError, OverflowError, PayloadError, ProvisionerError } from '../errors.js';
import type { DeliveryOutcome, FailedOutcome, FailureReason, RequestPlan } from '../events/outcomes.js';
import type { RequestDescriptor } from '../events/request.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { logger, redactUrl } from '../log.js';
import {
  decodeError,
  decodeEvent,
  decodeRequest,
  decodeResponse,
  encodeError,
  encodeEvent,
  encodeRequest,
  encodeResponse,
  restoreRequest,
  type StoredError,
} from './codec.js';
import { deliveryIdOf, endpointIdOf } from './deliveryId.js';
import type {
  AttemptResult,
  DeadLetter,
  DeadLetterFilter,
  DeliveryHandlers,
  DeliveryStore,
  JournalEntry,
  JournalResult,
  StoreCloseOptions,
  StoreOutcome,
  StoredDelivery,
} from './deliveryStore.js';
import { firstValue } from './firstOf.js';
import { positiveInteger, selectDeadLetters } from './memoryStore.js';

const log = logger('delivery');

/**
 * Options of {@link createRedisStore}: the same `url`, `prefix`, `name` and `partitions` in
 * every instance that shares the work.
 *
 * @example
 * ```ts
 * const options: RedisStoreOptions = { url: process.env.REDIS_URL, name: 'search-index', partitions: 32 };
 * createProvisioner({ events, store: await createRedisStore(options) });
 * ```
 */
export type RedisStoreOptions = {
  /** The Redis server. @default process.env.REDIS_URL, else 'redis://127.0.0.1:6379' */
  readonly url?: string;
  /** The prefix of every key (BullMQ's `prefix`). @default 'rap' */
  readonly prefix?: string;
  /** The name of this store's queues, channel and keys under the prefix. @default 'deliveries' */
  readonly name?: string;
  /**
   * Queues per endpoint; a delivery goes to the one its (endpoint, record) key hashes to, and
   * each runs one delivery at a time across all instances. More partitions, more deliveries
   * in flight (and more Redis connections: one per partition and instance). Every instance
   * must use the same number; it is recorded in Redis and a different one is refused.
   * @default 16
   */
  readonly partitions?: number;
  /** How long a worker's lock on a delivery lasts before another instance may take it over (renewed while it runs). @default 30000 */
  readonly lockDurationMs?: number;
  /** How often workers look for deliveries whose instance died. @default 30000 */
  readonly stalledIntervalMs?: number;
  /** How many times a delivery may be taken over from a dead instance before it fails (a delivery that crashes every process). @default 10 */
  readonly maxStalledCount?: number;
  /** Journaled deliveries not yet acknowledged by Redis, at most; past it `journal` answers `overflow`. @default 10000 */
  readonly maxQueue?: number;
  /** How long creating the store waits for Redis to answer. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** How often `drain()` looks at the queues. @default 100 */
  readonly drainPollMs?: number;
  /**
   * How often a started instance looks for endpoints that other instances journaled to and
   * it has no workers for (they also announce new ones at once on the outcome channel).
   * @default 10000
   */
  readonly discoveryIntervalMs?: number;
};

/** Default of {@link RedisStoreOptions.partitions}. */
export const DEFAULT_REDIS_PARTITIONS = 16;

type BullModule = typeof import('bullmq');

/**
 * What a job carries: the delivery, its event, its plan once made, and its failure. The
 * attempts are BullMQ's own count of the job's starts (raised atomically when a worker takes
 * it, so a delivery taken over from a dead instance counts the attempt it was in, at no cost
 * of its own); `attempts` here is their number when the delivery failed.
 */
type JobData = {
  readonly v: 1;
  readonly deliveryId: string;
  readonly endpoint: string;
  readonly key: string;
  readonly acceptedAt: number;
  /** The event, V8-serialized, base64. */
  readonly event: string;
  /** The planned request without its secret headers (JSON), `null` until planned. */
  readonly request: string | null;
  readonly stripped: readonly string[];
  readonly attempts: number;
  readonly failure?: { readonly reason: FailureReason; readonly error: StoredError; readonly response: string | null };
};

/** An outcome as published to the other instances. */
type WireOutcome = {
  readonly type: 'outcome';
  readonly instance: string;
  readonly deliveryId: string;
  readonly kind: DeliveryOutcome['kind'];
  readonly endpoint: string;
  readonly event: string;
  readonly request: string | null;
  readonly response: string | null;
  readonly attempts: number;
  readonly reason: string | null;
  readonly error: StoredError | null;
  readonly acceptedAt: number;
  readonly settledAt: number;
};

/** Published when an instance records an endpoint no instance had: the others start its workers. */
type WireEndpoints = { readonly type: 'endpoints'; readonly instance: string };

type Buffered = { readonly queueName: string; readonly endpoint: string; readonly name: string; readonly data: JobData };

/** The rate limiter is only the backoff gate: its own limit is never reached. */
const LIMITER = { max: 1_000_000, duration: 1_000 };
const JOB_STATES_UNSETTLED = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * The multi-instance store, on Redis with BullMQ (both optional dependencies to install beside
 * this library). Every app instance that creates it with the same Redis, prefix and name shares
 * the work: a delivery goes to one of `partitions` queues of its endpoint, chosen by its
 * (endpoint, record) key; each queue runs one delivery at a time across all instances (BullMQ
 * global concurrency 1), so deliveries of a record keep their order whichever instance runs
 * them. A retry puts the delivery back at the head of its queue and holds the queue for the
 * backoff (BullMQ's rate limiter, a Redis key with a time to live), so nothing overtakes it; a
 * worker that dies mid-delivery loses its lock and another instance takes the delivery over
 * after `lockDurationMs`. Outcomes are published on a Redis channel: every instance's
 * `outcomes$` sees them all, `local` telling where the delivery ran. Failed deliveries stay
 * in BullMQ's failed set as dead letters.
 *
 * `journal` cannot wait for Redis: it buffers the deliveries and sends them at once; they are
 * durable when Redis acknowledges them (`await store.flush()` waits for that). A crash in
 * between (usually well under a millisecond) loses them.
 *
 * @throws {@link ProvisionerError} when bullmq or ioredis cannot be loaded, when Redis does not
 *   answer within `connectTimeoutMs`, or when the store was created with another number of
 *   partitions.
 *
 * @example
 * ```ts
 * const store = await createRedisStore({ url: process.env.REDIS_URL, partitions: 32 });
 * store.start({ plan: planOne, attempt: sendOnce, endpoints: Object.keys(config.rdm_record ?? {}) });
 * ```
 */
export async function createRedisStore<R = AppRecord>(options: RedisStoreOptions = {}): Promise<DeliveryStore<R>> {
  const partitions = positiveInteger('partitions', options.partitions ?? DEFAULT_REDIS_PARTITIONS);
  const url = options.url ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const timeoutMs = options.connectTimeoutMs ?? 5_000;
  const [bull, { Redis: RedisClient }] = await Promise.all([loadOptional<BullModule>('bullmq', () => import('bullmq')), loadOptional('ioredis', () => import('ioredis'))]);
  const connection = new RedisClient(url, { maxRetriesPerRequest: null, lazyConnect: true, connectTimeout: timeoutMs, retryStrategy: (times) => Math.min(times * 200, 2_000) });
  connection.on('error', (error: Error) => log('store (redis): connection error: %s', error.message));
  try {
    await withTimeout(connection.connect(), timeoutMs);
    await withTimeout(connection.ping(), timeoutMs);
  } catch (error) {
    connection.disconnect();
    throw new ProvisionerError(`Expected Redis at ${redactUrl(url)} to answer within ${timeoutMs} ms, it did not: ${messageOf(error)}`, { cause: error });
  }
  const prefix = options.prefix ?? 'rap';
  const name = options.name ?? 'deliveries';
  const metaKey = `${prefix}:${name}:meta`;
  await connection.hsetnx(metaKey, 'partitions', String(partitions));
  const recorded = Number(await connection.hget(metaKey, 'partitions'));
  if (recorded !== partitions) {
    connection.disconnect();
    throw new ProvisionerError(
      `Expected the Redis store ${prefix}:${name} to have ${partitions} partitions, found ${recorded} recorded by the instances that use it: every instance must use the same number (change it only with the queues drained, under a new name)`,
    );
  }
  return new RedisStore<R>(bull, connection, { ...options, partitions, prefix, name });
}

type ResolvedOptions = RedisStoreOptions & { readonly partitions: number; readonly prefix: string; readonly name: string };

/** @internal */
class RedisStore<R> implements DeliveryStore<R> {
  readonly kind = 'redis' as const;
  readonly outcomes$: Observable<StoreOutcome<R>>;
  readonly #outcomes = new Subject<StoreOutcome<R>>();
  readonly #bull: BullModule;
  readonly #connection: Redis;
  readonly #subscriber: Redis;
  readonly #options: ResolvedOptions;
  readonly #instance = randomBytes(9).toString('base64url');
  readonly #channel: string;
  readonly #endpointsKey: string;
  readonly #queues = new Map<string, Promise<Queue>>();
  readonly #workers = new Map<string, Worker>();
  readonly #endpoints = new Set<string>();
  readonly #inFlight = new Map<string, AbortController>();
  /** Outcomes reached by this instance's processor, handed to the worker's completed/failed listeners. */
  readonly #settled = new Map<string, DeliveryOutcome<R>>();
  #buffer: Buffered[] = [];
  #journaled = 0;
  #acknowledged = 0;
  #flushWaiters: { readonly target: number; readonly resolve: () => void }[] = [];
  #flushing = false;
  #handlers: DeliveryHandlers<R> | null = null;
  #discovery: ReturnType<typeof setInterval> | null = null;
  #closed: Promise<void> | null = null;

  constructor(bull: BullModule, connection: Redis, options: ResolvedOptions) {
    this.#bull = bull;
    this.#connection = connection;
    this.#options = options;
    this.#channel = `${options.prefix}:${options.name}:outcomes`;
    this.#endpointsKey = `${options.prefix}:${options.name}:endpoints`;
    this.outcomes$ = this.#outcomes.asObservable();
    this.#subscriber = connection.duplicate();
    this.#subscriber.on('error', (error: Error) => log('store (redis): subscriber error: %s', error.message));
    this.#subscriber.on('message', (_channel: string, message: string) => this.#receive(message));
    void this.#subscriber.subscribe(this.#channel).catch((error: unknown) => log('store (redis): could not subscribe to outcomes: %s', messageOf(error)));
  }

  journal(entries: readonly JournalEntry<R>[]): JournalResult {
    if (this.#closed !== null) {
      return { kind: 'error', error: new ClosedError(`Expected an open redis store to journal ${entries.length} event(s), got a closed one`) };
    }
    const jobs: Buffered[] = [];
    try {
      for (const { event, endpoints, acceptedAt } of entries) {
        if (endpoints.length === 0) continue;
        const encoded = encodeEvent(event).toString('base64');
        for (const endpoint of endpoints) {
          const key = deliveryKey({ endpoint, recordId: event.recordId, draftId: event.draftId, eventId: event.eventId });
          jobs.push({
            queueName: this.#queueName(endpoint, key),
            endpoint,
            name: `${event.serviceType}.${event.method}`,
            data: { v: 1, deliveryId: deliveryIdOf(event.eventId, endpoint), endpoint, key, acceptedAt: acceptedAt ?? event.emittedAt, event: encoded, request: null, stripped: [], attempts: 0 },
          });
        }
      }
    } catch (error) {
      return { kind: 'error', error: new ProvisionerError(`Expected the redis store to journal ${entries.length} event(s), but encoding failed: ${messageOf(error)}`, { cause: error }) };
    }
    const maxQueue = this.#options.maxQueue ?? 10_000;
    if (this.#buffer.length + jobs.length > maxQueue) {
      return {
        kind: 'overflow',
        error: new OverflowError(
          `Expected fewer than ${maxQueue} deliveries waiting for Redis to acknowledge them (maxQueue), found ${this.#buffer.length}; ${jobs.length} deliveries of ${entries.length} event(s) were not accepted`,
        ),
      };
    }
    this.#buffer.push(...jobs);
    this.#journaled += jobs.length;
    queueMicrotask(() => void this.#flushLoop());
    return { kind: 'journaled', deliveryIds: jobs.map((job) => job.data.deliveryId) };
  }

  flush(): Promise<void> {
    if (this.#acknowledged >= this.#journaled) return Promise.resolve();
    const target = this.#journaled;
    return new Promise((resolve) => this.#flushWaiters.push({ target, resolve }));
  }

  start(handlers: DeliveryHandlers<R>): void {
    if (this.#handlers !== null) throw new ProvisionerError('Expected the redis store to be started once, it was started already');
    if (this.#closed !== null) throw new ClosedError('Expected an open redis store to start, got a closed one');
    this.#handlers = handlers;
    void this.#discover(handlers.endpoints ?? []);
    this.#discovery = setInterval(() => void this.#discover([]), this.#options.discoveryIntervalMs ?? 10_000);
    this.#discovery.unref();
  }

  pending(): number {
    return this.#buffer.length + this.#inFlight.size;
  }

  async drain(): Promise<void> {
    await this.flush();
    const poll = this.#options.drainPollMs ?? 100;
    while (this.#closed === null) {
      const endpoints = await this.#knownEndpoints([]);
      let unsettled = this.#buffer.length + this.#inFlight.size;
      for (const endpoint of endpoints) {
        for (const queue of await this.#queuesOf(endpoint)) {
          const counts = await queue.getJobCounts(...JOB_STATES_UNSETTLED);
          for (const count of Object.values(counts)) unsettled += count;
        }
      }
      if (unsettled === 0) return;
      await sleep(poll);
    }
  }

  async deadLetters(filter: DeadLetterFilter = {}): Promise<readonly DeadLetter<R>[]> {
    const letters: DeadLetter<R>[] = [];
    for (const endpoint of await this.#knownEndpoints(filter.endpoint === undefined ? [] : [filter.endpoint])) {
      if (filter.endpoint !== undefined && endpoint !== filter.endpoint) continue;
      for (const queue of await this.#queuesOf(endpoint)) {
        for (const job of (await queue.getFailed(0, -1)) as Job<JobData>[]) {
          if (job.data.v === 1) letters.push(this.#deadLetter(job));
        }
      }
    }
    return selectDeadLetters(letters, filter);
  }

  async requeue(deliveryIds: readonly string[]): Promise<readonly string[]> {
    if (this.#closed !== null) throw new ClosedError('Expected an open redis store to requeue dead letters, got a closed one');
    const requeued: string[] = [];
    for (const job of await this.#failedJobs(deliveryIds)) {
      const { failure: _failure, ...data } = job.data;
      await job.updateData({ ...data, attempts: 0 });
      await job.retry('failed', { resetAttemptsStarted: true, resetAttemptsMade: true });
      requeued.push(job.data.deliveryId);
    }
    log('store (redis): %d dead letters requeued', requeued.length);
    const order = new Map(deliveryIds.map((id, index) => [id, index]));
    return requeued.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  }

  async discard(deliveryIds: readonly string[]): Promise<number> {
    let discarded = 0;
    for (const job of await this.#failedJobs(deliveryIds)) {
      await job.remove();
      discarded += 1;
    }
    return discarded;
  }

  close(options: StoreCloseOptions = {}): Promise<void> {
    if (this.#closed !== null) return this.#closed;
    const timeoutMs = options.timeoutMs ?? 5_000;
    if (this.#discovery !== null) clearInterval(this.#discovery);
    this.#closed = (async () => {
      await withTimeout(this.flush(), timeoutMs).catch(() => log('store (redis): %d deliveries not acknowledged by Redis at close', this.#buffer.length));
      const workers = [...this.#workers.values()];
      const gentle = await withTimeout(Promise.all(workers.map((worker) => worker.close())), timeoutMs).then(
        () => true,
        () => false,
      );
      if (!gentle) {
        // Attempts still running are abandoned: their lock expires and another instance takes them over.
        for (const abort of this.#inFlight.values()) abort.abort(new ClosedError('The redis store was closed'));
        await Promise.allSettled(workers.map((worker) => worker.close(true)));
      }
      await Promise.allSettled([...this.#queues.values()].map(async (queue) => (await queue).close()));
      await Promise.allSettled([this.#subscriber.quit(), this.#connection.quit()]);
      this.#outcomes.complete();
      for (const waiter of this.#flushWaiters) waiter.resolve();
      this.#flushWaiters = [];
    })();
    return this.#closed;
  }

  #queueName(endpoint: string, key: string): string {
    const partition = createHash('sha256').update(key).digest().readUInt32BE(0) % this.#options.partitions;
    return `${this.#options.name}.${endpointIdOf(endpoint)}.${partition}`;
  }

  #queue(queueName: string): Promise<Queue> {
    let queue = this.#queues.get(queueName);
    if (queue === undefined) {
      queue = (async () => {
        const created: Queue = new this.#bull.Queue(queueName, { connection: this.#connection, prefix: this.#options.prefix });
        created.on('error', (error: Error) => log('store (redis): queue %s: %s', queueName, error.message));
        await created.setGlobalConcurrency(1);
        return created;
      })();
      this.#queues.set(queueName, queue);
    }
    return queue;
  }

  #queuesOf(endpoint: string): Promise<Queue[]> {
    const endpointId = endpointIdOf(endpoint);
    return Promise.all(Array.from({ length: this.#options.partitions }, (_, partition) => this.#queue(`${this.#options.name}.${endpointId}.${partition}`)));
  }

  /** Starts workers for the given endpoints and for every endpoint recorded in Redis. */
  async #discover(extra: readonly string[]): Promise<void> {
    if (this.#handlers === null || this.#closed !== null) return;
    try {
      const endpoints = await this.#knownEndpoints(extra);
      await Promise.all(endpoints.map((endpoint) => this.#startWorkers(endpoint)));
    } catch (error) {
      log('store (redis): could not start the workers: %s', messageOf(error));
    }
  }

  async #knownEndpoints(extra: readonly string[]): Promise<string[]> {
    const recorded = await this.#connection.smembers(this.#endpointsKey);
    return [...new Set([...extra, ...recorded, ...this.#endpoints])];
  }

  async #flushLoop(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      let failures = 0;
      while (this.#buffer.length > 0) {
        const batch = nextBatch(this.#buffer);
        try {
          const byQueue = new Map<string, Buffered[]>();
          for (const job of batch) {
            const jobs = byQueue.get(job.queueName);
            if (jobs === undefined) byQueue.set(job.queueName, [job]);
            else jobs.push(job);
          }
          const endpoints = [...new Set(batch.map((job) => job.endpoint))].filter((endpoint) => !this.#endpoints.has(endpoint));
          const added = endpoints.length === 0 ? 0 : await this.#connection.sadd(this.#endpointsKey, ...endpoints);
          await Promise.all(
            [...byQueue].map(async ([queueName, jobs]) =>
              (await this.#queue(queueName)).addBulk(
                jobs.map((job) => ({ name: job.name, data: job.data, opts: { jobId: job.data.deliveryId, removeOnComplete: true, removeOnFail: false } })),
              ),
            ),
          );
          for (const endpoint of endpoints) {
            this.#endpoints.add(endpoint);
            if (this.#handlers !== null) void this.#startWorkers(endpoint);
          }
          if (added > 0) {
            const announcement: WireEndpoints = { type: 'endpoints', instance: this.#instance };
            await this.#connection.publish(this.#channel, JSON.stringify(announcement));
          }
          this.#buffer.splice(0, batch.length);
          this.#acknowledged += batch.length;
          failures = 0;
          const waiters = this.#flushWaiters;
          this.#flushWaiters = waiters.filter((waiter) => waiter.target > this.#acknowledged);
          for (const waiter of waiters) if (waiter.target <= this.#acknowledged) waiter.resolve();
        } catch (error) {
          failures += 1;
          log('store (redis): journal write failed (%d in a row), trying again: %s', failures, messageOf(error));
          if (this.#closed !== null && failures > 3) return;
          await sleep(Math.min(100 * 2 ** failures, 2_000));
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #startWorkers(endpoint: string): Promise<void> {
    if (this.#closed !== null) return;
    this.#endpoints.add(endpoint);
    const endpointId = endpointIdOf(endpoint);
    for (let partition = 0; partition < this.#options.partitions; partition += 1) {
      const queueName = `${this.#options.name}.${endpointId}.${partition}`;
      if (this.#workers.has(queueName)) continue;
      const queue = await this.#queue(queueName);
      if (this.#closed !== null || this.#workers.has(queueName)) return;
      const worker: Worker = new this.#bull.Worker(queueName, (job: Job<JobData>) => this.#process(queue, job), {
        connection: this.#connection,
        prefix: this.#options.prefix,
        concurrency: 1,
        limiter: LIMITER,
        lockDuration: this.#options.lockDurationMs ?? 30_000,
        stalledInterval: this.#options.stalledIntervalMs ?? 30_000,
        maxStalledCount: this.#options.maxStalledCount ?? 10,
      });
      worker.on('error', (error: Error) => log('store (redis): worker %s: %s', queueName, error.message));
      worker.on('completed', (job: Job<JobData>) => this.#announce(job, null));
      worker.on('failed', (job: Job<JobData> | undefined, error: Error) => {
        if (job !== undefined) this.#announce(job, error);
      });
      this.#workers.set(queueName, worker);
    }
  }

  /** Runs one delivery attempt (planning it first when it has no request yet). */
  async #process(queue: Queue, job: Job<JobData>): Promise<string> {
    const handlers = this.#handlers;
    const { UnrecoverableError, Worker: WorkerClass } = this.#bull;
    const data = job.data;
    const abort = new AbortController();
    this.#inFlight.set(data.deliveryId, abort);
    try {
      let event: ServiceEvent<R>;
      let stored: RequestDescriptor | null;
      try {
        event = decodeEvent<R>(Buffer.from(data.event, 'base64'));
        stored = data.request === null ? null : decodeRequest(data.request);
      } catch (error) {
        throw new UnrecoverableError(`Expected delivery ${data.deliveryId} to hold a readable event and request, it did not: ${messageOf(error)}`);
      }
      if (handlers === null) throw WorkerClass.RateLimitError();
      const attempt = Math.max(1, attemptsOf(job));
      const started = attempt - 1;
      const delivery: StoredDelivery<R> = { deliveryId: data.deliveryId, event, endpoint: data.endpoint, key: data.key, acceptedAt: data.acceptedAt, request: stored, attempts: started };
      let request = stored;
      let stripped = data.stripped;
      let next: JobData = data;
      const fail = async (outcome: FailedOutcome<R>): Promise<never> => {
        this.#settled.set(data.deliveryId, outcome);
        const failure = { reason: outcome.reason, error: encodeError(outcome.error), response: outcome.response === null ? null : encodeResponse(outcome.response) };
        await job.updateData({ ...next, attempts: outcome.attempts, failure });
        throw new UnrecoverableError(failure.error.message);
      };
      if (request === null) {
        const plan = await this.#plan(handlers, delivery);
        if (plan.kind === 'skipped') {
          this.#settled.set(data.deliveryId, { ...plan, acceptedAt: data.acceptedAt });
          return 'skipped';
        }
        if (plan.kind === 'failed') return await fail({ ...plan, acceptedAt: data.acceptedAt });
        if (plan.request.deliveryId !== data.deliveryId) {
          return await fail(
            failedOutcome(delivery, null, 'payload', new PayloadError(`Expected the planned request of ${data.endpoint} to have delivery id ${data.deliveryId}, got ${plan.request.deliveryId}`), null, 0),
          );
        }
        const encoded = encodeRequest(plan.request);
        next = { ...next, request: encoded.json, stripped: encoded.stripped };
        await job.updateData(next);
        request = plan.request;
        stripped = [];
      }
      const sent = restoreRequest(request, stripped, handlers.restoreSecrets);
      let result: AttemptResult;
      try {
        result = await firstValue(() => handlers.attempt({ ...delivery, request: sent, attempt, signal: abort.signal }), {
          signal: abort.signal,
          // Back to the head of its partition: another instance, or this one later, sends it.
          onAbort: () => ({ kind: 'retry', delayMs: 1, reason: 'network', error: new NetworkError(`The attempt of delivery ${data.deliveryId} was aborted: the store is closing`), response: null }),
        });
      } catch (error) {
        result = { kind: 'failed', reason: 'network', error: new NetworkError(`The attempt handler of delivery ${data.deliveryId} threw: ${messageOf(error)}`, { cause: error }), response: null };
      }
      if (result.kind === 'delivered') {
        this.#settled.set(data.deliveryId, {
          kind: 'delivered',
          event,
          endpoint: data.endpoint,
          request: sent,
          response: result.response,
          attempts: attempt,
          acceptedAt: data.acceptedAt,
          settledAt: Date.now(),
        });
        return 'delivered';
      }
      if (result.kind === 'failed') return await fail(failedOutcome(delivery, sent, result.reason, result.error, result.response, attempt));
      // Back to the head of the partition, which waits for the backoff: nothing overtakes the delivery.
      await queue.rateLimit(Math.max(1, Math.ceil(result.delayMs)));
      throw WorkerClass.RateLimitError();
    } catch (error) {
      if (error instanceof UnrecoverableError || (error instanceof Error && error.message === this.#bull.RATE_LIMIT_ERROR)) throw error;
      // Redis failed us mid-delivery: keep the delivery at the head of its partition and try again.
      log('store (redis): delivery %s interrupted, trying again in 1 s: %s', data.deliveryId, messageOf(error));
      await queue.rateLimit(1_000).catch(() => undefined);
      throw WorkerClass.RateLimitError();
    } finally {
      this.#inFlight.delete(data.deliveryId);
    }
  }

  async #plan(handlers: DeliveryHandlers<R>, delivery: StoredDelivery<R>): Promise<RequestPlan<R>> {
    try {
      return await firstValue(() => handlers.plan(delivery));
    } catch (error) {
      return failedOutcome(delivery, null, 'payload', new PayloadError(`Planning delivery ${delivery.deliveryId} to ${delivery.endpoint} threw: ${messageOf(error)}`, { cause: error }), null, 0);
    }
  }

  /** A job of this instance's worker was settled: emit its outcome here and publish it to the others. */
  #announce(job: Job<JobData>, error: Error | null): void {
    const data = job.data;
    let outcome = this.#settled.get(data.deliveryId);
    this.#settled.delete(data.deliveryId);
    if (outcome === undefined) {
      if (error === null) return;
      // Failed by BullMQ itself (taken over from dead instances too many times).
      outcome = this.#deadLetter(job);
    }
    this.#outcomes.next({ deliveryId: data.deliveryId, outcome, local: true });
    const wire: WireOutcome = {
      type: 'outcome',
      instance: this.#instance,
      deliveryId: data.deliveryId,
      kind: outcome.kind,
      endpoint: outcome.endpoint,
      event: data.event,
      request: outcome.kind === 'skipped' || outcome.request === null ? null : encodeRequest(outcome.request).json,
      response: outcome.kind === 'skipped' || outcome.response === null ? null : encodeResponse(outcome.response),
      attempts: outcome.kind === 'skipped' ? 0 : outcome.attempts,
      reason: outcome.kind === 'delivered' ? null : outcome.reason,
      error: outcome.kind === 'failed' ? encodeError(outcome.error) : null,
      acceptedAt: outcome.acceptedAt,
      settledAt: outcome.settledAt,
    };
    this.#connection.publish(this.#channel, JSON.stringify(wire)).catch((publishError: unknown) => log('store (redis): could not publish outcome %s: %s', data.deliveryId, messageOf(publishError)));
  }

  #receive(message: string): void {
    let wire: WireOutcome | WireEndpoints;
    try {
      wire = JSON.parse(message) as WireOutcome | WireEndpoints;
    } catch {
      return;
    }
    if (wire.instance === this.#instance || this.#closed !== null) return;
    if (wire.type === 'endpoints') {
      void this.#discover([]);
      return;
    }
    try {
      const event = decodeEvent<R>(Buffer.from(wire.event, 'base64'));
      const request = wire.request === null ? null : decodeRequest(wire.request);
      const response = wire.response === null ? null : decodeResponse(wire.response);
      const timing = { acceptedAt: wire.acceptedAt, settledAt: wire.settledAt };
      let outcome: DeliveryOutcome<R>;
      if (wire.kind === 'delivered' && request !== null && response !== null) {
        outcome = { kind: 'delivered', event, endpoint: wire.endpoint, request, response, attempts: wire.attempts, ...timing };
      } else if (wire.kind === 'skipped') {
        outcome = { kind: 'skipped', event, endpoint: wire.endpoint, reason: wire.reason as 'restricted' | 'feedback-loop', ...timing };
      } else {
        const error = decodeError(wire.error ?? { name: 'ProvisionerError', message: 'unknown failure' }, response);
        outcome = { kind: 'failed', event, endpoint: wire.endpoint, request, reason: wire.reason as FailureReason, error, attempts: wire.attempts, response, ...timing };
      }
      this.#outcomes.next({ deliveryId: wire.deliveryId, outcome, local: false });
    } catch (error) {
      log('store (redis): unreadable outcome %s from another instance: %s', wire.deliveryId, messageOf(error));
    }
  }

  #deadLetter(job: Job<JobData>): DeadLetter<R> {
    const data = job.data;
    const failure = data.failure;
    const response = failure?.response === null || failure?.response === undefined ? null : decodeResponse(failure.response);
    return {
      kind: 'failed',
      deliveryId: data.deliveryId,
      event: decodeEvent<R>(Buffer.from(data.event, 'base64')),
      endpoint: data.endpoint,
      request: data.request === null ? null : decodeRequest(data.request),
      reason: failure?.reason ?? 'network',
      error:
        failure === undefined
          ? new NetworkError(`Delivery ${data.deliveryId} was stopped by the queue: ${job.failedReason}`)
          : decodeError(failure.error, response),
      attempts: failure === undefined ? attemptsOf(job) : data.attempts,
      response,
      acceptedAt: data.acceptedAt,
      settledAt: job.finishedOn ?? job.processedOn ?? Date.now(),
    };
  }

  async #failedJobs(deliveryIds: readonly string[]): Promise<Job<JobData>[]> {
    const wanted = new Set(deliveryIds);
    const jobs: Job<JobData>[] = [];
    for (const endpoint of await this.#knownEndpoints([])) {
      for (const queue of await this.#queuesOf(endpoint)) {
        const found = await Promise.all([...wanted].map((id) => queue.getJob(id) as Promise<Job<JobData> | undefined>));
        for (const job of found) {
          if (job === undefined || !wanted.has(job.data.deliveryId)) continue;
          if ((await job.getState()) !== 'failed') continue;
          wanted.delete(job.data.deliveryId);
          jobs.push(job);
        }
        if (wanted.size === 0) return jobs;
      }
    }
    return jobs;
  }
}

/** Jobs sent to Redis in one batch at most. */
const BATCH_JOBS = 1_000;
/** Event and request bytes sent to Redis in one batch at most (a batch holds at least one job). */
const BATCH_BYTES = 256 * 1024;

/**
 * The next jobs of the buffer to send at once. Bounded in bytes too: a batch is built and
 * written to the socket in one go, and 1,000 jobs of large records (several MB) held the event
 * loop for over 100 ms when hook calls had buffered that many while the first batch was out.
 */
function nextBatch(buffer: readonly Buffered[]): Buffered[] {
  let bytes = 0;
  let count = 0;
  for (const job of buffer) {
    bytes += job.data.event.length + (job.data.request?.length ?? 0);
    if (count > 0 && (count >= BATCH_JOBS || bytes > BATCH_BYTES)) break;
    count += 1;
  }
  return buffer.slice(0, count);
}

/** The attempts started on a job: BullMQ counts its starts. */
function attemptsOf(job: Job): number {
  return job.attemptsStarted;
}

function failedOutcome<R>(
  delivery: StoredDelivery<R>,
  request: RequestDescriptor | null,
  reason: FailureReason,
  error: ProvisionerError,
  response: FailedOutcome<R>['response'],
  attempts: number,
): FailedOutcome<R> {
  return { kind: 'failed', event: delivery.event, endpoint: delivery.endpoint, request, reason, error, attempts, response, acceptedAt: delivery.acceptedAt, settledAt: Date.now() };
}

async function loadOptional<M>(name: string, load: () => Promise<M>): Promise<M> {
  try {
    return await load();
  } catch (error) {
    throw new ProvisionerError(`Expected the optional dependency ${name} to be installed for the Redis store, but loading it failed: ${messageOf(error)}`, { cause: error });
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
