import { Observable, Subject, asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import type { CircuitState, EndpointStatus } from '../events/endpointStatus.js';
import { logger } from '../util/log.js';
import { redactUrl } from '../util/redact.js';
import { Fifo } from './fifo.js';
import type { EndpointPolicy } from './endpointPolicy.js';
import { EndpointState, type EndpointSignal } from './endpointState.js';

const log = logger('endpoints');

/** Node's timers overflow past 2^31 - 1 ms; longer waits are taken in steps. */
const LONGEST_TIMER_MS = 2_147_483_647;

/**
 * Leave to start one attempt: report how it ended with `end` (which answers whether the
 * delivery should wait for the endpoint's circuit rather than spend a retry), or `abandon`
 * when it was cancelled.
 * @internal
 */
export type EndpointPermit = {
  end(signal: EndpointSignal): boolean;
  abandon(): void;
};

type Waiter = {
  readonly deliveryId: string;
  /** Never sent yet: the likeliest probe to succeed, and the cheapest to fail. */
  readonly fresh: boolean;
  readonly deadline: number;
  grant: ((permit: EndpointPermit | 'expired') => void) | null;
  expiry: Subscription | null;
};

type Entry = {
  readonly state: EndpointState;
  readonly waiters: Fifo<Waiter>;
  timer: Subscription | null;
  timerAt: number;
};

/**
 * Where every attempt asks its endpoint for leave to start: the pipeline's attempt step runs
 * behind it with every store, so a paused endpoint, an open circuit, a rate or a concurrency
 * limit holds the deliveries to that endpoint (in the order they asked) and no other. Waits
 * run on the pipeline's scheduler (virtual time in marble tests); each state change is
 * logged and published on `statuses$`.
 * @internal
 */
export class EndpointGate {
  readonly statuses$: Observable<EndpointStatus>;
  readonly #statuses = new Subject<EndpointStatus>();
  readonly #entries = new Map<string, Entry>();
  readonly #policyOf: (endpoint: string) => EndpointPolicy;
  readonly #scheduler: SchedulerLike;

  constructor(policyOf: (endpoint: string) => EndpointPolicy, scheduler: SchedulerLike = asyncScheduler) {
    this.#policyOf = policyOf;
    this.#scheduler = scheduler;
    this.statuses$ = this.#statuses.asObservable();
  }

  /** Leave at once when nothing waits and the endpoint allows it; `null` when the caller must `wait`. */
  tryStart(endpoint: string, deliveryId: string): EndpointPermit | null {
    const entry = this.#entry(endpoint);
    if (entry.waiters.length > 0) return null;
    const now = this.#scheduler.now();
    const decision = entry.state.decide(now);
    return decision.kind === 'go' ? this.#start(entry, now, decision.probe, deliveryId) : null;
  }

  /** Waits for leave, in the order asked; emits `'expired'` instead once `deadline` (ms since epoch) passes. Unsubscribing leaves the queue. */
  wait(endpoint: string, deliveryId: string, deadline: number, fresh = false): Observable<EndpointPermit | 'expired'> {
    return new Observable<EndpointPermit | 'expired'>((subscriber) => {
      const entry = this.#entry(endpoint);
      const waiter: Waiter = {
        deliveryId,
        fresh,
        deadline,
        grant: (permit) => {
          waiter.grant = null;
          waiter.expiry?.unsubscribe();
          subscriber.next(permit);
          subscriber.complete();
        },
        expiry: null,
      };
      entry.waiters.push(waiter);
      this.#armExpiry(entry, waiter);
      this.#pump(entry);
      return () => {
        if (waiter.grant === null) return;
        waiter.grant = null;
        waiter.expiry?.unsubscribe();
      };
    });
  }

  /** Each endpoint's circuit, for the metrics. */
  *circuits(): IterableIterator<{ readonly endpoint: string; readonly state: CircuitState }> {
    for (const [endpoint, entry] of this.#entries) yield { endpoint: redactUrl(endpoint), state: entry.state.circuit };
  }

  close(): void {
    for (const entry of this.#entries.values()) entry.timer?.unsubscribe();
    this.#statuses.complete();
  }

  #entry(endpoint: string): Entry {
    let entry = this.#entries.get(endpoint);
    if (entry === undefined) {
      entry = { state: new EndpointState(redactUrl(endpoint), this.#policyOf(endpoint)), waiters: new Fifo<Waiter>(), timer: null, timerAt: 0 };
      this.#entries.set(endpoint, entry);
    }
    return entry;
  }

  #start(entry: Entry, now: number, probe: boolean, deliveryId: string): EndpointPermit {
    this.#publish(entry.state.start(now, probe));
    let settled = false;
    return {
      end: (signal) => {
        if (settled) return false;
        settled = true;
        const { hold, changes } = entry.state.end(this.#scheduler.now(), probe, signal, deliveryId);
        for (const change of changes) this.#publish(change);
        this.#pump(entry);
        return hold;
      },
      abandon: () => {
        if (settled) return;
        settled = true;
        entry.state.abandon(probe);
        this.#pump(entry);
      },
    };
  }

  /** Grants leave to the waiters at the head of the queue while the endpoint allows it; arms a timer for the next time it may. */
  #pump(entry: Entry): void {
    for (;;) {
      const head = entry.waiters.peek();
      if (head === undefined) return;
      if (head.grant === null) {
        entry.waiters.shift();
        continue;
      }
      const now = this.#scheduler.now();
      if (now >= head.deadline) {
        entry.waiters.shift();
        head.grant('expired');
        continue;
      }
      const decision = entry.state.decide(now);
      if (decision.kind === 'wait') {
        if (decision.until !== null) this.#armTimer(entry, decision.until);
        return;
      }
      if (decision.probe) {
        // The probe: a delivery never sent if one waits (one that failed already may fail for its own reasons).
        const probe = this.#freshWaiter(entry) ?? head;
        probe.grant?.(this.#start(entry, now, true, probe.deliveryId));
        continue;
      }
      entry.waiters.shift();
      head.grant(this.#start(entry, now, false, head.deliveryId));
    }
  }

  #freshWaiter(entry: Entry): Waiter | undefined {
    for (const waiter of entry.waiters) if (waiter.grant !== null && waiter.fresh) return waiter;
    return undefined;
  }

  #armTimer(entry: Entry, at: number): void {
    if (entry.timer !== null && !entry.timer.closed && entry.timerAt <= at) return;
    entry.timer?.unsubscribe();
    entry.timerAt = at;
    entry.timer = this.#scheduler.schedule(
      () => {
        entry.timer = null;
        this.#pump(entry);
      },
      Math.min(Math.max(0, at - this.#scheduler.now()), LONGEST_TIMER_MS),
    );
  }

  #armExpiry(entry: Entry, waiter: Waiter): void {
    const wait = waiter.deadline - this.#scheduler.now();
    if (!Number.isFinite(wait)) return;
    waiter.expiry = this.#scheduler.schedule(
      () => {
        if (waiter.grant === null) return;
        if (this.#scheduler.now() < waiter.deadline) {
          this.#armExpiry(entry, waiter);
          return;
        }
        waiter.grant('expired');
      },
      Math.min(Math.max(0, wait), LONGEST_TIMER_MS),
    );
  }

  #publish(status: EndpointStatus | null): void {
    if (status === null) return;
    log('endpoint %s: %s (%s)%s', status.endpoint, status.state, status.reason, status.until === undefined ? '' : ` until ${new Date(status.until).toISOString()}`);
    this.#statuses.next(status);
  }
}
