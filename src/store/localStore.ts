/**
 * The part the memory and SQLite stores share: journal, ordered lanes, planning, attempts,
 * retries, dead letters, drain and close, over a {@link Persistence} that is a no-op (memory)
 * or a database (SQLite).
 * @internal
 * @packageDocumentation
 */
import { Subject, type Observable } from 'rxjs';
import { deliveryKey } from '../delivery/deliveryKey.js';
import { DEFAULT_CONCURRENCY } from '../delivery/keyedQueue.js';
import { ClosedError, NetworkError, OverflowError, PayloadError, ProvisionerError } from '../errors.js';
import type { DeliveryOutcome, FailedOutcome, RequestPlan } from '../events/outcomes.js';
import type { RequestDescriptor } from '../events/request.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { logger } from '../log.js';
import { restoreRequest } from './codec.js';
import { deliveryIdOf } from './deliveryId.js';
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
import { LaneScheduler } from './laneScheduler.js';

const log = logger('delivery');

/** A delivery about to be recorded. @internal */
export type NewDelivery<R> = Pick<StoredDelivery<R>, 'deliveryId' | 'event' | 'endpoint' | 'key' | 'acceptedAt' | 'request'> & {
  readonly stripped: readonly string[];
};

/** A recorded delivery, as persistence gives it back. @internal */
export type PersistedDelivery<R> = NewDelivery<R> & {
  readonly seq: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
};

/**
 * Where a local store writes. Every method is synchronous (better-sqlite3 is), so that
 * `journal` is done when it returns; a method that cannot write throws.
 * @internal
 */
export type Persistence<R> = {
  /** Unsettled deliveries found when the store was opened, and the highest sequence number. */
  readonly found: { readonly count: number; readonly lastSeq: number };
  /** Records new deliveries, all or none; deliveries whose id is already recorded are left out. */
  insert(deliveries: readonly NewDelivery<R>[]): readonly { readonly deliveryId: string; readonly seq: number }[];
  /** Recorded deliveries with a sequence number above `afterSeq`, in order, at most `limit`. */
  load(afterSeq: number, limit: number): readonly PersistedDelivery<R>[];
  savePlan(deliveryId: string, request: RequestDescriptor): void;
  startAttempt(deliveryId: string, attempt: number, at: number): void;
  retryLater(deliveryId: string, attempt: number, result: Extract<AttemptResult, { kind: 'retry' }>, at: number, nextAttemptAt: number): void;
  /** Delivered and skipped deliveries are forgotten; failed ones become dead letters. */
  settle(deliveryId: string, outcome: DeliveryOutcome<R>, stripped: readonly string[]): void;
  deadLetters(filter: DeadLetterFilter): readonly DeadLetter<R>[];
  /** Turns dead letters back into deliveries (new sequence numbers, attempts 0). */
  requeue(deliveryIds: readonly string[]): readonly PersistedDelivery<R>[];
  discard(deliveryIds: readonly string[]): number;
  close(): void;
};

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
  readonly now?: () => number;
};

type Item<R> = {
  readonly seq: number;
  readonly deliveryId: string;
  readonly event: ServiceEvent<R>;
  readonly endpoint: string;
  readonly key: string;
  readonly acceptedAt: number;
  request: RequestDescriptor | null;
  stripped: readonly string[];
  attempts: number;
  dueAt: number;
  abort: AbortController | null;
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
  readonly #now: () => number;
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

  constructor(options: LocalStoreOptions<R>) {
    this.kind = options.kind;
    this.#persistence = options.persistence;
    this.#maxQueue = options.maxQueue;
    this.#maxInMemory = options.maxInMemory;
    this.#failOnClose = options.failOnClose;
    this.#now = options.now ?? Date.now;
    this.outcomes$ = this.#outcomes.asObservable();
    this.#lanes = new LaneScheduler<Item<R>>({ run: (item) => void this.#execute(item), now: this.#now });
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
    const deliveries: NewDelivery<R>[] = [];
    for (const { event, endpoints, acceptedAt } of entries) {
      for (const endpoint of endpoints) {
        deliveries.push({
          deliveryId: deliveryIdOf(event.eventId, endpoint),
          event,
          endpoint,
          key: deliveryKey({ endpoint, recordId: event.recordId, draftId: event.draftId, eventId: event.eventId }),
          acceptedAt: acceptedAt ?? event.emittedAt,
          request: null,
          stripped: [],
        });
      }
    }
    const deliveryIds = deliveries.map((delivery) => delivery.deliveryId);
    if (this.#total + deliveries.length > this.#maxQueue) {
      return {
        kind: 'overflow',
        error: new OverflowError(
          `Expected fewer than ${this.#maxQueue} deliveries pending in the ${this.kind} store (maxQueue), found ${this.#total}; ${deliveries.length} deliveries of ${entries.length} event(s) were not accepted`,
        ),
      };
    }
    let inserted: readonly { readonly deliveryId: string; readonly seq: number }[];
    try {
      inserted = this.#persistence.insert(deliveries);
    } catch (error) {
      log('store (%s): journal failed: %s', this.kind, messageOf(error));
      return {
        kind: 'error',
        error: new ProvisionerError(`Expected the ${this.kind} store to journal ${deliveries.length} deliveries, but writing failed: ${messageOf(error)}`, { cause: error }),
      };
    }
    const byId = new Map(deliveries.map((delivery) => [delivery.deliveryId, delivery]));
    for (const { deliveryId, seq } of inserted) {
      const delivery = byId.get(deliveryId);
      if (delivery === undefined) continue;
      this.#accept({ ...delivery, seq, attempts: 0, nextAttemptAt: 0 });
    }
    return { kind: 'journaled', deliveryIds };
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  start(handlers: DeliveryHandlers<R>): void {
    if (this.#handlers !== null) throw new ProvisionerError(`Expected the ${this.kind} store to be started once, it was started already`);
    if (this.#closed !== null) throw new ClosedError(`Expected an open ${this.kind} store to start, got a closed one`);
    this.#handlers = handlers;
    this.#lanes.start(handlers.concurrency ?? DEFAULT_CONCURRENCY);
  }

  pending(): number {
    return this.#total;
  }

  drain(): Promise<void> {
    if (this.#total === 0 || this.#closed !== null) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  deadLetters(filter: DeadLetterFilter = {}): Promise<readonly DeadLetter<R>[]> {
    try {
      return Promise.resolve(this.#persistence.deadLetters(filter));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new ProvisionerError(messageOf(error)));
    }
  }

  requeue(deliveryIds: readonly string[]): Promise<readonly string[]> {
    if (this.#closed !== null) return Promise.reject(new ClosedError(`Expected an open ${this.kind} store to requeue dead letters, got a closed one`));
    try {
      const room = Math.max(0, this.#maxQueue - this.#total);
      const existing = this.#persistence.deadLetters({ deliveryIds, limit: deliveryIds.length }).map((letter) => letter.deliveryId);
      const rows = this.#persistence.requeue(existing.slice(0, room));
      for (const row of rows) this.#accept(row);
      log('store (%s): %d dead letters requeued', this.kind, rows.length);
      return Promise.resolve(rows.map((row) => row.deliveryId));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new ProvisionerError(messageOf(error)));
    }
  }

  discard(deliveryIds: readonly string[]): Promise<number> {
    try {
      return Promise.resolve(this.#persistence.discard(deliveryIds));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new ProvisionerError(messageOf(error)));
    }
  }

  close(_options: StoreCloseOptions = {}): Promise<void> {
    if (this.#closed !== null) return this.#closed;
    this.#lanes.stop();
    const left = [...this.#inMemory.values()];
    for (const item of left) item.abort?.abort(new ClosedError(`The ${this.kind} store was closed`));
    if (this.#failOnClose) {
      for (const item of left) {
        this.#outcomes.next({ deliveryId: item.deliveryId, outcome: this.#closedOutcome(item), local: true });
      }
      this.#total = 0;
    }
    this.#inMemory.clear();
    let failure: unknown = null;
    try {
      this.#persistence.close();
    } catch (error) {
      failure = error;
    }
    this.#outcomes.complete();
    for (const resolve of this.#drainWaiters) resolve();
    this.#drainWaiters = [];
    this.#closed = failure === null ? Promise.resolve() : Promise.reject(failure instanceof Error ? failure : new ProvisionerError(messageOf(failure)));
    return this.#closed;
  }

  /** A recorded delivery: into memory when nothing older waits in persistence and there is room. */
  #accept(row: PersistedDelivery<R>): void {
    this.#total += 1;
    const hasBacklog = this.#cursor < this.#tail;
    // A new row's sequence number is above every unsettled one's (SQLite's rowid is max + 1).
    this.#tail = row.seq;
    if (!hasBacklog && this.#inMemory.size < this.#maxInMemory) {
      this.#hold(row);
      this.#cursor = row.seq;
    }
  }

  #hold(row: PersistedDelivery<R>): void {
    const item: Item<R> = {
      seq: row.seq,
      deliveryId: row.deliveryId,
      event: row.event,
      endpoint: row.endpoint,
      key: row.key,
      acceptedAt: row.acceptedAt,
      request: row.request,
      stripped: row.stripped,
      attempts: row.attempts,
      dueAt: row.nextAttemptAt,
      abort: null,
    };
    this.#inMemory.set(item.deliveryId, item);
    this.#lanes.add(item);
  }

  /** Loads what waits in persistence once memory has room for a good batch of it. */
  #refill(): void {
    if (this.#cursor >= this.#tail || this.#closed !== null) return;
    const room = this.#maxInMemory - this.#inMemory.size;
    if (room < Math.max(1, Math.floor(this.#maxInMemory / 2)) && this.#inMemory.size > 0) return;
    const rows = this.#persistence.load(this.#cursor, Math.max(1, room));
    for (const row of rows) if (!this.#inMemory.has(row.deliveryId)) this.#hold(row);
    const last = rows.at(-1);
    this.#cursor = rows.length < room || last === undefined ? this.#tail : last.seq;
  }

  async #execute(item: Item<R>): Promise<void> {
    const handlers = this.#handlers;
    if (handlers === null) return;
    const abort = new AbortController();
    item.abort = abort;
    try {
      if (item.request === null) {
        const plan = await this.#plan(handlers, item);
        if (this.#closed !== null) return;
        if (plan.kind !== 'request') {
          this.#settle(item, { ...plan, acceptedAt: item.acceptedAt });
          return;
        }
        if (plan.request.deliveryId !== item.deliveryId) {
          this.#settle(item, this.#failed(item, plan.request, 'payload', new PayloadError(`Expected the planned request of ${item.endpoint} to have delivery id ${item.deliveryId}, got ${plan.request.deliveryId}`), null));
          return;
        }
        this.#persistence.savePlan(item.deliveryId, plan.request);
        item.request = plan.request;
        item.stripped = [];
      }
      const attempt = item.attempts + 1;
      this.#persistence.startAttempt(item.deliveryId, attempt, this.#now());
      item.attempts = attempt;
      const request = restoreRequest(item.request, item.stripped, handlers.restoreSecrets);
      let result: AttemptResult;
      try {
        result = await handlers.attempt({ ...this.#view(item), request, attempt, signal: abort.signal });
      } catch (error) {
        result = { kind: 'failed', reason: 'network', error: new NetworkError(`The attempt handler of delivery ${item.deliveryId} threw: ${messageOf(error)}`, { cause: error }), response: null };
      }
      if (this.#closed !== null) return;
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
        this.#lanes.later(item, dueAt);
      }
    } catch (error) {
      // The store could not write (a full disk...): try the delivery again in a while rather than lose track of it.
      if (this.#closed !== null) return;
      log('store (%s): delivery %s could not be recorded, trying again in 1 s: %s', this.kind, item.deliveryId, messageOf(error));
      this.#lanes.later(item, this.#now() + 1_000);
    } finally {
      item.abort = null;
    }
  }

  async #plan(handlers: DeliveryHandlers<R>, item: Item<R>): Promise<RequestPlan<R>> {
    try {
      return await handlers.plan(this.#view(item));
    } catch (error) {
      return this.#failed(item, null, 'payload', new PayloadError(`Planning delivery ${item.deliveryId} to ${item.endpoint} threw: ${messageOf(error)}`, { cause: error }), null);
    }
  }

  #settle(item: Item<R>, outcome: DeliveryOutcome<R>): void {
    this.#persistence.settle(item.deliveryId, outcome, item.stripped);
    this.#inMemory.delete(item.deliveryId);
    this.#total -= 1;
    this.#lanes.done(item);
    this.#outcomes.next({ deliveryId: item.deliveryId, outcome, local: true });
    this.#refill();
    if (this.#total === 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  #failed(
    item: Item<R>,
    request: RequestDescriptor | null,
    reason: FailedOutcome<R>['reason'],
    error: ProvisionerError,
    response: FailedOutcome<R>['response'],
  ): FailedOutcome<R> {
    return {
      kind: 'failed',
      event: item.event,
      endpoint: item.endpoint,
      request,
      reason,
      error,
      attempts: item.attempts,
      response,
      acceptedAt: item.acceptedAt,
      settledAt: this.#now(),
    };
  }

  #closedOutcome(item: Item<R>): FailedOutcome<R> {
    return this.#failed(item, item.request, 'closed', new ClosedError(`Expected delivery ${item.deliveryId} to ${item.endpoint} to settle before the ${this.kind} store closed, it did not`), null);
  }

  #view(item: Item<R>): StoredDelivery<R> {
    return {
      deliveryId: item.deliveryId,
      event: item.event,
      endpoint: item.endpoint,
      key: item.key,
      acceptedAt: item.acceptedAt,
      request: item.request,
      attempts: item.attempts,
    };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
