/**
 * The deliveries a PostgreSQL store's instance has claimed and not ended yet, by delivery id,
 * each with the controller of its attempt. `drain()` waits on it between its counts of the
 * shared queue: when the last one ends (its outcome committed), the next count may find
 * nothing, so it counts at once instead of at its next poll (a poll alone made it wait half a
 * poll on average after the last outcome). The Redis store's drain cannot use it: a job there
 * is settled only after its attempt ends, when BullMQ's worker has moved it.
 *
 * @example
 * ```ts
 * const inFlight = new InFlightDeliveries();
 * inFlight.set(deliveryId, new AbortController());
 * await inFlight.emptiedOr(50); // after 50 ms, or once inFlight.delete(deliveryId) empties it
 * ```
 * @internal
 */
export class InFlightDeliveries extends Map<string, AbortController> {
  readonly #waiters = new Set<() => void>();

  override delete(deliveryId: string): boolean {
    const deleted = super.delete(deliveryId);
    if (deleted && this.size === 0) this.#emptied();
    return deleted;
  }

  override clear(): void {
    const had = this.size > 0;
    super.clear();
    if (had) this.#emptied();
  }

  /** Resolves after `ms`, or as soon as the last delivery in flight ends. */
  emptiedOr(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  #emptied(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
