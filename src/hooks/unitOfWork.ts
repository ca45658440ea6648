import { ProvisionerError } from '../errors.js';
import type { UnitOfWork } from '../events/unitOfWork.js';
import { runEveryCallback } from './runEveryCallback.js';

/**
 * Where a {@link ManagedUnitOfWork} is: still open, or settled one way for good.
 *
 * @example
 * ```ts
 * const uow = createUnitOfWork();
 * uow.state; // 'open'
 * uow.commit();
 * uow.state; // 'committed'
 * ```
 */
export type UnitOfWorkState = 'open' | 'committed' | 'rolled-back';

/**
 * A ready-made {@link UnitOfWork} for apps without their own: the app calls `commit()` after
 * its transaction commits (or `rollback()` after it rolls back), and the callbacks registered
 * meanwhile run then, in registration order, once.
 *
 * @example
 * ```ts
 * const uow: ManagedUnitOfWork = createUnitOfWork();
 * uow.onCommit(() => cache.invalidate(record.id));
 * hooks.publish({ identity, record, uow });
 * try {
 *   await db.save(record);
 *   uow.commit();
 * } catch (error) {
 *   uow.rollback();
 *   throw error;
 * }
 * ```
 */
export type ManagedUnitOfWork = UnitOfWork & {
  /**
   * Marks the unit committed and runs the `onCommit` callbacks in registration order. A
   * throwing callback does not stop the others; once all ran, their errors are thrown
   * together as an `AggregateError`.
   * @throws {@link ProvisionerError} when the unit is not open (committed twice, or after rollback).
   */
  commit(): void;
  /** Marks the unit rolled back and runs the `onRollback` callbacks, like `commit()`. */
  rollback(): void;
  /** `'open'` until `commit()` or `rollback()`. */
  readonly state: UnitOfWorkState;
};

/**
 * A new, open unit of work. Pass it as `uow` to hooks: their events are emitted when it
 * commits, in call order, and never when it rolls back. Registering on a settled unit,
 * committing twice or committing after a rollback throws: that is a bug in the app.
 *
 * @example
 * ```ts
 * const uow = createUnitOfWork();
 * hooks.publish({ identity, record, draft, uow });   // nothing emitted yet
 * await db.transaction(async () => { ...write the record... });
 * uow.commit();                                        // the publish event is emitted now
 * ```
 */
export function createUnitOfWork(): ManagedUnitOfWork {
  let state: UnitOfWorkState = 'open';
  let commitCallbacks: (() => void)[] = [];
  let rollbackCallbacks: (() => void)[] = [];

  const expectOpen = (action: string): void => {
    if (state !== 'open') {
      throw new ProvisionerError(`Expected an open unit of work to ${action}, got one already ${state}`);
    }
  };
  const expectFunction = (callback: unknown, registration: string): void => {
    if (typeof callback !== 'function') {
      throw new ProvisionerError(`Expected ${registration} to receive a function, got ${callback === null ? 'null' : typeof callback}`);
    }
  };
  const settle = (next: UnitOfWorkState, callbacks: readonly (() => void)[]): void => {
    state = next;
    commitCallbacks = [];
    rollbackCallbacks = [];
    runEveryCallback(callbacks, next === 'committed' ? 'commit' : 'rollback');
  };

  return {
    onCommit(callback: () => void): void {
      expectFunction(callback, 'onCommit');
      expectOpen('register an onCommit callback');
      commitCallbacks.push(callback);
    },
    onRollback(callback: () => void): void {
      expectFunction(callback, 'onRollback');
      expectOpen('register an onRollback callback');
      rollbackCallbacks.push(callback);
    },
    commit(): void {
      expectOpen('commit');
      settle('committed', commitCallbacks);
    },
    rollback(): void {
      expectOpen('roll back');
      settle('rolled-back', rollbackCallbacks);
    },
    get state(): UnitOfWorkState {
      return state;
    },
  };
}

/**
 * Whether a value honours the {@link UnitOfWork} contract (has an `onCommit` function): any
 * app object does, not only {@link createUnitOfWork}'s.
 *
 * @example
 * ```ts
 * isUnitOfWork(createUnitOfWork()); // true
 * isUnitOfWork({ commit() {} });    // false
 * ```
 */
export function isUnitOfWork(value: unknown): value is UnitOfWork {
  return typeof value === 'object' && value !== null && typeof (value as { onCommit?: unknown }).onCommit === 'function';
}
