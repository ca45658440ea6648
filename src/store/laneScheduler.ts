import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { Fifo } from '../delivery/fifo.js';
import { ConfigError } from '../errors.js';

/** What the scheduler needs of an item: its ordering key and when it may run next. @internal */
export type LaneItem = { readonly key: string; dueAt: number };

/** Options of {@link LaneScheduler}. @internal */
export type LaneSchedulerOptions<T> = {
  /** Starts an item; the caller later reports `done` or `later` for it. */
  readonly run: (item: T) => void;
  /**
   * The group an item's concurrency counts in (the stores: its endpoint): each group runs up
   * to `concurrency` items at once, so a group whose items wait long (a paused endpoint)
   * cannot hold the slots of the others. @default one group
   */
  readonly groupOf?: (item: T) => string;
};

/**
 * The local stores' scheduling: one lane per ordering key, items of a lane one at a time in
 * the order they were added, lanes concurrently up to `concurrency` per group (endpoint). Unlike the `deliver`
 * operator's queue, a lane's head may wait (a retry's backoff) without holding a
 * concurrency slot: the lane stays blocked, other lanes run. Lanes are deleted when empty.
 * Waits are scheduled on an RxJS scheduler (virtual time in marble tests).
 *
 * @example
 * ```ts
 * const lanes = new LaneScheduler<Item>({ run: (item) => void send(item) });
 * lanes.add(item);
 * lanes.start(16, asyncScheduler);
 * // when the attempt ends: lanes.done(item), or lanes.later(item, asyncScheduler.now() + 1_000)
 * ```
 * @internal
 */
export class LaneScheduler<T extends LaneItem> {
  readonly #lanes = new Map<string, Fifo<T>>();
  readonly #ready = new Fifo<string>();
  readonly #timers = new Map<string, Subscription>();
  readonly #run: (item: T) => void;
  readonly #groupOf: ((item: T) => string) | null;
  /** Items running, by group. */
  readonly #runningIn = new Map<string, number>();
  /** Ready lanes whose group was full when their turn came, by group. */
  readonly #parked = new Map<string, Fifo<string>>();
  #scheduler: SchedulerLike = asyncScheduler;
  #kicked = false;
  #concurrency = 0;
  #running = 0;
  #size = 0;
  #pumping = false;
  #stopped = false;

  constructor(options: LaneSchedulerOptions<T>) {
    this.#run = options.run;
    this.#groupOf = options.groupOf ?? null;
  }

  /** Items held (waiting, due or running). */
  get size(): number {
    return this.#size;
  }

  /** Items running now. */
  get running(): number {
    return this.#running;
  }

  /** Starts running items, at most `concurrency` at once per group, waiting on `scheduler`'s clock and timers. */
  start(concurrency: number, scheduler: SchedulerLike = asyncScheduler): void {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ConfigError([`concurrency: expected an integer >= 1, got ${String(concurrency)}`]);
    }
    this.#concurrency = concurrency;
    this.#scheduler = scheduler;
    this.#pump();
  }

  /**
   * Adds an item behind the others of its key. A new lane starts after the caller's turn (a
   * microtask, or the scheduler's next action when it is not the async scheduler): the hook
   * that journaled the item returns before any delivery work runs.
   */
  add(item: T): void {
    let lane = this.#lanes.get(item.key);
    if (lane === undefined) {
      lane = new Fifo<T>();
      this.#lanes.set(item.key, lane);
    }
    lane.push(item);
    this.#size += 1;
    if (lane.length === 1) {
      this.#arm(item.key, item);
      this.#kick();
    }
  }

  /** The running head of its lane is finished: the next item of the lane may run. */
  done(item: T): void {
    this.#finished(item);
    const lane = this.#lanes.get(item.key);
    if (lane !== undefined && lane.peek() === item) {
      lane.shift();
      this.#size -= 1;
      const next = lane.peek();
      if (next === undefined) this.#lanes.delete(item.key);
      else this.#arm(item.key, next);
    }
    this.#pump();
  }

  /** The running head of its lane runs again at `dueAt`; its lane waits, its slot is freed. */
  later(item: T, dueAt: number): void {
    this.#finished(item);
    item.dueAt = dueAt;
    this.#arm(item.key, item);
    this.#pump();
  }

  /** Every item held, lane by lane. */
  *items(): IterableIterator<T> {
    for (const lane of this.#lanes.values()) yield* lane;
  }

  /** Stops running items and clears the timers; items stay where they are. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers.values()) timer.unsubscribe();
    this.#timers.clear();
  }

  /** A running item gave its slot back: a lane parked for its group may run. */
  #finished(item: T): void {
    this.#running -= 1;
    const group = this.#groupOf === null ? '' : this.#groupOf(item);
    this.#runningIn.set(group, (this.#runningIn.get(group) ?? 1) - 1);
    const parked = this.#parked.get(group);
    if (parked === undefined) return;
    this.#ready.push(parked.shift() as string);
    if (parked.length === 0) this.#parked.delete(group);
  }

  #arm(key: string, head: T): void {
    if (this.#stopped) return;
    const wait = head.dueAt - this.#scheduler.now();
    if (wait <= 0) {
      this.#ready.push(key);
      return;
    }
    const timer = this.#scheduler.schedule(() => {
      this.#timers.delete(key);
      this.#ready.push(key);
      this.#pump();
    }, wait);
    // A scheduler that runs the wait at once (virtual time past due) has already readied the lane.
    if (!timer.closed) this.#timers.set(key, timer);
  }

  #kick(): void {
    if (this.#kicked || this.#stopped) return;
    this.#kicked = true;
    const pump = (): void => {
      this.#kicked = false;
      this.#pump();
    };
    if (this.#scheduler === asyncScheduler) queueMicrotask(pump);
    else this.#scheduler.schedule(pump);
  }

  #pump(): void {
    // Not started yet (no concurrency): the ready lanes wait for start().
    if (this.#pumping || this.#stopped || this.#concurrency === 0) return;
    this.#pumping = true;
    try {
      while (this.#ready.length > 0) {
        const key = this.#ready.shift() as string;
        const head = this.#lanes.get(key)?.peek();
        if (head === undefined) continue;
        const group = this.#groupOf === null ? '' : this.#groupOf(head);
        const running = this.#runningIn.get(group) ?? 0;
        if (running >= this.#concurrency) {
          let parked = this.#parked.get(group);
          if (parked === undefined) {
            parked = new Fifo<string>();
            this.#parked.set(group, parked);
          }
          parked.push(key);
          continue;
        }
        this.#runningIn.set(group, running + 1);
        this.#running += 1;
        this.#run(head);
      }
    } finally {
      this.#pumping = false;
    }
  }
}
