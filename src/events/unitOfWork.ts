/**
 * The unit-of-work contract a hook understands: the app's transaction registers callbacks
 * that it calls once when it commits or rolls back (Invenio's `uow`). Any object with these
 * two functions will do; `createUnitOfWork()` is a ready-made one.
 *
 * @example
 * ```ts
 * // An app's own transaction object honouring the contract.
 * class Transaction implements UnitOfWork {
 *   readonly #commits: (() => void)[] = [];
 *   readonly #rollbacks: (() => void)[] = [];
 *   onCommit(callback: () => void): void { this.#commits.push(callback); }
 *   onRollback(callback: () => void): void { this.#rollbacks.push(callback); }
 *   async run(work: () => Promise<void>): Promise<void> {
 *     try { await work(); } catch (error) { this.#rollbacks.forEach((run) => run()); throw error; }
 *     this.#commits.forEach((run) => run());
 *   }
 * }
 * ```
 */
export type UnitOfWork = {
  /** Registers a callback to run once, after the unit commits. Hooks register their event's emission here. */
  onCommit(callback: () => void): void;
  /** Registers a callback to run once, after the unit rolls back. */
  onRollback(callback: () => void): void;
};
