/**
 * The deliveries a PostgreSQL store's instance fetched and has not started yet, by endpoint:
 * each endpoint's wait for a free slot of its own, in fetch order.
 * @internal
 * @packageDocumentation
 */
import { Fifo } from '../../delivery/fifo.js';

/**
 * Fetched deliveries waiting for a slot, one first-in first-out list per endpoint, so that how
 * many an endpoint holds and which one starts next cost the same however many wait.
 *
 * @example
 * ```ts
 * const ready = new ReadyDeliveries<Ready>((item) => item.job.data.endpoint);
 * ready.push(fetched);
 * for (const endpoint of ready.endpoints()) start(ready.shift(endpoint));
 * ```
 * @internal
 */
export class ReadyDeliveries<T> {
  readonly #endpointOf: (item: T) => string;
  readonly #byEndpoint = new Map<string, Fifo<T>>();

  constructor(endpointOf: (item: T) => string) {
    this.#endpointOf = endpointOf;
  }

  push(item: T): void {
    const endpoint = this.#endpointOf(item);
    let waiting = this.#byEndpoint.get(endpoint);
    if (waiting === undefined) this.#byEndpoint.set(endpoint, (waiting = new Fifo<T>()));
    waiting.push(item);
  }

  /** How many of `endpoint`'s deliveries wait. */
  count(endpoint: string): number {
    return this.#byEndpoint.get(endpoint)?.length ?? 0;
  }

  /** The endpoints with deliveries waiting. */
  endpoints(): string[] {
    return [...this.#byEndpoint.keys()];
  }

  /** The next of `endpoint`'s deliveries, taken out. */
  shift(endpoint: string): T | undefined {
    const waiting = this.#byEndpoint.get(endpoint);
    const item = waiting?.shift();
    if (waiting !== undefined && waiting.length === 0) this.#byEndpoint.delete(endpoint);
    return item;
  }

  /** Every waiting delivery, taken out. */
  takeAll(): T[] {
    const all: T[] = [];
    for (const waiting of this.#byEndpoint.values()) all.push(...waiting);
    this.#byEndpoint.clear();
    return all;
  }
}
