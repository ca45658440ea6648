import type { Community, Member, RdmRecord, User } from './types.js';

/**
 * One in-memory table. Values are copied in and out, as a database would, so that a caller
 * holding a record cannot change what is stored (nor what an event already carries).
 */
export class Table<T extends { readonly id: string }> {
  readonly #rows = new Map<string, T>();

  get(id: string): T | undefined {
    const row = this.#rows.get(id);
    return row === undefined ? undefined : structuredClone(row);
  }

  put(row: T): void {
    this.#rows.set(row.id, structuredClone(row));
  }

  delete(id: string): boolean {
    return this.#rows.delete(id);
  }

  all(): T[] {
    return [...this.#rows.values()].map((row) => structuredClone(row));
  }
}

/** Everything the records app stores. */
export type RecordsStore = {
  readonly users: Table<User>;
  readonly records: Table<RdmRecord>;
  readonly drafts: Table<RdmRecord>;
  readonly communities: Table<Community>;
  readonly members: Table<{ readonly id: string; readonly members: readonly Member[] }>;
};

/** An empty store. */
export function createStore(): RecordsStore {
  return { users: new Table(), records: new Table(), drafts: new Table(), communities: new Table(), members: new Table() };
}
