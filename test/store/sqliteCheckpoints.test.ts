import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteCheckpoints } from '../../src/store/sqliteCheckpoints.js';
import { sqliteStoreAvailability } from '../../src/store/sqliteStore.js';

// The SQLite store's checkpoints copy the WAL into the database file with an fsync before and
// after the copy; these tests show the event loop goes on meanwhile, that nothing is written
// until the last sync has ended, and that a write that cannot wait finishes the checkpoint first.
const sqlite = sqliteStoreAvailability();
const suffix = sqlite.available ? '' : ` (skipped: better-sqlite3 does not load on Node ${process.version}: ${sqlite.reason})`;
/** Past the rows after which a checkpoint is due. */
const ROWS = 9_000;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe.skipIf(!sqlite.available)(`sqlite store, checkpoints${suffix}`, () => {
  let dir: string;
  let file: string;
  let db: BetterSqlite3.Database;
  let writable: number;
  let whenWritable: Promise<void>;
  let checkpoints: SqliteCheckpoints;

  /** Opens the database as the store does (exclusive, WAL, no automatic checkpoints) with rows that are all in the WAL. */
  const open = (): BetterSqlite3.Database => {
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
    const opened = new Database(file);
    opened.pragma('locking_mode = EXCLUSIVE');
    opened.pragma('journal_mode = WAL');
    opened.pragma('synchronous = NORMAL');
    opened.pragma('wal_autocheckpoint = 0');
    return opened;
  };
  const insertRows = (count: number): void => {
    const insert = db.prepare('INSERT INTO rows (body) VALUES (?)');
    db.transaction(() => {
      for (let index = 0; index < count; index += 1) insert.run(`row ${index} `.padEnd(200, '.'));
    })();
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'rap-checkpoints-'));
    file = path.join(dir, 'store.db');
    db = open();
    db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    writable = 0;
    let resolve = (): void => undefined;
    whenWritable = new Promise((done) => (resolve = done));
    checkpoints = new SqliteCheckpoints(db, () => {
      writable += 1;
      resolve();
    });
  });
  afterEach(() => {
    checkpoints.stop();
    if (db.open) db.close();
    checkpoints.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('syncs the files off the event loop: the next turn finds the store not writable, and the rows are in the database file when it is again', async () => {
    insertRows(ROWS);
    const before = statSync(file).size;
    checkpoints.committed(ROWS);
    expect(checkpoints.writable).toBe(true);

    // The checkpoint starts in the turn's check phase, before this one, and hands its syncs to libuv.
    await nextTurn();
    expect(checkpoints.writable).toBe(false);
    await whenWritable;

    expect(checkpoints.writable).toBe(true);
    expect(writable).toBe(1);
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    expect(statSync(file).size).toBeGreaterThan(before + ROWS * 200);
    db.close();
    checkpoints.close();
    db = open();
    expect(db.prepare('SELECT count(*) AS count FROM rows').get()).toEqual({ count: ROWS });
  });

  it('finishes a checkpoint inline for a write that cannot wait; the syncs it started then change nothing', async () => {
    insertRows(ROWS);
    const before = statSync(file).size;
    checkpoints.committed(ROWS);
    await nextTurn();
    expect(checkpoints.writable).toBe(false);

    const written = checkpoints.written(() => {
      insertRows(10);
      return 10;
    }, (rows) => rows);

    expect(written).toBe(10);
    expect(checkpoints.writable).toBe(true);
    expect(statSync(file).size).toBeGreaterThan(before + ROWS * 200);
    // The syncs handed to libuv before end after this; they neither call back nor start writes.
    for (let turn = 0; turn < 20; turn += 1) await nextTurn();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(writable).toBe(0);
    expect(db.prepare('SELECT count(*) AS count FROM rows').get()).toEqual({ count: ROWS + 10 });
  });

  it('checkpoints a database in memory inline: it has no files to sync', async () => {
    checkpoints.stop();
    db.close();
    const Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
    db = new Database(':memory:');
    db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    checkpoints = new SqliteCheckpoints(db, () => (writable += 1));
    insertRows(ROWS);
    checkpoints.committed(ROWS);
    await nextTurn();
    expect(checkpoints.writable).toBe(true);
    expect(writable).toBe(0);
  });
});
