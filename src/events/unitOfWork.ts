/**
 * The unit-of-work contract a hook understands: the app's transaction registers callbacks
 * that it calls once when it commits or rolls back (Invenio's `uow`).
 */
export type UnitOfWork = {
  onCommit(callback: () => void): void;
  onRollback(callback: () => void): void;
};
