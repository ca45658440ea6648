/**
 * The PostgreSQL store's worker: fetches due deliveries from pg-boss for every free slot, runs
 * one attempt of each with the pipeline's handlers, and ends it, sends it back to its lane's
 * head for a retry, or gives it back when it is cut short.
 * @internal
 * @packageDocumentation
 */
import type { Job } from 'pg-boss';
import { ClosedError, NetworkError, PayloadError, type ProvisionerError } from '../../errors.js';
import type { DeliveryOutcome } from '../../events/outcomes.js';
import type { RequestDescriptor } from '../../events/request.js';
import type { ServiceEvent } from '../../events/serviceEvent.js';
import { endpointIdOf } from '../../events/deliveryId.js';
import { messageOf } from '../../util/describeValue.js';
import { logger } from '../../util/log.js';
import { decodeEventText, decodeRequest, restoreRequest } from '../codec.js';
import type { AttemptResult, DeliveryHandlers, StoredDelivery } from '../deliveryStore.js';
import { firstValue } from '../firstOf.js';
import { planStoredDelivery } from '../storedDelivery.js';
import type { PostgresContext } from './postgresContext.js';
import { ClaimedDeliveries } from './claimedDeliveries.js';
import { ReadyDeliveries } from './readyDeliveries.js';
import type { Claim, JobData } from './postgresJob.js';
import { waitForStartSlot } from './postgresRate.js';
import { sendBackForRetry } from './postgresRetry.js';
import type { DeliveryEnd, PostgresSettler } from './postgresSettler.js';

const log = logger('delivery');

/** A fetch takes up to this many times `concurrency` deliveries: it sorts every queued job to find the lanes' heads, whatever it takes, so with a backlog few large fetches cost less. */
const FETCH_FACTOR = 8;
/** Deliveries claimed here per endpoint (attempting or ready), at most this many times `concurrency`: past it, fetches leave the endpoint out. */
const HELD_FACTOR = 10;

/** Answered deliveries waiting for their settling transaction, at most this many times `concurrency`: past it, no fetch and no ready delivery starts (what a dying instance leaves answered, sent again by the next, stays within it). Settling is one transaction at a time, so what it may take at once bounds the rate. */
const SETTLING_FACTOR = 8;

/** A request planned earlier (a retry, a requeued dead letter), as the plan table holds it. */
type StoredPlan = { readonly request: string; readonly stripped: string[] };

/** @internal */
export type WorkerParts<R> = {
  readonly context: PostgresContext;
  readonly settler: PostgresSettler<R>;
  readonly handlers: DeliveryHandlers<R>;
  readonly concurrency: number;
  /** Aborted when the store closes: attempts in flight are cut short and left to the next instance. */
  readonly closing: AbortSignal;
  /** A delivery ended here with this outcome, or `null` when another instance took it over (and reports it). */
  readonly onEnded: (deliveryId: string, outcome: DeliveryOutcome<R> | null) => void;
  /** The event of a delivery journaled here and not settled yet: run rather than decoding the job's copy. */
  readonly journaledEvent: (deliveryId: string) => ServiceEvent<R> | undefined;
  /** A delivery ended here and its endpoint has room: its lane, and perhaps a slot, are free (held outbox rows may move). */
  readonly onRoom: () => void;
};

/** A fetched delivery waiting for a slot of its endpoint. */
type Ready = { readonly job: Job<JobData>; readonly plan: StoredPlan | null; readonly fetchedAt: number };

/**
 * Fetches due deliveries, one fetch at a time: pg-boss's fetch of a key_strict_fifo queue
 * reads every queued job (about 10 ms with 2,000 queued), so it fetches a whole batch and keeps
 * what has no free slot yet ready here (claimed, its lock running): a slot that frees starts
 * the next one at once rather than after a fetch. `concurrency` counts per endpoint: each
 * endpoint has at most that many attempts running here, and a fetch leaves out the endpoints
 * whose slots and ready deliveries are full (their jobs carry the endpoint as their pg-boss
 * group), so a slow or paused endpoint cannot hold the slots of the others. A delivery whose
 * attempt is over frees its slot while it waits for its settling transaction (which ends many
 * at once). Woken by notifications and by every delivery that ends, and by a poll otherwise.
 * @internal
 */
export class PostgresWorker<R> {
  readonly #parts: WorkerParts<R>;
  readonly #context: PostgresContext;
  /** Deliveries this instance may hold per endpoint (attempting or ready). */
  readonly #heldLimit: number;
  /** The deliveries claimed here (ready, attempting or settling), by delivery id. */
  readonly #claims = new ClaimedDeliveries();
  readonly inFlight = this.#claims.inFlight;
  /** Attempts running here, by endpoint: what `concurrency` bounds. */
  readonly #attempts = new Map<string, number>();
  /** Fetched deliveries waiting for a slot of their endpoint, in fetch order. */
  readonly #ready = new ReadyDeliveries<Ready>((ready) => ready.job.data.endpoint);
  /** Deliveries whose attempt is over, waiting to settle. */
  readonly #settling = new Set<string>();
  #fetching: Promise<void> | null = null;
  #fetchAgain = false;
  /** The last fetch found less than it asked for: nothing more is due until a signal (a wake, a lane freed) says otherwise. */
  #exhausted = false;
  /** Signals so far: one during a fetch keeps it from marking the queue exhausted. */
  #signals = 0;
  #pollTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(parts: WorkerParts<R>) {
    this.#parts = parts;
    this.#context = parts.context;
    this.#heldLimit = HELD_FACTOR * parts.concurrency;
  }

  /**
   * Looks for due deliveries now: there may be new ones (a notification, a retry due, a poll).
   * With the endpoint ids or lanes of the new ones, not when this instance holds all it may of
   * each endpoint, or a delivery of each lane: a fetch would leave them out or find them blocked
   * (and read every queued job to find that); a slot or lane freed here wakes it again.
   */
  wake(endpointIds: readonly string[] | null = null, lanes: readonly string[] | null = null): void {
    if (lanes !== null && lanes.length > 0 && this.#claims.holdsEvery(lanes)) return;
    if (endpointIds !== null && endpointIds.length > 0) {
      const full = new Set(this.#fullEndpointIds());
      if (endpointIds.every((id) => full.has(id))) return;
    }
    this.#signals += 1;
    this.#exhausted = false;
    this.#look();
  }

  /** Fetches unless a fetch runs (then it fetches again after it), nothing new is due since the last one, or enough is settling here already. */
  #look(): void {
    if (this.#parts.closing.aborted || this.#exhausted) return;
    if (this.#fetching !== null || this.#settling.size >= SETTLING_FACTOR * this.#parts.concurrency) {
      this.#fetchAgain = true;
      return;
    }
    this.#fetchAgain = false;
    if (!this.hasRoom) {
      // A slot freed here looks again; the poll goes on meanwhile.
      this.#schedulePoll(this.#context.options.pollIntervalMs ?? 1_000);
      return;
    }
    if (this.#pollTimer !== null) clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    this.#fetching = this.#fetch().finally(() => {
      this.#fetching = null;
      if (this.#parts.closing.aborted) return;
      if (this.#fetchAgain) this.#look();
      if (this.#fetching === null) this.#schedulePoll(this.#context.options.pollIntervalMs ?? 1_000);
    });
  }

  /** Deliveries of `endpoint` claimed here (attempting or ready): a fetch leaves it out at {@link HELD_FACTOR} times its slots. */
  #held(endpoint: string): number {
    return (this.#attempts.get(endpoint) ?? 0) + this.#ready.count(endpoint);
  }

  /** The endpoints with deliveries claimed here (attempting or ready). */
  #holding(): Set<string> {
    return new Set([...this.#attempts.keys(), ...this.#ready.endpoints()]);
  }

  /** Whether a fetch could take anything now: not while this instance holds all it may of every endpoint (it would read every queued job to take nothing). */
  get hasRoom(): boolean {
    const endpoints = this.#parts.handlers.endpoints;
    return endpoints === undefined || endpoints.length === 0 || endpoints.some((endpoint) => this.#held(endpoint) < this.#heldLimit);
  }

  /** Whether deliveries of these lanes could be started now, here or elsewhere: not while a fetch could take nothing, or this instance holds a delivery of each lane. */
  canStart(lanes: readonly string[]): boolean {
    return this.hasRoom && !this.#claims.holdsEvery(lanes);
  }

  /** The ids of the endpoints this instance holds all it may of (a fetch leaves them out). */
  #fullEndpointIds(): string[] {
    return [...this.#holding()].filter((endpoint) => this.#held(endpoint) >= this.#heldLimit).map(endpointIdOf);
  }

  /** Stops fetching; resolves when the fetch running, if any, is over. Ready deliveries go back to their lanes. */
  async stop(): Promise<void> {
    if (this.#pollTimer !== null) clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    await this.#fetching;
    await this.#giveBack(this.#ready.takeAll());
  }

  /** Gives fetched deliveries that never started back to their lanes at once, unattempted: their claim undone (pg-boss has no call for it), so the next fetch makes the same attempt they would have made. */
  async #giveBack(ready: readonly Ready[]): Promise<void> {
    if (ready.length === 0) return;
    const { pool, schema, queue } = this.#context;
    await pool
      .query(
        `UPDATE ${schema}.job SET state = (CASE WHEN retry_count > 0 THEN 'retry' ELSE 'created' END)::${schema}.job_state, started_on = NULL
         WHERE name = $1 AND id = ANY($2::uuid[]) AND state = 'active'`,
        [queue, ready.map(({ job }) => job.id)],
      )
      .catch((error: unknown) => log('store (postgres): could not give back %d fetched deliveries (they are taken over after the lock): %s', ready.length, messageOf(error)));
    for (const { job } of ready) this.#claims.release(job.data.deliveryId, job.data.key);
  }

  /** Looks again after `ms` (retries coming due; notifications missed) unless woken earlier. */
  #schedulePoll(ms: number): void {
    if (this.#pollTimer !== null) clearTimeout(this.#pollTimer);
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = null;
      this.wake();
    }, ms);
    this.#pollTimer.unref();
  }

  /** Fetches due deliveries of the endpoints that have room, and starts those with a free slot. */
  async #fetch(): Promise<void> {
    const { boss, queue } = this.#context;
    const { concurrency } = this.#parts;
    const signals = this.#signals;
    const batchSize = FETCH_FACTOR * concurrency;
    const full = this.#fullEndpointIds();
    let jobs: Job<JobData>[];
    let plans: Map<string, StoredPlan>;
    try {
      jobs = await boss.fetch<JobData>(queue, { batchSize, ...(full.length > 0 ? { ignoreGroups: full } : {}) });
      plans = await this.#storedPlans(jobs);
    } catch (error) {
      log('store (postgres): fetching deliveries failed: %s', messageOf(error));
      return;
    }
    const fetchedAt = Date.now();
    for (const job of jobs) {
      // Claimed from now: counted in flight, closing gives it back.
      this.#claims.claim(job.data.deliveryId, job.data.key);
      this.#ready.push({ job, plan: plans.get(job.data.deliveryId) ?? null, fetchedAt });
    }
    if (this.#parts.closing.aborted) {
      await this.#giveBack(this.#ready.takeAll());
      return;
    }
    this.#startReady();
    if (jobs.length < batchSize) {
      if (signals === this.#signals) this.#exhausted = true;
    } else if ([...this.#holding()].some((endpoint) => this.#held(endpoint) < this.#heldLimit)) {
      // A full batch and room left: more may be due. (Endpoints not seen yet are fetched at the next signal.)
      this.#fetchAgain = true;
    }
  }

  /** Starts the ready deliveries whose endpoint has a free slot. */
  #startReady(): void {
    const { concurrency } = this.#parts;
    if (this.#settling.size >= SETTLING_FACTOR * concurrency) return;
    // (Jobs journaled before endpoints were groups are not left out by the fetch: they wait here like the others.)
    for (const endpoint of this.#ready.endpoints()) {
      // Counted afresh each time: an attempt may end before its first await (an unreadable event).
      while ((this.#attempts.get(endpoint) ?? 0) < concurrency) {
        const ready = this.#ready.shift(endpoint);
        if (ready === undefined) break;
        this.#attempts.set(endpoint, (this.#attempts.get(endpoint) ?? 0) + 1);
        void this.#run(ready);
      }
    }
  }

  /** The requests planned earlier of the deliveries fetched (retries, requeued dead letters), in one query. */
  async #storedPlans(jobs: readonly Job<JobData>[]): Promise<Map<string, StoredPlan>> {
    const planned = jobs.filter((job) => job.retryCount > 0 || job.data.planned === true);
    if (planned.length === 0) return new Map();
    const { rows } = await this.#context.pool.query<{ delivery_id: string; request: string; stripped: string[] }>(
      `SELECT delivery_id, request, stripped FROM ${this.#context.schema}.rap_plan WHERE store = $1 AND delivery_id = ANY($2::text[])`,
      [this.#context.queue, planned.map((job) => job.data.deliveryId)],
    );
    return new Map(rows.map((row) => [row.delivery_id, { request: row.request, stripped: row.stripped }]));
  }

  /** Runs one fetched delivery; whatever it leaves unsettled goes back to its lane's head. */
  async #run({ job, plan, fetchedAt }: Ready): Promise<void> {
    try {
      await this.#process(job, plan, fetchedAt);
    } catch (error) {
      if (!(error instanceof ClosedError)) log('store (postgres): delivery %s interrupted: %s', job.data.deliveryId, messageOf(error));
      await this.#release(job, messageOf(error));
    } finally {
      // Only now: close() waits for what is in flight, its release included, before it stops.
      if (!this.#settling.delete(job.data.deliveryId)) this.#attemptEnded(job.data.endpoint);
      else if (!this.#parts.closing.aborted) this.#startReady();
      this.#claims.release(job.data.deliveryId, job.data.key);
      // Its lane is free: its next delivery may be due, and fetched if its endpoint has room.
      if (this.#held(job.data.endpoint) < this.#heldLimit) {
        this.#parts.onRoom();
        this.wake();
      }
    }
  }

  /** Back to retry (pg-boss waits its retry delay, 1 s): the lane stays held, the attempt counts. */
  async #release(job: Job<JobData>, reason: string): Promise<void> {
    await this.#context.boss
      .fail(this.#context.queue, { id: job.id, retryCount: job.retryCount }, { message: reason })
      .catch((error: unknown) => log('store (postgres): could not release delivery %s: %s', job.data.deliveryId, messageOf(error)));
  }

  /**
   * Runs one attempt of a delivery and ends it. A delivery without a stored request is planned
   * here; its request is stored when it goes back for a retry, so every retry sends the same
   * one (after a crash mid-attempt the next instance plans it again, with the same delivery id).
   */
  async #process(job: Job<JobData>, stored: StoredPlan | null, fetchedAt: number): Promise<void> {
    const { handlers, closing } = this.#parts;
    const data = job.data;
    if (closing.aborted) throw new ClosedError('The postgres store is closing');
    const abort = this.inFlight.get(data.deliveryId) ?? new AbortController();
    // The attempt must end within the lock (taken at the fetch): past it another instance may take the delivery over.
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(Math.max(1, Math.max(1, job.expireInSeconds) * 1_000 - (Date.now() - fetchedAt))), closing]);
    const claim: Claim = { id: job.id, retryCount: job.retryCount };
    let event: ServiceEvent<R>;
    try {
      event = this.#parts.journaledEvent(data.deliveryId) ?? decodeEventText<R>(data.event);
    } catch (error) {
      const unreadable = new PayloadError(`Expected delivery ${data.deliveryId} to hold a readable event, it did not: ${messageOf(error)}`);
      return this.#end(claim, data, { kind: 'dead', reason: 'payload', error: unreadable, request: null, response: null, attempts: 0 });
    }
    const attempt = job.retryCount + 1;
    const delivery: StoredDelivery<R> = { deliveryId: data.deliveryId, event, endpoint: data.endpoint, key: data.key, acceptedAt: data.acceptedAt, request: null, attempts: attempt - 1 };
    let request: RequestDescriptor;
    let stripped: readonly string[];
    if (stored !== null) {
      request = decodeRequest(stored.request);
      stripped = stored.stripped;
    } else {
      const plan = await planStoredDelivery(handlers, delivery);
      if (plan.kind === 'skipped') {
        await this.#end(claim, data, { kind: 'settled', outcome: { ...plan, acceptedAt: data.acceptedAt } });
        return;
      }
      if (plan.kind === 'failed') {
        await this.#end(claim, data, { kind: 'dead', reason: plan.reason, error: plan.error, request: plan.request, response: plan.response, attempts: plan.attempts, outcome: plan });
        return;
      }
      if (plan.request.deliveryId !== data.deliveryId) {
        const error = new PayloadError(`Expected the planned request of ${data.endpoint} to have delivery id ${data.deliveryId}, got ${plan.request.deliveryId}`);
        await this.#end(claim, data, { kind: 'dead', reason: 'payload', error, request: null, response: null, attempts: 0 });
        return;
      }
      request = plan.request;
      stripped = [];
    }
    const sent = restoreRequest(request, stripped, handlers.restoreSecrets);
    const rate = handlers.rates?.[data.endpoint];
    if (rate !== undefined) {
      // Every instance together: the next start slot of the endpoint, reserved in the database.
      await waitForStartSlot(this.#context.pool, this.#context.schema, this.#context.queue, data.endpoint, 1_000 / rate, signal);
    }
    let result: AttemptResult;
    try {
      result = await firstValue(() => handlers.attempt({ ...delivery, request: sent, attempt, signal }), {
        signal,
        // Cut short (closing, or past the lock): back to its lane's head, unsettled, below.
        onAbort: () => ({ kind: 'retry', delayMs: 1, reason: 'network', error: new NetworkError(`The attempt of delivery ${data.deliveryId} was aborted`), response: null }),
      });
    } catch (error) {
      result = { kind: 'failed', reason: 'network', error: new NetworkError(`The attempt handler of delivery ${data.deliveryId} threw: ${messageOf(error)}`, { cause: error }), response: null };
    }
    // Closing: the attempt was cut short; the delivery stays for the next instance, unsettled.
    if (closing.aborted) throw new ClosedError('The postgres store closed during the attempt');
    if (result.kind === 'delivered') {
      await this.#end(claim, data, {
        kind: 'settled',
        outcome: { kind: 'delivered', event, endpoint: data.endpoint, request: sent, response: result.response, attempts: attempt, acceptedAt: data.acceptedAt, settledAt: Date.now() },
      });
    } else if (result.kind === 'failed') {
      await this.#end(claim, data, { kind: 'dead', reason: result.reason, error: result.error, request: sent, response: result.response, attempts: attempt });
    } else {
      await this.#retry(claim, data, stored === null ? request : null, result.delayMs, result.error);
    }
  }

  /** The attempt of a delivery is over: its slot takes another one while it settles. */
  #attemptOver(data: JobData): void {
    if (this.#settling.has(data.deliveryId)) return;
    this.#settling.add(data.deliveryId);
    this.#attemptEnded(data.endpoint);
  }

  /** A slot is free: a ready delivery takes it, and the next fetch may be due (new work or not: see #exhausted). */
  #attemptEnded(endpoint: string): void {
    const running = (this.#attempts.get(endpoint) ?? 1) - 1;
    if (running > 0) this.#attempts.set(endpoint, running);
    else this.#attempts.delete(endpoint);
    if (this.#parts.closing.aborted) return;
    this.#startReady();
    this.#look();
  }

  async #end(claim: Claim, data: JobData, end: DeliveryEnd<R>): Promise<void> {
    this.#attemptOver(data);
    this.#parts.onEnded(data.deliveryId, await this.#parts.settler.settle(claim, data, end));
  }

  /** Back to the head of its lane, due after `delayMs`: the lane stays held (pg-boss's retry state) meanwhile. */
  async #retry(claim: Claim, data: JobData, planned: RequestDescriptor | null, delayMs: number, error: ProvisionerError): Promise<void> {
    this.#attemptOver(data);
    await sendBackForRetry(this.#context, claim, data, planned, delayMs, error);
    if (delayMs < (this.#context.options.pollIntervalMs ?? 1_000)) setTimeout(() => this.wake(), Math.max(0, Math.ceil(delayMs)) + 5).unref();
  }
}
