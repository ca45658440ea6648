import type { Subscription } from 'rxjs';
import type { ProvisionerError } from '../errors.js';
import type { FailedOutcome, FailureReason } from '../events/outcomes.js';
import type { ProvisionerResponse, RequestDescriptor } from '../events/request.js';
import type { ServiceEvent } from '../events/serviceEvent.js';
import type { AttemptInput, StoredDelivery } from './deliveryStore.js';
import type { PersistedDelivery } from './persistence.js';

/**
 * A delivery as a local store holds it in its lanes: what persistence recorded, the request
 * once planned, the attempts started, when it may run next, and what runs for it now.
 * @internal
 */
export type LaneItemOf<R> = {
  /** Set once persistence has recorded the delivery. */
  seq: number;
  readonly deliveryId: string;
  readonly event: ServiceEvent<R>;
  readonly endpoint: string;
  readonly key: string;
  readonly acceptedAt: number;
  request: RequestDescriptor | null;
  stripped: readonly string[];
  attempts: number;
  dueAt: number;
  /** The attempt's signal, made when a handler asks for it: aborted on close. */
  abort: AbortController | null;
  /** The plan or attempt in flight: abandoned on close. */
  running: Subscription | null;
};

/**
 * The lane item of a recorded delivery.
 *
 * @example
 * ```ts
 * lanes.add(laneItemOf(row));
 * ```
 * @internal
 */
export function laneItemOf<R>(row: PersistedDelivery<R>): LaneItemOf<R> {
  return {
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
    running: null,
  };
}

/** The secret headers stripped from a request that has none. */
const NONE_STRIPPED: readonly string[] = Object.freeze([]);

/**
 * The lane item of a delivery being journaled, before persistence gives it its sequence
 * number: not planned, no attempt yet, due at once.
 *
 * @example
 * ```ts
 * const item = newLaneItem(deliveryIdOf(event.eventId, endpoint), event, endpoint, key, event.emittedAt);
 * ```
 * @internal
 */
export function newLaneItem<R>(deliveryId: string, event: ServiceEvent<R>, endpoint: string, key: string, acceptedAt: number): LaneItemOf<R> {
  return { seq: 0, deliveryId, event, endpoint, key, acceptedAt, request: null, stripped: NONE_STRIPPED, attempts: 0, dueAt: 0, abort: null, running: null };
}

/**
 * What the handlers see of a lane item.
 *
 * @example
 * ```ts
 * handlers.plan(viewOf(item));
 * ```
 * @internal
 */
export function viewOf<R>(item: LaneItemOf<R>): StoredDelivery<R> {
  return new LaneView(item, item.request);
}

/**
 * What the attempt handler gets for a lane item's attempt `attempt` of `request`. Its signal
 * is made when a handler asks for it (an Observable handler is aborted by unsubscribing).
 *
 * @example
 * ```ts
 * handlers.attempt(attemptInputOf(item, request, item.attempts));
 * ```
 * @internal
 */
export function attemptInputOf<R>(item: LaneItemOf<R>, request: RequestDescriptor, attempt: number): AttemptInput<R> {
  return new LaneAttemptInput(item, request, attempt);
}

/**
 * The fields of a lane item the handlers see, copied once per plan or attempt. Classes rather
 * than object literals: a literal with a getter is built by the runtime's slow path, dozens of
 * times slower, once per attempt.
 */
class LaneView<R> implements StoredDelivery<R> {
  readonly deliveryId: string;
  readonly event: ServiceEvent<R>;
  readonly endpoint: string;
  readonly key: string;
  readonly acceptedAt: number;
  readonly attempts: number;
  readonly request: RequestDescriptor | null;

  constructor(item: LaneItemOf<R>, request: RequestDescriptor | null) {
    this.deliveryId = item.deliveryId;
    this.event = item.event;
    this.endpoint = item.endpoint;
    this.key = item.key;
    this.acceptedAt = item.acceptedAt;
    this.attempts = item.attempts;
    this.request = request;
  }
}

/** An {@link AttemptInput} of a lane item: its view, the attempt's request and number, and its signal. */
class LaneAttemptInput<R> extends LaneView<R> implements AttemptInput<R> {
  declare readonly request: RequestDescriptor;
  readonly attempt: number;
  readonly #item: LaneItemOf<R>;

  constructor(item: LaneItemOf<R>, request: RequestDescriptor, attempt: number) {
    super(item, request);
    this.attempt = attempt;
    this.#item = item;
  }

  get signal(): AbortSignal {
    const item = this.#item;
    item.abort ??= new AbortController();
    return item.abort.signal;
  }
}

/**
 * A lane item's `failed` outcome, its attempts so far counted.
 *
 * @example
 * ```ts
 * settle(item, failedOutcome(item, { request, reason: 'http-status', error, response, settledAt: Date.now() }));
 * ```
 * @internal
 */
export function failedOutcome<R>(
  item: LaneItemOf<R>,
  failure: {
    readonly request: RequestDescriptor | null;
    readonly reason: FailureReason;
    readonly error: ProvisionerError;
    readonly response: ProvisionerResponse | null;
    readonly settledAt: number;
  },
): FailedOutcome<R> {
  return {
    kind: 'failed',
    event: item.event,
    endpoint: item.endpoint,
    request: failure.request,
    reason: failure.reason,
    error: failure.error,
    attempts: item.attempts,
    response: failure.response,
    acceptedAt: item.acceptedAt,
    settledAt: failure.settledAt,
  };
}
