import type { UnitOfWork } from 'remote-api-provisioner';

/** What a service method works with: a unit of work its components get, on which it stages its writes. */
export type StagingUnitOfWork = UnitOfWork & {
  /** Stages a write, applied at commit. */
  stage(write: () => void): void;
};

/** How the services run an operation: in a new unit of work, committed when `work` resolves, rolled back when it throws. */
export type Transactions = <T>(work: (uow: StagingUnitOfWork) => Promise<T>) => Promise<T>;

/**
 * The records app's transaction, in the manner of Invenio's `UnitOfWork`: a service method
 * stages its writes on it and runs its components with it; `commit()` applies the writes,
 * then calls what the components registered with `onCommit` (the provisioner's hooks register
 * the sending of their event there); `rollback()` drops the writes and calls `onRollback`.
 */
export class AppUnitOfWork implements StagingUnitOfWork {
  #state: 'open' | 'committed' | 'rolled back' = 'open';
  readonly #writes: (() => void)[] = [];
  readonly #commitCallbacks: (() => void)[] = [];
  readonly #rollbackCallbacks: (() => void)[] = [];

  /** Stages a write, applied at commit. */
  stage(write: () => void): void {
    this.#assertOpen('stage a write');
    this.#writes.push(write);
  }

  onCommit(callback: () => void): void {
    this.#assertOpen('register a commit callback');
    this.#commitCallbacks.push(callback);
  }

  onRollback(callback: () => void): void {
    this.#assertOpen('register a rollback callback');
    this.#rollbackCallbacks.push(callback);
  }

  commit(): void {
    this.#assertOpen('commit');
    this.#state = 'committed';
    for (const write of this.#writes) write();
    runAll(this.#commitCallbacks, 'commit');
  }

  rollback(): void {
    if (this.#state !== 'open') return;
    this.#state = 'rolled back';
    runAll(this.#rollbackCallbacks, 'rollback');
  }

  #assertOpen(action: string): void {
    if (this.#state !== 'open') throw new Error(`Cannot ${action}: expected an open unit of work, got one already ${this.#state}`);
  }
}

/**
 * Runs `work` in a new unit of work: commits when it resolves, rolls back when it throws.
 *
 * @example
 * ```ts
 * const record = await inTransaction(async (uow) => {
 *   await runComponents('publish', { identity, record, draft, uow });
 *   uow.stage(() => records.put(record));
 *   return record;
 * });
 * ```
 */
export async function inTransaction<T>(work: (uow: AppUnitOfWork) => Promise<T>): Promise<T> {
  const uow = new AppUnitOfWork();
  let result: T;
  try {
    result = await work(uow);
  } catch (error) {
    uow.rollback();
    throw error;
  }
  uow.commit();
  return result;
}

/** Calls every callback even when one throws: the data is committed either way. */
function runAll(callbacks: readonly (() => void)[], phase: string): void {
  const errors: unknown[] = [];
  for (const callback of callbacks) {
    try {
      callback();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, `${errors.length} ${phase} callback(s) threw`);
}
