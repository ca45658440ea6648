/**
 * A task run one at a time, with requests made while it runs folded into one more run.
 * @internal
 * @packageDocumentation
 */

/** How {@link OneAtATime} runs its task. @internal */
export type OneAtATimeOptions = {
  /** Called with what a run threw; the runs asked for meanwhile are dropped, the next request runs again. */
  readonly onError: (error: unknown) => void;
  /**
   * Awaited before each run, before the requests made so far count as answered: a request made
   * while it waits is answered by the run that follows it (a pace between runs).
   */
  readonly beforeEach?: () => Promise<void>;
  /** Whether to run again for the requests made during a run (false once closed). @default always */
  readonly goOn?: () => boolean;
};

/**
 * Runs `task` one at a time: a request while it runs asks for one more run after it, however
 * many requests come, and is answered when that run is over. The pattern behind the
 * PostgreSQL store's outbox move and outcome reads: each run takes everything there is, so
 * requests made during a run need one more run, not one each.
 *
 * @example
 * ```ts
 * const reads = new OneAtATime(() => readNewRows(), { onError: (error) => log('%s', error) });
 * await reads.run(); // rows committed before this call have been read
 * ```
 * @internal
 */
export class OneAtATime {
  readonly #task: () => Promise<void>;
  readonly #options: OneAtATimeOptions;
  #running: Promise<void> | null = null;
  #again = false;

  constructor(task: () => Promise<void>, options: OneAtATimeOptions) {
    this.#task = task;
    this.#options = options;
  }

  /** Whether a run is under way. */
  get running(): boolean {
    return this.#running !== null;
  }

  /** Runs the task now, or once more after the run under way; resolves when a run that started after this call is over (it never rejects). */
  run(): Promise<void> {
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    const { beforeEach, goOn, onError } = this.#options;
    this.#running = (async () => {
      try {
        do {
          if (beforeEach !== undefined) await beforeEach();
          this.#again = false;
          await this.#task();
        } while (this.#again && (goOn?.() ?? true));
      } catch (error) {
        onError(error);
      } finally {
        this.#again = false;
        this.#running = null;
      }
    })();
    return this.#running;
  }
}
