/**
 * The deliveries a PostgreSQL store's instance has claimed (fetched and not ended), and their
 * lanes: pg-boss hands out no other delivery of a lane while one of it is claimed, so new jobs
 * of lanes all claimed here are not worth a fetch (which reads every queued job).
 * @internal
 * @packageDocumentation
 */
import { InFlightDeliveries } from './inFlightDeliveries.js';

/**
 * The claimed deliveries, by delivery id (each with the controller that aborts its attempt),
 * and how many of them each lane has.
 *
 * @example
 * ```ts
 * const claims = new ClaimedDeliveries();
 * claims.claim('evt-1.ab12', 'ab12:record-7');
 * claims.holdsEvery(['ab12:record-7']); // true: a new delivery of that lane cannot be fetched yet
 * claims.release('evt-1.ab12', 'ab12:record-7');
 * ```
 * @internal
 */
export class ClaimedDeliveries {
  /** The attempt's controller of each claimed delivery, by delivery id. */
  readonly inFlight = new InFlightDeliveries();
  readonly #lanes = new Map<string, number>();

  /** A delivery of `lane` was fetched here. */
  claim(deliveryId: string, lane: string): void {
    if (this.inFlight.has(deliveryId)) return;
    this.inFlight.set(deliveryId, new AbortController());
    this.#lanes.set(lane, (this.#lanes.get(lane) ?? 0) + 1);
  }

  /** A claimed delivery ended here, or went back to its lane unattempted. */
  release(deliveryId: string, lane: string): void {
    if (!this.inFlight.delete(deliveryId)) return;
    const count = (this.#lanes.get(lane) ?? 1) - 1;
    if (count > 0) this.#lanes.set(lane, count);
    else this.#lanes.delete(lane);
  }

  /** Whether a delivery of each of `lanes` is claimed here. */
  holdsEvery(lanes: readonly string[]): boolean {
    return lanes.every((lane) => this.#lanes.has(lane));
  }
}
