/**
 * The PostgreSQL store itself (see `createPostgresStore`): journal, worker, settler, outcome
 * and dead-letter tables, put together behind the DeliveryStore contract.
 * @internal
 * @packageDocumentation
 */
import { Subject, type Observable } from 'rxjs';
import { ClosedError, ProvisionerError } from '../../errors.js';
import type { DeliveryOutcome, FailureReason } from '../../events/outcomes.js';
import type { ServiceEvent } from '../../events/serviceEvent.js';
import { currentOutboxTransaction, type OutboxSink, type SqlExecutor } from '../../hooks/outboxUnitOfWork.js';
import { messageOf } from '../../util/describeValue.js';
import { logger } from '../../util/log.js';
import { decodeEventText } from '../codec.js';
import type { DeadLetter, DeadLetterFilter, DeliveryHandlers, DeliveryStore, JournalEntry, JournalResult, StoreCloseOptions, StoreOutcome } from '../deliveryStore.js';
import { journaledDeliveries, UnsettledDeliveries } from '../journaledDeliveries.js';
import { positiveInteger } from '../memoryStore.js';
import { failedOutcome } from '../storedDelivery.js';
import { sleep, withTimeout } from '../waits.js';
import type { PgListener } from './pgConnection.js';
import { executorOf, inTransaction, type PostgresContext } from './postgresContext.js';
import { PostgresDeadLetters } from './postgresDeadLetters.js';
import { endpointIdsOfPayload, lanesOfPayload, newJob, type NewJob } from './postgresJob.js';
import type { Heartbeat } from '../liveInstances.js';
import { postgresHeartbeat } from './postgresInstances.js';
import { PostgresJournal } from './postgresJournal.js';
import { PostgresOutbox } from './postgresOutbox.js';
import { PostgresOutcomeTable } from './postgresOutcomeTable.js';
import { PostgresSettler } from './postgresSettler.js';
import { PostgresWorker } from './postgresWorker.js';

const log = logger('delivery');

/** What the store is made of: its context, its listening connection, and whether it ends its pool. @internal */
export type PostgresStoreParts = { readonly context: PostgresContext; readonly listener: PgListener; readonly ownPool: boolean };

/** @internal */
export class PostgresSharedStore<R> implements DeliveryStore<R>, OutboxSink<NewJob> {
  readonly kind = 'postgres' as const;
  readonly outcomes$: Observable<StoreOutcome<R>>;
  readonly #outcomes = new Subject<StoreOutcome<R>>();
  readonly #parts: PostgresStoreParts;
  readonly #context: PostgresContext;
  readonly #closing = new AbortController();
  readonly #unsettled: UnsettledDeliveries<R>;
  /** The events of the jobs written through an app's transaction, kept once it commits (gone with the jobs if it rolls back). */
  readonly #outboxEvents = new WeakMap<NewJob, ServiceEvent<R>>();
  readonly #journal: PostgresJournal;
  readonly #outbox: PostgresOutbox;
  #outboxPoll: ReturnType<typeof setInterval> | null = null;
  readonly #outcomeTable: PostgresOutcomeTable<R>;
  readonly #deadLetters: PostgresDeadLetters<R>;
  readonly #settler: PostgresSettler<R>;
  readonly #heartbeat: Heartbeat;
  #worker: PostgresWorker<R> | null = null;
  #closed: Promise<void> | null = null;

  constructor(parts: PostgresStoreParts) {
    this.#parts = parts;
    this.#context = parts.context;
    this.outcomes$ = this.#outcomes.asObservable();
    this.#unsettled = new UnsettledDeliveries('postgres', parts.context.options.maxQueue ?? 10_000);
    this.#journal = new PostgresJournal(parts.context, {
      onUnwritten: (jobs, error, reason) => this.#unwritten(jobs, error, reason),
      isClosed: () => this.#closed !== null,
      beforeWrite: () => (this.#outbox.holdsCommitted ? this.#outbox.move() : Promise.resolve()),
    });
    this.#outbox = new PostgresOutbox(parts.context, this.#journal);
    this.#outcomeTable = new PostgresOutcomeTable<R>(parts.context, {
      settled: (deliveryId) => this.#unsettled.settled(deliveryId),
      outcome: (deliveryId, outcome) => {
        if (!this.#outcomes.closed) this.#outcomes.next({ deliveryId, outcome, local: false });
      },
    });
    this.#deadLetters = new PostgresDeadLetters<R>(parts.context);
    this.#settler = new PostgresSettler<R>(parts.context, this.#deadLetters, (deliveryId) => this.#unsettled.has(deliveryId));
    this.#heartbeat = postgresHeartbeat(parts.context);
  }

  /** Starts following the outcome table (from now on: outcomes are hot, not replayed) and the store's notifications. */
  async open(): Promise<void> {
    // Alive before anything is journaled here: the others write the outcomes this instance reads from now on.
    await this.#heartbeat.open();
    await this.#outcomeTable.open();
    const instance = this.#context.instance;
    await this.#parts.listener.listen(
      this.#context.channel,
      (payload) => {
        if (payload.startsWith('outcome:')) {
          // This instance's own outcome reached outcomes$ already, and its worker looked for the
          // freed lane's next delivery as the attempt ended.
          if (payload === `outcome:${instance}`) return;
          void this.#outcomeTable.read();
        }
        // A new delivery, or another instance's settled one that frees its lane: there may be work to fetch.
        this.#worker?.wake(endpointIdsOfPayload(payload), lanesOfPayload(payload));
      },
      () => {
        void this.#outcomeTable.read();
        this.#worker?.wake();
      },
    );
  }

  journal(entries: readonly JournalEntry<R>[]): JournalResult {
    const deliveries = journaledDeliveries('postgres', entries, this.#closed !== null);
    if (!Array.isArray(deliveries)) return deliveries;
    const transaction = currentOutboxTransaction();
    const jobs = deliveries.map((delivery) => {
      const job = newJob(delivery);
      if (transaction !== null) this.#outboxEvents.set(job, delivery.event);
      return job;
    });
    if (transaction !== null) {
      // In the app's transaction: written there by the unit of work, just before its COMMIT.
      transaction.enlist<NewJob>(this, jobs);
      return { kind: 'journaled', deliveryIds: jobs.map((job) => job.data.deliveryId) };
    }
    const answer = this.#unsettled.admit(deliveries, entries.length);
    if (answer.kind === 'journaled') this.#journal.push(jobs);
    return answer;
  }

  /** Writes deliveries journaled in the app's transaction through it, into the outbox table (the unit of work calls this before COMMIT). @internal */
  async write(executor: SqlExecutor, jobs: readonly NewJob[]): Promise<void> {
    await this.#outbox.write(executor, jobs);
  }

  /** The same write as SQL text, sent with the app's COMMIT in one round trip (createPgUnitOfWork on a pg client). @internal */
  statement(jobs: readonly NewJob[], literal: (value: string) => string): string {
    return this.#outbox.statement(jobs, literal);
  }

  /**
   * The app's transaction committed: its deliveries are pending here until settled. They are
   * moved into pg-boss now, whose NOTIFY wakes every instance's worker, this one's too; or, while
   * this instance holds a delivery of each of their lanes (pg-boss hands them to no instance
   * before those end) or all it may of every endpoint (its receivers are slow or down), as a
   * lane or a slot frees here, with whatever waits: the app's transactions meanwhile do not
   * share the database with inserts of jobs nobody can start. Another instance with room moves
   * them at its next poll. @internal
   */
  committed(jobs: readonly NewJob[]): void {
    this.#unsettled.committed(jobs.map((job) => ({ deliveryId: job.data.deliveryId, event: this.#outboxEvents.get(job) })));
    void this.#outbox.committed(this.#worker?.canStart(jobs.map((job) => job.data.key)) ?? true);
  }

  flush(): Promise<void> {
    return this.#journal.flush();
  }

  start(handlers: DeliveryHandlers<R>): void {
    if (this.#worker !== null) throw new ProvisionerError('Expected the postgres store to be started once, it was started already');
    if (this.#closed !== null) throw new ClosedError('Expected an open postgres store to start, got a closed one');
    this.#worker = new PostgresWorker<R>({
      context: this.#context,
      settler: this.#settler,
      handlers,
      concurrency: positiveInteger('concurrency', this.#context.options.concurrency ?? handlers.concurrency ?? 16),
      closing: this.#closing.signal,
      onEnded: (deliveryId, outcome) => this.#reached(deliveryId, outcome),
      journaledEvent: (deliveryId) => this.#unsettled.eventOf(deliveryId),
      onRoom: () => {
        if (this.#closed === null && this.#outbox.holdsCommitted) void this.#outbox.move();
      },
    });
    this.#worker.wake();
    // Outbox rows a crashed instance committed and never moved; those of units of work never told they committed (a move's NOTIFY wakes the worker).
    // Not while rows committed here wait for lanes held here: the move as one frees takes these too.
    const mayMove = (): boolean => {
      const worker = this.#worker;
      return worker === null || (worker.hasRoom && (!this.#outbox.holdsCommitted || worker.inFlight.size === 0));
    };
    const pollOutbox = (): void => void this.#outbox.poll(mayMove);
    this.#outboxPoll = setInterval(pollOutbox, this.#context.options.pollIntervalMs ?? 1_000);
    this.#outboxPoll.unref();
    pollOutbox();
  }

  pending(): number {
    return this.#unsettled.pending(this.#worker?.inFlight.keys() ?? []);
  }

  async drain(): Promise<void> {
    await this.flush();
    const poll = this.#context.options.drainPollMs ?? 50;
    while (this.#closed === null) {
      // What was journaled here before this count is settled if the count finds nothing.
      const counted = this.#unsettled.snapshot();
      // The database is asked only once this instance has nothing of its own left.
      if (this.#journal.length === 0 && (this.#worker?.inFlight.size ?? 0) === 0 && (await this.#unsettledJobs()) === 0) {
        // The outcomes the other instances reached reach outcomes$ before drain resolves.
        await this.#outcomeTable.read();
        for (const deliveryId of counted) this.#unsettled.settled(deliveryId);
        return;
      }
      await (this.#worker?.inFlight.emptiedOr(poll) ?? sleep(poll));
    }
  }

  /** Deliveries of the store not settled yet, in every instance: its jobs, and its outbox rows (one snapshot: a move between the two counts is not missed). */
  async #unsettledJobs(): Promise<number> {
    const { schema, queue } = this.#context;
    const { rows } = await this.#context.pool.query<{ count: string }>(
      `SELECT ((SELECT count(*) FROM ${schema}.job WHERE name = $1 AND state < 'completed') + (SELECT count(*) FROM ${schema}.rap_outbox WHERE store = $1))::text AS count`,
      [queue],
    );
    return Number(rows[0]?.count ?? 0);
  }

  deadLetters(filter: DeadLetterFilter = {}): Promise<readonly DeadLetter<R>[]> {
    return this.#deadLetters.list(filter);
  }

  async requeue(deliveryIds: readonly string[]): Promise<readonly string[]> {
    if (deliveryIds.length === 0) return [];
    const ids = await inTransaction(this.#context.pool, async (client) => {
      const jobs = await this.#deadLetters.take(client, deliveryIds);
      await this.#journal.insert(jobs, executorOf(client));
      return jobs.map((job) => job.data.deliveryId);
    }, 'BEGIN');
    if (ids.length > 0) this.#worker?.wake();
    return ids;
  }

  discard(deliveryIds: readonly string[]): Promise<number> {
    return this.#deadLetters.discard(deliveryIds);
  }

  close(options: StoreCloseOptions = {}): Promise<void> {
    this.#closed ??= (async () => {
      const timeoutMs = options.timeoutMs ?? 5_000;
      this.#outcomeTable.close();
      if (this.#outboxPoll !== null) clearInterval(this.#outboxPoll);
      // Timer cleared once the flush is done: a pending one would keep the process alive for timeoutMs.
      await withTimeout(this.flush(), timeoutMs).catch(() => undefined);
      this.#journal.failBuffered(new ClosedError(`Expected the postgres store to write the journaled deliveries before it closed, it could not within ${timeoutMs} ms`), 'closed');
      // Attempts in flight are aborted and left to the next instance, unsettled.
      this.#closing.abort(new ClosedError('The postgres store closed'));
      try {
        await this.#worker?.stop();
        await waitFor(() => (this.#worker?.inFlight.size ?? 0) === 0, timeoutMs);
        await this.#context.boss.stop({ graceful: true, close: false, timeout: Math.max(1_000, timeoutMs) });
      } catch (error) {
        log('store (postgres): stopping pg-boss failed: %s', messageOf(error));
      }
      await this.#parts.listener.close();
      await this.#heartbeat.close();
      if (this.#parts.ownPool) await this.#context.pool.end().catch((error: unknown) => log('store (postgres): closing the pool failed: %s', messageOf(error)));
      this.#outcomes.complete();
    })();
    return this.#closed;
  }

  /** A delivery ended here: its outcome reaches outcomes$ at once (none when another instance took it over). */
  #reached(deliveryId: string, outcome: DeliveryOutcome<R> | null): void {
    this.#unsettled.settled(deliveryId);
    if (outcome !== null && !this.#outcomes.closed) this.#outcomes.next({ deliveryId, outcome, local: true });
  }

  /** Jobs that never reached the database: their deliveries end as `failed`. */
  #unwritten(jobs: readonly NewJob[], error: ProvisionerError, reason: FailureReason): void {
    for (const job of jobs) {
      try {
        const event = decodeEventText<R>(job.data.event);
        this.#reached(job.data.deliveryId, failedOutcome({ event, endpoint: job.data.endpoint, acceptedAt: job.data.acceptedAt }, null, reason, error, null, 0));
      } catch (decodeFailure) {
        this.#unsettled.settled(job.data.deliveryId);
        log('store (postgres): could not report delivery %s: %s', job.data.deliveryId, messageOf(decodeFailure));
      }
    }
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(10);
}
