import type { Community, Member, RdmRecord, User } from './types.js';

/** A change of one row of a table: `row` is `null` for a deletion; `before` is what it replaced. */
export type TableWrite = { readonly table: string; readonly id: string; readonly row: object | null; readonly before: object | undefined; readonly undo: () => void };

let recording: TableWrite[] | null = null;

/**
 * Runs `writes` and returns the changes they made to the tables, in order, so that a database
 * transaction can make them too (and `undoWrites` take them back when it fails).
 */
export function recordWrites(writes: () => void): TableWrite[] {
  const previous = recording;
  const recorded: TableWrite[] = [];
  recording = recorded;
  try {
    writes();
  } finally {
    recording = previous;
  }
  return recorded;
}

/** Takes recorded changes back, last first. */
export function undoWrites(writes: readonly TableWrite[]): void {
  for (const write of [...writes].reverse()) write.undo();
}

/**
 * One in-memory table. Values are copied in and out, as a database would, so that a caller
 * holding a record cannot change what is stored (nor what an event already carries).
 */
export class Table<T extends { readonly id: string }> {
  readonly #rows = new Map<string, T>();
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  get(id: string): T | undefined {
    const row = this.#rows.get(id);
    return row === undefined ? undefined : structuredClone(row);
  }

  put(row: T): void {
    this.#record(row.id, row);
    this.#rows.set(row.id, structuredClone(row));
  }

  delete(id: string): boolean {
    this.#record(id, null);
    return this.#rows.delete(id);
  }

  #record(id: string, row: T | null): void {
    if (recording === null) return;
    const before = this.#rows.get(id);
    const undo = (): void => {
      if (before === undefined) this.#rows.delete(id);
      else this.#rows.set(id, before);
    };
    recording.push({ table: this.name, id, row: row === null ? null : structuredClone(row), before, undo });
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
  return { users: new Table('users'), records: new Table('records'), drafts: new Table('drafts'), communities: new Table('communities'), members: new Table('members') };
}
