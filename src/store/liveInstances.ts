/**
 * Which instances of a shared store (Redis, PostgreSQL) are alive: each says so when it opens
 * and every {@link HEARTBEAT_MS}, and takes it back when it closes. A settling instance writes
 * outcomes for the others only while another one is alive (or journaled the delivery): a lone
 * instance, the usual deployment, writes none. The timing is the same for every store.
 * @internal
 * @packageDocumentation
 */
import { messageOf } from '../util/describeValue.js';
import { logger } from '../util/log.js';

const log = logger('delivery');

/** How often an instance says it is alive (ms). @internal */
export const HEARTBEAT_MS = 5_000;

/** How long an instance counts as alive after it last said so (ms): six heartbeats, so that a busy pool or a reconnect does not make the others stop writing its outcomes. @internal */
export const INSTANCE_TTL_MS = 30_000;

/** An instance not seen for this long crashed: its record is removed (ms). @internal */
export const INSTANCE_FORGOTTEN_MS = 3_600_000;

/** An instance's place in its store's record of live instances: taken on open, kept every {@link HEARTBEAT_MS}, given back on close. @internal */
export class Heartbeat {
  readonly #beat: () => Promise<unknown>;
  readonly #leave: () => Promise<unknown>;
  readonly #store: string;
  #timer: ReturnType<typeof setInterval> | null = null;

  /** `beat` records the instance as alive now; `leave` removes it; `store` names the store in logs. */
  constructor(store: string, beat: () => Promise<unknown>, leave: () => Promise<unknown>) {
    this.#store = store;
    this.#beat = beat;
    this.#leave = leave;
  }

  /** Says this instance is alive before it journals or reads anything, then keeps saying so. */
  async open(): Promise<void> {
    await this.#beat();
    this.#timer = setInterval(() => {
      this.#beat().catch((error: unknown) => log('store (%s): could not say this instance is alive: %s', this.#store, messageOf(error)));
    }, HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Stops saying so and leaves the record (best effort: an instance left there counts for {@link INSTANCE_TTL_MS} only). */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#leave().catch((error: unknown) => log('store (%s): could not remove this instance from the live ones: %s', this.#store, messageOf(error)));
  }
}
