import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { Persistence } from './persistence.js';

/**
 * When a local store commits its deliveries' progress (attempts started, retries, settles):
 * after the I/O callbacks of the turn that asked for it (`setImmediate`; the scheduler's next
 * action in virtual time), so that the answers read in one turn share one transaction.
 *
 * @example
 * ```ts
 * persistence.settle(deliveryId, outcome, []);
 * commits.after((error) => (error === null ? emit(outcome) : tryAgainLater()));
 * ```
 * @internal
 */
export class ProgressCommits {
  readonly #persistence: Pick<Persistence<unknown>, 'afterWrites' | 'commit'>;
  readonly #scheduler: () => SchedulerLike;
  #scheduled = false;

  constructor(persistence: Pick<Persistence<unknown>, 'afterWrites' | 'commit'>, scheduler: () => SchedulerLike) {
    this.#persistence = persistence;
    this.#scheduler = scheduler;
  }

  /** Calls `then` once the writes asked for so far are committed, with null or the error that rolled them back. */
  after(then: (error: unknown) => void): void {
    if (!this.#persistence.afterWrites(then) || this.#scheduled) return;
    this.#scheduled = true;
    const scheduler = this.#scheduler();
    if (scheduler === asyncScheduler) setImmediate(() => this.now());
    else scheduler.schedule(() => this.now());
  }

  /** Commits what waits now (close). */
  now(): void {
    this.#scheduled = false;
    this.#persistence.commit();
  }
}
