/**
 * The part the memory and SQLite stores share: journal, ordered lanes, planning, attempts,
 * retries, dead letters, drain and close, over a {@link Persistence} that is a no-op (memory)
 * or a database (SQLite).
 * @internal
 * @packageDocumentation
 */
import { Subject, asyncScheduler, type Observable, type SchedulerLike } from 'rxjs';
import { deliveryKey } from '../events/deliveryKey.js';
import { DEFAULT_CONCURRENCY } from '../delivery/keyedQueue.js';
import { ClosedError, NetworkError, OverflowError, PayloadError, ProvisionerError } from '../errors.js';
import type { DeliveryOutcome, FailedOutcome, FailureReason, RequestPlan } from '../events/outcomes.js';
import type { ProvisionerResponse, RequestDescriptor } from '../events/request.js';
import type { AppRecord } from '../events/serviceEvent.js';
import { logger } from '../util/log.js';
import { restoreRequest } from './codec.js';
import { deliveryIdOf } from '../events/deliveryId.js';
import type { AttemptResult, DeadLetter, DeadLetterFilter, DeliveryHandlers, DeliveryStore, JournalEntry, JournalResult } from './deliveryStore.js';
import type { StoreCloseOptions, StoreOutcome, StoreStats } from './deliveryStore.js';
import { firstOf } from './firstOf.js';
import { attemptInputOf, failedOutcome, laneItemOf, newLaneItem, viewOf, type LaneItemOf as Item } from './laneItem.js';
import { LaneScheduler } from './laneScheduler.js';
import { ProgressCommits } from './progressCommits.js';
import type { PersistedDelivery, Persistence } from './persistence.js';
import { messageOf } from '../util/describeValue.js';

const log = logger('delivery');

/** Options of {@link LocalStore}. @internal */
export type LocalStoreOptions<R> = {
  readonly kind: 'memory' | 'sqlite';
  readonly persistence: Persistence<R>;
  /** Unsettled deliveries accepted at most; past it `journal` answers `overflow`. */
  readonly maxQueue: number;
  /** Deliveries held in memory at most; the others wait in persistence (SQLite). */
  readonly maxInMemory: number;
  /** Whether `close()` ends unsettled deliveries as `failed` with reason `closed` (nothing keeps them). */
  readonly failOnClose: boolean;
  /** The clock, when not the scheduler's (tests of persistence timestamps). */
  readonly now?: () => number;
};

/**
 * A {@link DeliveryStore} that runs its deliveries in this process.
 * @internal
 */
export class LocalStore<R = AppRecord> implements DeliveryStore<R> {
  readonly kind: 'memory' | 'sqlite';
  readonly outcomes$: Observable<StoreOutcome<R>>;
  readonly #outcomes = new Subject<StoreOutcome<R>>();
  readonly #persistence: Persistence<R>;
  readonly #lanes: LaneScheduler<Item<R>>;
  readonly #maxQueue: number;
  readonly #maxInMemory: number;
  readonly #failOnClose: boolean;
  readonly #clock: (() => number) | null;
  #scheduler: SchedulerLike = asyncScheduler;
  readonly #inMemory = new Map<string, Item<R>>();
  #drainWaiters: (() => void)[] = [];
  #handlers: DeliveryHandlers<R> | null = null;
  /** Unsettled deliveries, in memory or only in persistence. */
  #total: number;
  /** Every unsettled delivery with a sequence number up to this one is in memory. */
  #cursor: number;
  /** The highest sequence number recorded. */
  #tail: number;
  #closed: Promise<void> | null = null;
  /** close() has begun: writes still committing end there, nothing new is sent. */
  #stopping = false;
  readonly #commits: ProgressCommits;

  constructor(options: LocalStoreOptions<R>) {
    this.kind = options.kind;
    this.#persistence = options.persistence;
    this.#maxQueue = options.maxQueue;
    this.#maxInMemory = options.maxInMemory;
    this.#failOnClose = options.failOnClose;
    this.#clock = options.now ?? null;
    this.outcomes$ = this.#outcomes.asObservable();
    this.#commits = new ProgressCommits(this.#persistence, () => (this.#handlers === null ? null : this.#scheduler));
    this.#lanes = new LaneScheduler<Item<R>>({ run: (item) => this.#execute(item), groupOf: (item) => item.endpoint });
    this.#total = this.#persistence.found.count;
    this.#cursor = 0;
    this.#tail = this.#persistence.found.lastSeq;
    this.#refill();
    if (this.#total > 0) log('store (%s): %d unsettled deliveries resumed', this.kind, this.#total);
  }

  journal(entries: readonly JournalEntry<R>[]): JournalResult {
    if (this.#closed !== null) {
      return { kind: 'error', error: new ClosedError(`Expected an open ${this.kind} store to journal ${entries.length} event(s), got a closed one`) };
    }
    // The lane items themselves are what persistence records (they carry every field of a new delivery).
    const items: Item<R>[] = [];
    for (const { event, endpoints, acceptedAt } of entries) {
      for (const endpoint of endpoints) {
        const key = deliveryKey({ endpoint, recordId: event.recordId, draftId: event.draftId, eventId: event.eventId });
        items.push(newLaneItem(deliveryIdOf(event.eventId, endpoint), event, endpoint, key, acceptedAt ?? event.emittedAt));
      }
    }
    if (this.#total + items.length > this.#maxQueue) {
      return {
        kind: 'overflow',
        error: new OverflowError(
          `Expected fewer than ${this.#maxQueue} deliveries pending in the ${this.kind} store (maxQueue), found ${this.#total}; ${items.length} deliveries of ${entries.length} event(s) were not accepted`,
        ),
      };
    }
    let inserted: readonly { readonly deliveryId: string; readonly seq: number }[];
    try {
      inserted = this.#persistence.insert(items);
      this.#commits.soon();
    } catch (error) {
      log('store (%s): journal failed: %s', this.kind, messageOf(error));
      return {
        kind: 'error',
        error: new ProvisionerError(`Expected the ${this.kind} store to journal ${items.length} deliveries, but writing failed: ${messageOf(error)}`, { cause: error }),
      };
    }
    // Persistence answers in the order it was given, leaving out ids it had already.
    let next = 0;
    for (const { deliveryId, seq } of inserted) {
      while (next < items.length && (items[next] as Item<R>).deliveryId !== deliveryId) next += 1;
      const item = items[next];
      next += 1;
      if (item === undefined) break;
      item.seq = seq;
      this.#accept(item);
    }
    const deliveryIds = items.map((item) => item.deliveryId);
    return { kind: 'journaled', deliveryIds };
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  start(handlers: DeliveryHandlers<R>): void {
    if (this.#handlers !== null) throw new ProvisionerError(`Expected the ${this.kind} store to be started once, it was started already`);
    if (this.#closed !== null) throw new ClosedError(`Expected an open ${this.kind} store to start, got a closed one`);
    this.#handlers = handlers;
    this.#scheduler = handlers.scheduler ?? asyncScheduler;
    this.#lanes.start(handlers.concurrency ?? DEFAULT_CONCURRENCY, this.#clock === null ? this.#scheduler : { now: this.#clock, schedule: this.#scheduler.schedule.bind(this.#scheduler) });
    this.#commits.soon();
  }

  pending(): number {
    return this.#total;
  }

  stats(): StoreStats {
    // The in-memory window holds the oldest unsettled deliveries, in journal order.
    const oldest = this.#inMemory.values().next();
    return { pending: this.#total, oldestAcceptedAt: oldest.done === true ? null : oldest.value.acceptedAt, deadLetters: this.#persistence.deadLetterCount() };
  }

  drain(): Promise<void> {
    if (this.#total === 0 || this.#closed !== null) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  deadLetters(filter: DeadLetterFilter = {}): Promise<readonly DeadLetter<R>[]> {
    return this.#answer(() => this.#persistence.deadLetters(filter));
  }

  requeue(deliveryIds: readonly string[]): Promise<readonly string[]> {
    if (this.#closed !== null) return Promise.reject(new ClosedError(`Expected an open ${this.kind} store to requeue dead letters, got a closed one`));
    return this.#answer(() => {
      const room = Math.max(0, this.#maxQueue - this.#total);
      const existing = this.#persistence.deadLetters({ deliveryIds, limit: deliveryIds.length }).map((letter) => letter.deliveryId);
      const rows = this.#persistence.requeue(existing.slice(0, room));
      // A write outside the commit cycle may finish a checkpoint's syncs inline (SQLite): what waited for them commits after this turn.
      this.#commits.soon();
      for (const row of rows) this.#accept(laneItemOf(row));
      log('store (%s): %d dead letters requeued', this.kind, rows.length);
      return rows.map((row) => row.deliveryId);
    });
  }

  discard(deliveryIds: readonly string[]): Promise<number> {
    return this.#answer(() => {
      const discarded = this.#persistence.discard(deliveryIds);
      this.#commits.soon(); // as in requeue
      return discarded;
    });
  }

  /** What `read` answers, as a promise; what it throws, as a rejection. */
  #answer<T>(read: () => T): Promise<T> {
    try {
      return Promise.resolve(read());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new ProvisionerError(messageOf(error)));
    }
  }

  close(_options: StoreCloseOptions = {}): Promise<void> {
    if (this.#closed !== null) return this.#closed;
    this.#lanes.stop();
    // What is settled already reaches outcomes$; attempts whose start is recorded now are not sent.
    this.#stopping = true;
    this.#commits.now();
    const left = [...this.#inMemory.values()];
    for (const item of left) {
      item.abort?.abort(new ClosedError(`The ${this.kind} store was closed`));
      item.running?.unsubscribe();
    }
    if (this.#failOnClose) {
      for (const item of left) {
        const error = new ClosedError(`Expected delivery ${item.deliveryId} to ${item.endpoint} to settle before the ${this.kind} store closed, it did not`);
        this.#outcomes.next({ deliveryId: item.deliveryId, outcome: this.#failed(item, item.request, 'closed', error, null), local: true });
      }
      this.#total = 0;
    }
    this.#inMemory.clear();
    const closed = this.#answer(() => this.#persistence.close());
    this.#outcomes.complete();
    for (const resolve of this.#drainWaiters) resolve();
    this.#drainWaiters = [];
    this.#closed = closed;
    return closed;
  }

  /** A recorded delivery: into memory when nothing older waits in persistence and there is room. */
  #accept(item: Item<R>): void {
    this.#total += 1;
    const hasBacklog = this.#cursor < this.#tail;
    // A new row's sequence number is above every unsettled one's (SQLite's rowid is max + 1).
    this.#tail = item.seq;
    if (!hasBacklog && this.#inMemory.size < this.#maxInMemory) {
      this.#hold(item);
      this.#cursor = item.seq;
    }
  }

  #hold(item: Item<R>): void {
    this.#inMemory.set(item.deliveryId, item);
    this.#lanes.add(item);
  }

  /** Loads what waits in persistence once memory has room for a good batch of it. */
  #refill(): void {
    if (this.#cursor >= this.#tail || this.#closed !== null || this.#stopping) return;
    const room = this.#maxInMemory - this.#inMemory.size;
    if (room < Math.max(1, Math.floor(this.#maxInMemory / 2)) && this.#inMemory.size > 0) return;
    let rows: readonly PersistedDelivery<R>[];
    try {
      rows = this.#persistence.load(this.#cursor, Math.max(1, room));
    } catch (error) {
      // They stay on disk, the cursor where it is: the next delivery that settles loads them.
      log('store (%s): loading deliveries from disk failed: %s', this.kind, messageOf(error));
      return;
    }
    for (const row of rows) if (!this.#inMemory.has(row.deliveryId)) this.#hold(laneItemOf(row));
    const last = rows.at(-1);
    this.#cursor = rows.length < room || last === undefined ? this.#tail : last.seq;
  }

  #now(): number {
    return this.#clock === null ? this.#scheduler.now() : this.#clock();
  }

  /**
   * Runs a lane's head: plans it when it has no request yet, then sends one attempt. Written
   * with callbacks rather than awaits, so that handlers that answer synchronously (or in
   * virtual time) run the whole step without a microtask in between.
   */
  #execute(item: Item<R>): void {
    const handlers = this.#handlers;
    if (handlers === null) return;
    if (item.request !== null) {
      this.#attempt(handlers, item);
      return;
    }
    const planning = firstOf(
      () => handlers.plan(viewOf(item)),
      (first) => {
        item.running = null;
        if (this.#closed !== null) return;
        const plan: RequestPlan<R> =
          first.kind === 'value'
            ? first.value
            : this.#failed(item, null, 'payload', new PayloadError(`Planning delivery ${item.deliveryId} to ${item.endpoint} threw: ${messageOf(first.error)}`, { cause: first.error }), null);
        this.#guarded(item, () => this.#planned(handlers, item, plan));
      },
    );
    // Set only while it runs: a synchronous answer has moved on to the attempt already.
    if (planning !== null) item.running = planning;
  }

  #planned(handlers: DeliveryHandlers<R>, item: Item<R>, plan: RequestPlan<R>): void {
    if (plan.kind !== 'request') {
      this.#settle(item, { ...plan, acceptedAt: item.acceptedAt });
      return;
    }
    if (plan.request.deliveryId !== item.deliveryId) {
      this.#settle(item, this.#failed(item, plan.request, 'payload', new PayloadError(`Expected the planned request of ${item.endpoint} to have delivery id ${item.deliveryId}, got ${plan.request.deliveryId}`), null));
      return;
    }
    this.#attempt(handlers, item, plan.request);
  }

  /** Sends the next attempt; `planned` is the request just planned, recorded with the attempt's start (one write). */
  #attempt(handlers: DeliveryHandlers<R>, item: Item<R>, planned: RequestDescriptor | null = null): void {
    const attempt = item.attempts + 1;
    if (!this.#guarded(item, () => this.#persistence.startAttempt(item.deliveryId, attempt, this.#now(), planned))) return;
    // Sent once its start (and its plan) is recorded: a restart resends the same request.
    this.#afterWrites(item, () => {
      if (this.#stopping) return;
      if (planned !== null) {
        item.request = planned;
        item.stripped = [];
      }
      item.attempts = attempt;
      const stored = item.request as RequestDescriptor;
      const request = restoreRequest(stored, item.stripped, handlers.restoreSecrets);
      const sending = firstOf(
        () => handlers.attempt(attemptInputOf(item, request, attempt)),
        (first) => {
          item.running = null;
          item.abort = null;
          if (this.#closed !== null) return;
          const result: AttemptResult =
            first.kind === 'value'
              ? first.value
              : { kind: 'failed', reason: 'network', error: new NetworkError(`The attempt handler of delivery ${item.deliveryId} threw: ${messageOf(first.error)}`, { cause: first.error }), response: null };
          this.#guarded(item, () => this.#attempted(item, request, attempt, result));
        },
      );
      if (sending !== null) item.running = sending;
    });
  }

  #attempted(item: Item<R>, request: RequestDescriptor, attempt: number, result: AttemptResult): void {
    if (result.kind === 'delivered') {
      this.#settle(item, {
        kind: 'delivered',
        event: item.event,
        endpoint: item.endpoint,
        request,
        response: result.response,
        attempts: attempt,
        acceptedAt: item.acceptedAt,
        settledAt: this.#now(),
      });
    } else if (result.kind === 'failed') {
      this.#settle(item, this.#failed(item, request, result.reason, result.error, result.response));
    } else {
      const now = this.#now();
      const dueAt = now + Math.max(0, result.delayMs);
      this.#persistence.retryLater(item.deliveryId, attempt, result, now, dueAt);
      this.#afterWrites(item, () => {
        if (!this.#stopping) this.#lanes.later(item, dueAt);
      });
    }
  }

  /** Runs a step that writes; when the store cannot write (a full disk...), tries the delivery again in a while rather than lose track of it. */
  #guarded(item: Item<R>, step: () => void): boolean {
    try {
      step();
      return true;
    } catch (error) {
      this.#writeFailed(item, error);
      return false;
    }
  }

  #writeFailed(item: Item<R>, error: unknown): void {
    if (this.#closed !== null || this.#stopping) return;
    log('store (%s): delivery %s could not be recorded, trying again in 1 s: %s', this.kind, item.deliveryId, messageOf(error));
    this.#lanes.later(item, this.#now() + 1_000);
  }

  /** Goes on with `item` once its writes are committed; when they were rolled back, the step runs again in a while. */
  #afterWrites(item: Item<R>, next: () => void): void {
    this.#commits.after((error) => (error === null ? this.#guarded(item, next) : this.#writeFailed(item, error)));
  }

  #settle(item: Item<R>, outcome: DeliveryOutcome<R>): void {
    this.#persistence.settle(item.deliveryId, outcome, item.stripped);
    this.#afterWrites(item, () => {
      this.#inMemory.delete(item.deliveryId);
      this.#total -= 1;
      // The outcome first: the next delivery of the lane may settle synchronously within done().
      this.#outcomes.next({ deliveryId: item.deliveryId, outcome, local: true });
      this.#lanes.done(item);
      this.#refill();
      if (this.#total === 0) {
        const waiters = this.#drainWaiters;
        this.#drainWaiters = [];
        for (const resolve of waiters) resolve();
      }
    });
  }

  #failed(item: Item<R>, request: RequestDescriptor | null, reason: FailureReason, error: ProvisionerError, response: ProvisionerResponse | null): FailedOutcome<R> {
    return failedOutcome(item, { request, reason, error, response, settledAt: this.#now() });
  }
}
