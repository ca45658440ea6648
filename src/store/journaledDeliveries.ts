/**
 * What the shared stores (Redis, PostgreSQL) keep alike of a journal call: its deliveries, one
 * per (event, endpoint), with the event encoded once; and the deliveries this instance
 * journaled and has not seen settled, which `maxQueue` bounds and `pending()` counts.
 * @internal
 * @packageDocumentation
 */
import { ClosedError, OverflowError, ProvisionerError } from '../errors.js';
import { deliveryIdOf } from '../events/deliveryId.js';
import { deliveryKey } from '../events/deliveryKey.js';
import type { ServiceEvent } from '../events/serviceEvent.js';
import { messageOf } from '../util/describeValue.js';
import { encodeEventText } from './codec.js';
import type { JournalEntry, JournalResult } from './deliveryStore.js';

/** One delivery of a journal call. @internal */
export type JournaledDelivery<R> = {
  readonly event: ServiceEvent<R>;
  /** The event, encoded (base64), as the job holds it. */
  readonly encoded: string;
  readonly endpoint: string;
  /** The lane: (endpoint, record). */
  readonly key: string;
  readonly deliveryId: string;
  readonly acceptedAt: number;
};

/** What a shared store's job holds of its delivery, in both stores alike. @internal */
export type JournaledJobData = {
  readonly v: 1;
  readonly deliveryId: string;
  readonly endpoint: string;
  /** The lane: (endpoint, record). */
  readonly key: string;
  readonly acceptedAt: number;
  /** The event, V8-serialized, base64. */
  readonly event: string;
};

/** The error answer of a journal call. @internal */
export type JournalError = Extract<JournalResult, { readonly kind: 'error' }>;

/**
 * The deliveries of `entries`, or the journal's error answer when the store is closed or an
 * event cannot be encoded.
 *
 * @example
 * ```ts
 * const deliveries = journaledDeliveries('redis', entries, closed);
 * if (!Array.isArray(deliveries)) return deliveries;
 * ```
 * @internal
 */
export function journaledDeliveries<R>(store: string, entries: readonly JournalEntry<R>[], closed: boolean): JournaledDelivery<R>[] | JournalError {
  if (closed) return { kind: 'error', error: new ClosedError(`Expected an open ${store} store to journal ${entries.length} event(s), got a closed one`) };
  const deliveries: JournaledDelivery<R>[] = [];
  try {
    for (const { event, endpoints, acceptedAt } of entries) {
      if (endpoints.length === 0) continue;
      const encoded = encodeEventText(event);
      for (const endpoint of endpoints) {
        const key = deliveryKey({ endpoint, recordId: event.recordId, draftId: event.draftId, eventId: event.eventId });
        deliveries.push({ event, encoded, endpoint, key, deliveryId: deliveryIdOf(event.eventId, endpoint), acceptedAt: acceptedAt ?? event.emittedAt });
      }
    }
  } catch (error) {
    return { kind: 'error', error: new ProvisionerError(`Expected the ${store} store to journal ${entries.length} event(s), but encoding failed: ${messageOf(error)}`, { cause: error }) };
  }
  return deliveries;
}

/** A delivery journaled here: its id and its event (`undefined` when the caller no longer has it). @internal */
export type UnsettledDelivery<R> = { readonly deliveryId: string; readonly event: ServiceEvent<R> | undefined };

/**
 * The deliveries this instance journaled and has not seen settled (here or by another
 * instance): `maxQueue` bounds them. Their events are kept too (at most `maxQueue` of them),
 * so that a worker here runs the hook's event rather than decoding the job's copy of it.
 *
 * @example
 * ```ts
 * const answer = unsettled.admit(deliveries, entries.length);
 * if (answer.kind === 'journaled') buffer.push(jobs);
 * const event = unsettled.eventOf(job.data.deliveryId) ?? decodeEventText(job.data.event);
 * ```
 * @internal
 */
export class UnsettledDeliveries<R> {
  readonly #store: string;
  readonly #maxQueue: number;
  readonly #ids = new Set<string>();
  /** Written through an app's transaction: counted by `pending()`, not bounded by `maxQueue`. */
  readonly #committed = new Set<string>();
  /** The events of unsettled deliveries, at most `maxQueue` (those committed past it are read from their jobs). */
  readonly #events = new Map<string, ServiceEvent<R>>();

  constructor(store: string, maxQueue: number) {
    this.#store = store;
    this.#maxQueue = maxQueue;
  }

  /** Takes the deliveries of a journal call, or answers `overflow` when they would pass `maxQueue` (taking none). */
  admit(deliveries: readonly UnsettledDelivery<R>[], events: number): JournalResult {
    if (this.#ids.size + deliveries.length > this.#maxQueue) {
      return {
        kind: 'overflow',
        error: new OverflowError(
          `Expected fewer than ${this.#maxQueue} deliveries pending in the ${this.#store} store (maxQueue), found ${this.#ids.size}; ${deliveries.length} deliveries of ${events} event(s) were not accepted`,
        ),
      };
    }
    const deliveryIds: string[] = [];
    for (const delivery of deliveries) {
      this.#ids.add(delivery.deliveryId);
      this.#keep(delivery);
      deliveryIds.push(delivery.deliveryId);
    }
    return { kind: 'journaled', deliveryIds };
  }

  /** Deliveries an app's transaction wrote and committed: pending until settled, whatever `maxQueue`. */
  committed(deliveries: readonly UnsettledDelivery<R>[]): void {
    for (const delivery of deliveries) {
      if (this.#ids.has(delivery.deliveryId)) continue;
      this.#committed.add(delivery.deliveryId);
      this.#keep(delivery);
    }
  }

  #keep({ deliveryId, event }: UnsettledDelivery<R>): void {
    if (event !== undefined && this.#events.size < this.#maxQueue) this.#events.set(deliveryId, event);
  }

  /** The event of a delivery journaled here and not settled yet, if kept. */
  eventOf(deliveryId: string): ServiceEvent<R> | undefined {
    return this.#events.get(deliveryId);
  }

  /** The delivery settled (or will never be written). */
  settled(deliveryId: string): void {
    this.#ids.delete(deliveryId);
    this.#committed.delete(deliveryId);
    this.#events.delete(deliveryId);
  }

  /** Whether this instance journaled the delivery and has not seen it settled. */
  has(deliveryId: string): boolean {
    return this.#ids.has(deliveryId) || this.#committed.has(deliveryId);
  }

  /** The deliveries unsettled now, to forget once a count of the shared queue finds it empty. */
  snapshot(): string[] {
    return [...this.#ids, ...this.#committed];
  }

  /** `pending()` of a store: these, and the attempts in flight here that another instance journaled. */
  pending(inFlight: Iterable<string>): number {
    let pending = this.#ids.size + this.#committed.size;
    for (const deliveryId of inFlight) if (!this.#ids.has(deliveryId) && !this.#committed.has(deliveryId)) pending += 1;
    return pending;
  }
}
