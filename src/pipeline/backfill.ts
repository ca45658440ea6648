import { defer, Observable, throwError } from 'rxjs';
import { endpointsFor } from '../config/configIndex.js';
import type { ProvisionerConfig } from '../config/types.js';
import { ClosedError, ConfigError } from '../errors.js';
import { SYSTEM_IDENTITY, type Identity } from '../events/identity.js';
import { isMethodOf, type MethodOf, type ServiceType } from '../events/methodTables.js';
import type { DeliveryOutcome } from '../events/outcomes.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { createHooks, type HookRejection } from '../hooks/createHooks.js';
import { nextEventId } from '../hooks/eventId.js';

/**
 * Options of `provisioner.backfill`: which service method the records are sent as, by whom,
 * and how many records may be in the pipeline at once.
 *
 * @example
 * ```ts
 * provisioner.backfill(records, { service: 'rdm_record', method: 'publish', concurrency: 32 });
 * ```
 */
export type BackfillOptions<S extends ServiceType = ServiceType> = {
  readonly service: S;
  /** The method each record is sent as: its event configs decide payload, URL and endpoints. */
  readonly method: MethodOf<S>;
  /** Who the events are by. @default SYSTEM_IDENTITY (so owners are `SYSTEM_OWNER`) */
  readonly identity?: Identity;
  /** Records whose outcomes are awaited at once; the next record is read when one settles. @default 16 */
  readonly concurrency?: number;
  /** How many records the source has, when known beforehand (arrays and sets are counted anyway). */
  readonly total?: number;
};

/**
 * Default of {@link BackfillOptions.concurrency}.
 *
 * @example
 * ```ts
 * provisioner.backfill(records, { service: 'rdm_record', method: 'publish', concurrency: 2 * DEFAULT_BACKFILL_CONCURRENCY });
 * ```
 */
export const DEFAULT_BACKFILL_CONCURRENCY = 16;

/**
 * Where a backfill stands: records read and settled so far (`done`: every endpoint has its
 * outcome), of them those with at least one `failed` outcome and those skipped by every
 * endpoint, and `total` once it is known (given, counted from an array, or when the source
 * ends).
 *
 * @example
 * ```ts
 * provisioner.backfill(records, { service: 'rdm_record', method: 'publish' }).subscribe(({ done, failed, total }) =>
 *   console.info(`${done}/${total ?? '?'} (${failed} failed)`),
 * );
 * ```
 */
export type BackfillProgress = {
  readonly done: number;
  readonly delivered: number;
  readonly failed: number;
  readonly skipped: number;
  /** Records read from the source and not settled yet. */
  readonly inFlight: number;
  readonly total?: number;
};

/** What the provisioner hands the backfill. @internal */
export type BackfillDriver<R> = {
  /**
   * Prepares one record's event: its id, how many outcomes it will get (0: nothing to send),
   * and `emit`, which sends it through the pipeline (outcomes may come before `emit` returns).
   */
  readonly prepare: (record: R) => { readonly eventId: string; readonly expected: number; readonly emit: () => void };
  readonly outcomes$: Observable<DeliveryOutcome<R>>;
};

type Tally = { remaining: number; failed: boolean; allSkipped: boolean };

/**
 * Feeds records through the pipeline, at most `concurrency` awaiting their outcomes at once,
 * pulling the next record from the source as one settles; emits the progress after every
 * record settled and completes when the source is exhausted and every record settled.
 * @internal
 */
export function runBackfill<R = AppRecord>(
  source: AsyncIterable<R> | Iterable<R>,
  concurrency: number,
  knownTotal: number | undefined,
  driver: BackfillDriver<R>,
): Observable<BackfillProgress> {
  return new Observable<BackfillProgress>((subscriber) => {
    const open = new Map<string, Tally>();
    let total = knownTotal ?? countOf(source);
    let done = 0;
    let delivered = 0;
    let failed = 0;
    let skipped = 0;
    let exhausted = false;
    let reading = false;
    let stopped = false;
    const iterator: AsyncIterator<R> | Iterator<R> =
      Symbol.asyncIterator in source ? (source as AsyncIterable<R>)[Symbol.asyncIterator]() : (source as Iterable<R>)[Symbol.iterator]();

    const progress = (): BackfillProgress => ({ done, delivered, failed, skipped, inFlight: open.size, ...(total !== undefined ? { total } : {}) });

    const settleRecord = (tally: Tally): void => {
      done += 1;
      if (tally.failed) failed += 1;
      else if (tally.allSkipped) skipped += 1;
      else delivered += 1;
      subscriber.next(progress());
    };

    const finishIfDone = (): void => {
      if (exhausted && open.size === 0 && !stopped) {
        stopped = true;
        subscriber.complete();
      }
    };

    const outcomes = driver.outcomes$.subscribe((outcome) => {
      const tally = open.get(outcome.event.eventId);
      if (tally === undefined) return;
      tally.remaining -= 1;
      if (outcome.kind === 'failed') tally.failed = true;
      if (outcome.kind !== 'skipped') tally.allSkipped = false;
      if (tally.remaining > 0) return;
      open.delete(outcome.event.eventId);
      settleRecord(tally);
      void pull();
      finishIfDone();
    });

    const pull = async (): Promise<void> => {
      if (reading || stopped) return;
      reading = true;
      try {
        while (!stopped && !exhausted && open.size < concurrency) {
          const next = await iterator.next();
          if (stopped) return;
          if (next.done === true) {
            exhausted = true;
            if (total === undefined || total !== done + open.size) {
              total = done + open.size;
              // Records still open, or the last one settled while the source was read: its step had no total.
              if (total > 0) subscriber.next(progress());
            }
            break;
          }
          const { eventId, expected, emit } = driver.prepare(next.value);
          const tally: Tally = { remaining: expected, failed: false, allSkipped: true };
          if (expected === 0) {
            settleRecord(tally);
            continue;
          }
          open.set(eventId, tally);
          emit();
        }
      } catch (error) {
        stopped = true;
        subscriber.error(error);
        return;
      } finally {
        reading = false;
      }
      finishIfDone();
    };

    void pull();
    return () => {
      stopped = true;
      outcomes.unsubscribe();
      if (!exhausted) void Promise.resolve(iterator.return?.()).catch(() => undefined);
    };
  });
}

function countOf(source: unknown): number | undefined {
  if (Array.isArray(source)) return source.length;
  if (source instanceof Set || source instanceof Map) return source.size;
  return undefined;
}

/** What {@link backfillThrough} needs of the provisioner. @internal */
export type BackfillContext<R> = {
  readonly config: ProvisionerConfig<R>;
  /** Emits an event on the provisioner's bus. */
  readonly emit: (event: ServiceEvent<R>) => void;
  readonly isClosed: () => boolean;
  readonly onRejected: (rejection: HookRejection<R>) => void;
  readonly outcomes$: Observable<DeliveryOutcome<R>>;
};

/**
 * `provisioner.backfill`: checks the method and concurrency, then feeds the records through
 * the provisioner's hooks of `options.method` (by the system identity unless one is given)
 * and counts their outcomes on `outcomes$`.
 * @internal
 */
export function backfillThrough<R, S extends ServiceType>(
  context: BackfillContext<R>,
  source: AsyncIterable<R> | Iterable<R>,
  options: BackfillOptions<S>,
): Observable<BackfillProgress> {
  const { service, method } = options;
  const concurrency = options.concurrency ?? DEFAULT_BACKFILL_CONCURRENCY;
  const expected = (service === 'rdm_record' || service === 'community') && isMethodOf(service, method) ? endpointsFor(context.config, service, method).length : 0;
  if (expected === 0 || !Number.isInteger(concurrency) || concurrency < 1) {
    return throwError(
      () =>
        new ConfigError([
          expected === 0
            ? `backfill: expected ${String(service)}.${String(method)} to have at least one endpoint in the config, found none`
            : `backfill: expected concurrency to be a positive integer, got ${String(concurrency)}`,
        ]),
    );
  }
  // Closed, the provisioner's outcomes$ completes: the progress would wait for outcomes forever.
  const closed = (): Observable<never> => throwError(() => new ClosedError(`Expected an open provisioner to backfill ${String(service)}.${String(method)}, got a closed one`));
  let eventId = '';
  const hooks = createHooks<S, R>(service, context.emit, { isClosed: context.isClosed, onRejected: context.onRejected, newEventId: () => eventId });
  const hook = hooks[method] as unknown as (args: unknown) => void;
  const identity = options.identity ?? SYSTEM_IDENTITY;
  const progress = runBackfill<R>(source, concurrency, options.total, {
    outcomes$: context.outcomes$,
    prepare: (record) => {
      const id = nextEventId();
      return {
        eventId: id,
        expected,
        emit: () => {
          eventId = id;
          hook({ identity, record });
        },
      };
    },
  });
  return defer(() => (context.isClosed() ? closed() : progress));
}

