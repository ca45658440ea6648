import type { Emitter } from 'mitt';
import { Subject } from 'rxjs';
import type { Observable } from 'rxjs';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { logger } from '../util/log.js';
import { createEmitter } from './mitt.js';

const log = logger('bus');

/**
 * The events of the bus's mitt emitter: one type, `event`, carrying a {@link ServiceEvent}.
 *
 * @example
 * ```ts
 * const emitter: Emitter<BusEvents> = provisioner.emitter;
 * emitter.on('event', (event) => audit.write(event.eventId));
 * ```
 */
export type BusEvents<R = AppRecord> = { event: ServiceEvent<R> };

/**
 * The bridge from the hooks' mitt emitter to an RxJS stream. Whatever is emitted as `event`
 * on `emitter` (by `emit`, by the hooks, or by the app itself) is pushed to `events$`.
 *
 * @example
 * ```ts
 * const bus: EventBus<MyRecord> = createEventBus<MyRecord>();
 * bus.events$.subscribe((event) => audit.write(event.serviceType, event.method, event.recordId));
 * ```
 */
export type EventBus<R = AppRecord> = {
  /** The mitt emitter; the app may listen on it (`emitter.on('event', ...)`) or emit on it. */
  readonly emitter: Emitter<BusEvents<R>>;
  /**
   * Every event emitted on `emitter` from the moment of subscription, backed by a `Subject`:
   * hot, shared, not replayed. Completes on `complete()`.
   */
  readonly events$: Observable<ServiceEvent<R>>;
  /** Emits an event on `emitter` (and so on `events$`). Does nothing after `complete()`. */
  emit(event: ServiceEvent<R>): void;
  /** Completes `events$` and detaches it from `emitter`; later events are dropped with a debug line. */
  complete(): void;
  /** Whether `complete()` was called. */
  readonly completed: boolean;
};

/**
 * A new event bus: a mitt emitter whose `event`s feed an RxJS `Subject`.
 *
 * `events$` is hot and keeps nothing: an event emitted while nobody subscribes to
 * `events$` is gone for it (mitt handlers still see it). The provisioner subscribes its
 * pipeline before it hands out hooks, so no hook event is ever emitted into an empty bus;
 * apps composing their own pipeline should subscribe before they attach hooks too.
 *
 * ```
 * emit(a)   emit(b)        emit(c)   complete()
 *    |         |              |          |
 * events$ ----a---------b--------------c----------|
 * late subscriber:        ^------------c----------|
 * ```
 *
 * @example
 * ```ts
 * const bus = createEventBus();
 * bus.events$.pipe(ofService('rdm_record')).subscribe((event) => audit.write(event.method, event.recordId));
 * const hooks = createHooks('rdm_record', bus.emit);
 * hooks.publish({ identity, record });
 * bus.complete();
 * ```
 */
export function createEventBus<R = AppRecord>(): EventBus<R> {
  const emitter = createEmitter<BusEvents<R>>();
  const subject = new Subject<ServiceEvent<R>>();
  let completed = false;
  const forward = (event: ServiceEvent<R>): void => {
    subject.next(event);
  };
  emitter.on('event', forward);

  return {
    emitter,
    events$: subject.asObservable(),
    emit(event: ServiceEvent<R>): void {
      if (completed) {
        log('event %s of %s.%s emitted after the bus completed: dropped', event.eventId, event.serviceType, event.method);
        return;
      }
      emitter.emit('event', event);
    },
    complete(): void {
      if (completed) {
        return;
      }
      completed = true;
      emitter.off('event', forward);
      subject.complete();
    },
    get completed(): boolean {
      return completed;
    },
  };
}
