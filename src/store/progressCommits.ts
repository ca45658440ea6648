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
  readonly #scheduler: () => SchedulerLike | null;
  #scheduled = false;

  /** `scheduler` answers null until the store is started: what is written before then waits for the first commit after it. */
  constructor(persistence: Pick<Persistence<unknown>, 'afterWrites' | 'commit'>, scheduler: () => SchedulerLike | null) {
    this.#persistence = persistence;
    this.#scheduler = scheduler;
  }

  /** Calls `then` once the writes asked for so far are committed, with null or the error that rolled them back. */
  after(then: (error: unknown) => void): void {
    if (!this.#persistence.afterWrites(then) || this.#scheduled) return;
    const scheduler = this.#scheduler();
    if (scheduler === null) return;
    this.#scheduled = true;
    if (scheduler === asyncScheduler) setImmediate(() => this.now());
    else scheduler.schedule(() => this.now());
  }

  /** A commit after this turn, when writes wait for one (deliveries just journaled, or the store just started). */
  soon(): void {
    this.after(ignore);
  }

  /** Commits what waits now (close). */
  now(): void {
    this.#scheduled = false;
    this.#persistence.commit();
  }
}

function ignore(): void {}
