import type { DeliveryOutcome } from '../events/outcomes.js';
import type { RequestDescriptor } from '../events/request.js';
import type { AttemptResult, DeadLetter, DeadLetterFilter, StoredDelivery } from './deliveryStore.js';

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
 * `journal` is done when it returns; a method that cannot write throws. The writes of a
 * delivery's progress (`startAttempt`, `retryLater`, `settle`) may wait to be committed
 * together: the store goes on with a delivery only in its {@link Persistence.afterWrites} callback.
 * @internal
 */
export type Persistence<R> = {
  /** Unsettled deliveries found when the store was opened, and the highest sequence number. */
  readonly found: { readonly count: number; readonly lastSeq: number };
  /** Records new deliveries, all or none, and answers in their order; deliveries whose id is already recorded are left out. */
  insert(deliveries: readonly NewDelivery<R>[]): readonly { readonly deliveryId: string; readonly seq: number }[];
  /** Recorded deliveries with a sequence number above `afterSeq`, in order, at most `limit`. */
  load(afterSeq: number, limit: number): readonly PersistedDelivery<R>[];
  /** An attempt starts; `planned` is the request when it was just planned (recorded in the same write). Committed by {@link Persistence.commit}. */
  startAttempt(deliveryId: string, attempt: number, at: number, planned: RequestDescriptor | null): void;
  retryLater(deliveryId: string, attempt: number, result: Extract<AttemptResult, { kind: 'retry' }>, at: number, nextAttemptAt: number): void;
  /** Delivered and skipped deliveries are forgotten; failed ones become dead letters. Committed by {@link Persistence.commit}. */
  settle(deliveryId: string, outcome: DeliveryOutcome<R>, stripped: readonly string[]): void;
  /**
   * Calls `then` once the writes asked for so far are committed: with null, or with the error
   * that rolled them back. With nothing waiting (or a persistence that commits each write at
   * once) it calls `then` at once and answers false; true means `then` waits for {@link Persistence.commit}.
   */
  afterWrites(then: (error: unknown) => void): boolean;
  /** Commits the writes waiting, all in one transaction, then calls their `afterWrites` callbacks in order. */
  commit(): void;
  deadLetters(filter: DeadLetterFilter): readonly DeadLetter<R>[];
  /** How many dead letters are kept. */
  deadLetterCount(): number;
  /** Turns dead letters back into deliveries (new sequence numbers, attempts 0). */
  requeue(deliveryIds: readonly string[]): readonly PersistedDelivery<R>[];
  discard(deliveryIds: readonly string[]): number;
  close(): void;
};
