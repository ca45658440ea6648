import type { DeliveryOutcome } from '../events/outcomes.js';
import type { AppRecord } from '../events/serviceEvent.js';
import { ConfigError } from '../errors.js';
import { logger } from '../util/log.js';
import { DEFAULT_DEAD_LETTER_LIMIT, type DeadLetter, type DeadLetterFilter, type DeliveryStore } from './deliveryStore.js';
import { LocalStore } from './localStore.js';
import type { NewDelivery, PersistedDelivery, Persistence } from './persistence.js';

const log = logger('delivery');

/**
 * Options of {@link createMemoryStore}.
 *
 * @example
 * ```ts
 * const options: MemoryStoreOptions = { maxQueue: 5_000, maxDeadLetters: 200 };
 * createProvisioner({ events, store: createMemoryStore(options) });
 * ```
 */
export type MemoryStoreOptions = {
  /** Unsettled deliveries held at most; past it `journal` answers `overflow`. @default 10000 */
  readonly maxQueue?: number;
  /** Dead letters kept at most; past it the oldest is forgotten. @default 1000 */
  readonly maxDeadLetters?: number;
};

/** Default of {@link MemoryStoreOptions.maxQueue}. */
export const DEFAULT_STORE_MAX_QUEUE = 10_000;
/** Default of {@link MemoryStoreOptions.maxDeadLetters}. */
export const DEFAULT_MAX_DEAD_LETTERS = 1_000;

/**
 * The zero-setup store: deliveries live in this process's memory, bounded by `maxQueue`;
 * dead letters are kept (up to `maxDeadLetters`) and can be requeued. Nothing survives the
 * process: on `close()` what is unsettled ends as `failed` with reason `closed`.
 *
 * @example
 * ```ts
 * const store = createMemoryStore({ maxQueue: 5_000 });
 * store.start({ plan: planOne, attempt: sendOnce });
 * ```
 */
export function createMemoryStore<R = AppRecord>(options: MemoryStoreOptions = {}): DeliveryStore<R> {
  const maxQueue = positiveInteger('maxQueue', options.maxQueue ?? DEFAULT_STORE_MAX_QUEUE);
  const maxDeadLetters = positiveInteger('maxDeadLetters', options.maxDeadLetters ?? DEFAULT_MAX_DEAD_LETTERS);
  return new LocalStore<R>({
    kind: 'memory',
    persistence: new MemoryPersistence<R>(maxDeadLetters),
    maxQueue,
    maxInMemory: maxQueue,
    failOnClose: true,
  });
}

/** Keeps nothing but the dead letters; the deliveries themselves live in the store's lanes. */
class MemoryPersistence<R> implements Persistence<R> {
  readonly found = { count: 0, lastSeq: 0 };
  readonly #maxDeadLetters: number;
  /** Ids of the unsettled deliveries, with what a requeue needs to build them again. */
  readonly #unsettled = new Map<string, NewDelivery<R>>();
  /** Dead letters, oldest first (a Map keeps insertion order), with what a requeue needs. */
  readonly #dead = new Map<string, { readonly letter: DeadLetter<R>; readonly delivery: NewDelivery<R> }>();
  #seq = 0;

  constructor(maxDeadLetters: number) {
    this.#maxDeadLetters = maxDeadLetters;
  }

  insert(deliveries: readonly NewDelivery<R>[]): readonly { readonly deliveryId: string; readonly seq: number }[] {
    const inserted: { deliveryId: string; seq: number }[] = [];
    for (const delivery of deliveries) {
      if (this.#unsettled.has(delivery.deliveryId) || this.#dead.has(delivery.deliveryId)) continue;
      this.#seq += 1;
      this.#unsettled.set(delivery.deliveryId, delivery);
      inserted.push({ deliveryId: delivery.deliveryId, seq: this.#seq });
    }
    return inserted;
  }

  load(): readonly PersistedDelivery<R>[] {
    return [];
  }

  /** Nothing to keep (a dead letter is requeued with the request of its failure). */
  startAttempt(): void {}

  retryLater(): void {}

  settle(deliveryId: string, outcome: DeliveryOutcome<R>): void {
    const delivery = this.#unsettled.get(deliveryId);
    this.#unsettled.delete(deliveryId);
    if (outcome.kind !== 'failed' || delivery === undefined) return;
    this.#dead.set(deliveryId, { letter: { ...outcome, deliveryId }, delivery });
    if (this.#dead.size > this.#maxDeadLetters) {
      const oldest = this.#dead.keys().next().value;
      if (oldest !== undefined) {
        this.#dead.delete(oldest);
        log('store (memory): more than %d dead letters, forgot the oldest (%s)', this.#maxDeadLetters, oldest);
      }
    }
  }

  /** Every write is done when its method returns. */
  afterWrites(then: (error: unknown) => void): boolean {
    then(null);
    return false;
  }

  commit(): void {}

  deadLetterCount(): number {
    return this.#dead.size;
  }

  deadLetters(filter: DeadLetterFilter): readonly DeadLetter<R>[] {
    return selectDeadLetters([...this.#dead.values()].map((entry) => entry.letter), filter);
  }

  requeue(deliveryIds: readonly string[]): readonly PersistedDelivery<R>[] {
    const rows: PersistedDelivery<R>[] = [];
    for (const deliveryId of deliveryIds) {
      const entry = this.#dead.get(deliveryId);
      if (entry === undefined) continue;
      this.#dead.delete(deliveryId);
      this.#seq += 1;
      const delivery: NewDelivery<R> = { ...entry.delivery, request: entry.letter.request, stripped: [] };
      this.#unsettled.set(deliveryId, delivery);
      rows.push({ ...delivery, seq: this.#seq, attempts: 0, nextAttemptAt: 0 });
    }
    return rows;
  }

  discard(deliveryIds: readonly string[]): number {
    let discarded = 0;
    for (const deliveryId of deliveryIds) if (this.#dead.delete(deliveryId)) discarded += 1;
    return discarded;
  }

  close(): void {
    this.#unsettled.clear();
  }
}

/**
 * The dead letters that match a filter, oldest failure first, at most `limit`.
 * @internal
 */
export function selectDeadLetters<R>(letters: readonly DeadLetter<R>[], filter: DeadLetterFilter): DeadLetter<R>[] {
  const ids = filter.deliveryIds === undefined ? null : new Set(filter.deliveryIds);
  const limit = filter.limit ?? DEFAULT_DEAD_LETTER_LIMIT;
  return letters
    .filter(
      (letter) =>
        (ids === null || ids.has(letter.deliveryId)) &&
        (filter.endpoint === undefined || letter.endpoint === filter.endpoint) &&
        (filter.serviceType === undefined || letter.event.serviceType === filter.serviceType) &&
        (filter.serviceMethod === undefined || letter.event.method === filter.serviceMethod) &&
        (filter.recordId === undefined || letter.event.recordId === filter.recordId) &&
        (filter.reason === undefined || letter.reason === filter.reason) &&
        (filter.failedAfter === undefined || letter.settledAt >= filter.failedAfter) &&
        (filter.failedBefore === undefined || letter.settledAt < filter.failedBefore),
    )
    .sort((a, b) => a.settledAt - b.settledAt)
    .slice(0, limit);
}

/**
 * A store option that must be an integer >= 1; anything else is a {@link ConfigError}.
 * @internal
 */
export function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError([`${name}: expected an integer >= 1, got ${describeNumber(value)}`]);
  return value;
}

function describeNumber(value: unknown): string {
  return typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
}
