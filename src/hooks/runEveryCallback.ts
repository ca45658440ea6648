/**
 * Runs every commit or rollback callback of a unit of work, even when one throws: the data is
 * committed (or rolled back) either way; the throws are reported together afterwards.
 * @throws {AggregateError} when any callback threw.
 * @internal
 */
export function runEveryCallback(callbacks: readonly (() => void)[], which: string): void {
  const errors: unknown[] = [];
  for (const callback of callbacks) {
    try {
      callback();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, `${errors.length} of ${callbacks.length} ${which} callbacks of the unit of work threw (all ran)`);
}
