/**
 * The Redis store over BullMQ: see `createRedisStore` for what it does.
 * @internal
 * @packageDocumentation
 */
import { hash, randomBytes } from 'node:crypto';
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { Subject, type Observable } from 'rxjs';
import { ClosedError, ProvisionerError } from '../errors.js';
import type { ServiceEvent } from '../events/serviceEvent.js';
import { messageOf } from '../util/describeValue.js';
import { logger } from '../util/log.js';
import { endpointIdOf } from '../events/deliveryId.js';
import type {
  DeadLetter,
  DeadLetterFilter,
  DeliveryHandlers,
  DeliveryStore,
  JournalEntry,
  JournalResult,
  StoreCloseOptions,
  StoreOutcome,
} from './deliveryStore.js';
import { journaledDeliveries, UnsettledDeliveries } from './journaledDeliveries.js';
import { selectDeadLetters } from './memoryStore.js';
import { BULL_EVENTS_KEPT, deadLetterOf, JOB_STATES_UNSETTLED, jobDataToWrite, limiterFor, verbatim, type BullModule, type Buffered, type JobData } from './redisJob.js';
import { RedisJournalBuffer } from './redisJournalBuffer.js';
import { instancesKey } from './redisInstances.js';
import { OutcomeStream } from './redisOutcomeStream.js';
import { processJob, type ProcessContext, type SettledHere } from './redisProcess.js';
import { releaseRedis } from './redisRelease.js';
import { outcomeOfWire, parseWire, wireOutcome, type WireMessage } from './redisWire.js';
import { sleep, withTimeout } from './waits.js';

const log = logger('delivery');

/**
 * The settings of a {@link RedisSharedStore}: `createRedisStore`'s options with their
 * defaults, as every instance sharing the store must have them.
 * @internal
 */
export type RedisStoreSettings = {
  readonly prefix: string;
  readonly name: string;
  readonly partitions: number;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly maxStalledCount: number;
  readonly maxQueue: number;
  readonly drainPollMs: number;
  readonly discoveryIntervalMs: number;
  readonly outcomeStreamLength: number;
  /** The outcome stream's last entry id when the store was created: this instance reads on from it. */
  readonly streamStart: string;
};

/** The key of the outcome stream of the store `name` under `prefix`. @internal */
export function outcomeStreamKey(prefix: string, name: string): string {
  return `${prefix}:${name}:outcome-stream`;
}

/**
 * The Redis store itself (see `createRedisStore`): journal buffer, BullMQ queues and
 * workers per endpoint and partition, the outcome stream, dead letters in the failed sets.
 * @internal
 */
export class RedisSharedStore<R> implements DeliveryStore<R> {
  readonly kind = 'redis' as const;
  readonly outcomes$: Observable<StoreOutcome<R>>;
  readonly #outcomes = new Subject<StoreOutcome<R>>();
  readonly #bull: BullModule;
  readonly #connection: Redis;
  readonly #stream: OutcomeStream;
  readonly #options: RedisStoreSettings;
  readonly #instance = randomBytes(9).toString('base64url');
  readonly #endpointsKey: string;
  readonly #queues = new Map<string, Promise<Queue>>();
  readonly #workers = new Map<string, Worker>();
  readonly #endpoints = new Set<string>();
  readonly #inFlight = new Map<string, AbortController>();
  /** Outcomes reached by this instance's processor, handed to the worker's completed/failed listeners. */
  readonly #settled = new Map<string, SettledHere<R>>();
  readonly #unsettled: UnsettledDeliveries<R>;
  readonly #processContext: ProcessContext<R>;
  readonly #buffer: RedisJournalBuffer;
  #handlers: DeliveryHandlers<R> | null = null;
  #discovery: ReturnType<typeof setInterval> | null = null;
  #closed: Promise<void> | null = null;

  constructor(bull: BullModule, connection: Redis, options: RedisStoreSettings) {
    this.#bull = bull;
    this.#connection = connection;
    this.#options = options;
    this.#unsettled = new UnsettledDeliveries('redis', options.maxQueue);
    this.#endpointsKey = `${options.prefix}:${options.name}:endpoints`;
    this.#buffer = new RedisJournalBuffer({ write: (batch) => this.#write(batch), isClosed: () => this.#closed !== null });
    this.#processContext = {
      bull,
      handlers: () => this.#handlers,
      inFlight: this.#inFlight,
      settled: this.#settled,
      journaledEvent: (deliveryId) => this.#unsettled.eventOf(deliveryId),
    };
    this.outcomes$ = this.#outcomes.asObservable();
    this.#stream = new OutcomeStream(connection, {
      key: outcomeStreamKey(options.prefix, options.name),
      maxLength: options.outcomeStreamLength,
      startId: options.streamStart,
      readerName: `${options.prefix}:${options.name}:outcome-reader:${this.#instance}`,
      instance: this.#instance,
      instancesKey: instancesKey(options.prefix, options.name),
      onMessage: (message) => this.#receive(message),
    });
  }

  /** Says this instance is alive before anything is journaled here: the others append the outcomes it reads from now on. */
  open(): Promise<void> {
    return this.#stream.open();
  }

  journal(entries: readonly JournalEntry<R>[]): JournalResult {
    const deliveries = journaledDeliveries('redis', entries, this.#closed !== null);
    if (!Array.isArray(deliveries)) return deliveries;
    const jobs = deliveries.map(({ event, encoded, endpoint, key, deliveryId, acceptedAt }): Buffered => ({
      queueName: this.#queueName(endpoint, key),
      endpoint,
      name: `${event.serviceType}.${event.method}`,
      data: { v: 1, deliveryId, endpoint, key, acceptedAt, event: encoded, request: null, stripped: [], attempts: 0 },
    }));
    const answer = this.#unsettled.admit(deliveries, entries.length);
    if (answer.kind === 'journaled') this.#buffer.push(jobs);
    return answer;
  }

  flush(): Promise<void> {
    return this.#buffer.flush();
  }

  start(handlers: DeliveryHandlers<R>): void {
    if (this.#handlers !== null) throw new ProvisionerError('Expected the redis store to be started once, it was started already');
    if (this.#closed !== null) throw new ClosedError('Expected an open redis store to start, got a closed one');
    this.#handlers = handlers;
    void this.#discover(handlers.endpoints ?? []);
    this.#discovery = setInterval(() => void this.#discover([]), this.#options.discoveryIntervalMs);
    this.#discovery.unref();
  }

  pending(): number {
    return this.#unsettled.pending(this.#inFlight.keys());
  }

  /** Resolves when the shared queue holds nothing unsettled: it waits on Redis's state, not on the outcomes this instance has heard of. */
  async drain(): Promise<void> {
    await this.flush();
    const poll = this.#options.drainPollMs;
    while (this.#closed === null) {
      // What was journaled here before this count is settled if the count finds nothing.
      const counted = this.#unsettled.snapshot();
      const endpoints = await this.#knownEndpoints([]);
      let unsettled = this.#buffer.length + this.#inFlight.size;
      for (const endpoint of endpoints) {
        for (const queue of await this.#queuesOf(endpoint)) {
          const counts = await queue.getJobCounts(...JOB_STATES_UNSETTLED);
          for (const count of Object.values(counts)) unsettled += count;
        }
      }
      if (unsettled === 0 && !this.#announcing()) {
        for (const deliveryId of counted) this.#forget(deliveryId);
        return;
      }
      await sleep(poll);
    }
  }

  /**
   * Whether a job settled here waits for its outcome to be emitted: Redis counts it settled as
   * soon as the worker's move runs, before the worker hears back and emits it. A worker that
   * lost the job's lock never does, so an outcome older than the lock is not waited for.
   */
  #announcing(): boolean {
    const lockedSince = Date.now() - this.#options.lockDurationMs;
    for (const { outcome } of this.#settled.values()) if (outcome.settledAt > lockedSince) return true;
    return false;
  }

  async deadLetters(filter: DeadLetterFilter = {}): Promise<readonly DeadLetter<R>[]> {
    const letters: DeadLetter<R>[] = [];
    for (const endpoint of await this.#knownEndpoints(filter.endpoint === undefined ? [] : [filter.endpoint])) {
      if (filter.endpoint !== undefined && endpoint !== filter.endpoint) continue;
      for (const queue of await this.#queuesOf(endpoint)) {
        for (const job of (await queue.getFailed(0, -1)) as Job<JobData>[]) {
          if (job.data.v === 1) letters.push(deadLetterOf<R>(job));
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
      // One deadline for the whole close, shared by its steps.
      const deadline = Date.now() + timeoutMs;
      await withTimeout(this.flush(), timeoutMs).catch(() => log('store (redis): %d deliveries not acknowledged by Redis at close', this.#buffer.length));
      await releaseRedis({ workers: [...this.#workers.values()], queues: [...this.#queues.values()], stream: this.#stream, connection: this.#connection, inFlight: this.#inFlight }, deadline);
      this.#outcomes.complete();
      this.#buffer.release();
    })();
    return this.#closed;
  }

  #queueName(endpoint: string, key: string): string {
    const partition = hash('sha256', key, 'buffer').readUInt32BE(0) % this.#options.partitions;
    return `${this.#options.name}.${endpointIdOf(endpoint)}.${partition}`;
  }

  #queue(queueName: string): Promise<Queue> {
    let queue = this.#queues.get(queueName);
    if (queue === undefined) {
      queue = (async () => {
        const created: Queue = new this.#bull.Queue(queueName, { connection: this.#connection, prefix: this.#options.prefix, streams: { events: { maxLen: BULL_EVENTS_KEPT } } });
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

  /** Writes a batch of the journal buffer: its jobs, and the endpoints no instance had recorded (announced on the stream). */
  async #write(batch: readonly Buffered[]): Promise<void> {
    const byQueue = new Map<string, Buffered[]>();
    for (const job of batch) {
      const jobs = byQueue.get(job.queueName);
      if (jobs === undefined) byQueue.set(job.queueName, [job]);
      else jobs.push(job);
    }
    const endpoints = [...new Set(batch.map((job) => job.endpoint))].filter((endpoint) => !this.#endpoints.has(endpoint));
    const added = endpoints.length === 0 ? 0 : await this.#connection.sadd(this.#endpointsKey, ...endpoints);
    await Promise.all(
      [...byQueue].map(async ([queueName, jobs]) => {
        const queue = await this.#queue(queueName);
        // One add per job, not addBulk: its pipeline costs more to build than it saves (ioredis
        // copies every BullMQ script onto it), and the connection's writes of one turn leave
        // together anyway (coalesceWrites). The adds are issued in order, each after the same
        // steps, so their scripts reach Redis in the order of the queue's lane.
        await Promise.all(jobs.map((job) => queue.add(job.name, jobDataToWrite(job.data), { jobId: job.data.deliveryId, removeOnComplete: true, removeOnFail: false })));
      }),
    );
    for (const endpoint of endpoints) {
      this.#endpoints.add(endpoint);
      if (this.#handlers !== null) void this.#startWorkers(endpoint);
    }
    if (added > 0) {
      const announcement: WireMessage = { type: 'endpoints', instance: this.#instance };
      await this.#stream.append(JSON.stringify(announcement));
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
      const worker: Worker = new this.#bull.Worker(queueName, (job: Job<JobData>) => processJob(this.#processContext, queue, job), {
        connection: this.#connection,
        prefix: this.#options.prefix,
        concurrency: 1,
        limiter: limiterFor(this.#handlers?.rates?.[endpoint], this.#options.partitions),
        lockDuration: this.#options.lockDurationMs,
        stalledInterval: this.#options.stalledIntervalMs,
        maxStalledCount: this.#options.maxStalledCount,
      });
      worker.on('error', (error: Error) => log('store (redis): worker %s: %s', queueName, error.message));
      worker.on('completed', (job: Job<JobData>) => this.#announce(job, null));
      worker.on('failed', (job: Job<JobData> | undefined, error: Error) => {
        if (job !== undefined) this.#announce(job, error);
      });
      this.#workers.set(queueName, worker);
    }
  }

  /** A job of this instance's worker was settled: emit its outcome here and append it to the stream for the others. */
  #announce(job: Job<JobData>, error: Error | null): void {
    const data = job.data;
    let settled = this.#settled.get(data.deliveryId);
    this.#settled.delete(data.deliveryId);
    if (settled === undefined) {
      if (error === null) return;
      // Failed by BullMQ itself (taken over from dead instances too many times).
      settled = { outcome: deadLetterOf<R>(job) };
    }
    const { outcome, request } = settled;
    const elsewhere = !this.#unsettled.has(data.deliveryId); // its instance counts it settled from the stream
    this.#forget(data.deliveryId);
    this.#outcomes.next({ deliveryId: data.deliveryId, outcome, local: true });
    const message = (): string => JSON.stringify(wireOutcome(this.#instance, data.deliveryId, outcome, verbatim(data.event, 'base64'), request?.() ?? undefined));
    this.#stream.appendOutcome(message, elsewhere).catch((appendError: unknown) => log('store (redis): could not append outcome %s to the stream: %s', data.deliveryId, messageOf(appendError)));
  }

  #receive(message: string): void {
    const wire = parseWire(message);
    if (wire === null || wire.instance === this.#instance || this.#closed !== null) return;
    if (wire.type === 'endpoints') {
      void this.#discover([]);
      return;
    }
    this.#forget(wire.deliveryId);
    try {
      const outcome = outcomeOfWire<R>(wire);
      this.#outcomes.next({ deliveryId: wire.deliveryId, outcome, local: false });
    } catch (error) {
      log('store (redis): unreadable outcome %s from another instance: %s', wire.deliveryId, messageOf(error));
    }
  }

  /** A delivery settled, here or by another instance. */
  #forget(deliveryId: string): void {
    this.#unsettled.settled(deliveryId);
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
