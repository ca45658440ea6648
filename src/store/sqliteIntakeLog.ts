import { closeSync, fdatasyncSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type BetterSqlite3 from 'better-sqlite3';
import { messageOf } from '../util/describeValue.js';
import { logger } from '../util/log.js';
import { redactText } from '../util/redact.js';

const log = logger('delivery');

/** A journaled delivery as the intake log keeps it until the database has it. @internal */
export type IntakeRecord = {
  readonly seq: number;
  readonly deliveryId: string;
  readonly eventId: string;
  readonly endpoint: string;
  readonly key: string;
  readonly acceptedAt: number;
  /** The event as `encodeEvent` wrote it. */
  readonly event: Buffer;
  readonly request: string | null;
  readonly stripped: string | null;
};

type Meta = Omit<IntakeRecord, 'event'>;

/** The first bytes of a log: its format, then the id of the database it belongs to. */
const MAGIC = 'rap-intake-1 ';
const HEADER_BYTES = MAGIC.length + 32 + 1;
/** A record's frame: body length, CRC-32 of the body, then the body (meta length, meta JSON, event bytes). */
const FRAME_BYTES = 8;

/**
 * The SQLite store's intake log: what a hook call journals is appended to it with one
 * `write` (and an `fdatasync` with `synchronous: 'full'`) before the hook returns, and moved
 * into the database with the deliveries' other writes after the caller's turn. A write is
 * in the operating system's hands once `write` returns, so it survives a crash of the
 * process as a WAL commit does, for a tenth of a commit's cost: a commit writes every page it
 * touches whole.
 *
 * The database records the highest sequence number it has taken in (`applied_seq`): on
 * open, the records above it are moved in and the rest ignored, so the log may be cut back
 * at any time after a commit. A log that names another database (the store file was
 * replaced) is set aside unread, and a torn last record (power lost mid-write) ends the read.
 *
 * @example
 * ```ts
 * const intake = IntakeLog.open(`${path}-intake`, storeId, false);
 * const pending = intake.takeRecords().filter((record) => record.seq > appliedSeq);
 * intake.append([record]);
 * ```
 * @internal
 */
export class IntakeLog {
  /** The records found when the log was opened, oldest first, until taken. */
  #records: readonly IntakeRecord[];
  readonly #path: string | null;
  readonly #storeId: string;
  readonly #sync: boolean;
  #fd: number;
  /** Record bytes after the header. */
  #bytes = 0;
  /** Why appends are refused: a failed write could not be cut back. */
  #broken: unknown = null;

  private constructor(path: string | null, storeId: string, sync: boolean, records: readonly IntakeRecord[]) {
    this.#path = path;
    this.#storeId = storeId;
    this.#sync = sync;
    this.#records = records;
    this.#fd = path === null ? -1 : openSync(path, 'a');
  }

  /**
   * Opens (or creates) the log of the database `storeId` and reads what it holds; `reset()`
   * it once those records are in the database, before the first append. `path` null: a
   * database in memory, whose log keeps nothing either.
   */
  static open(path: string | null, storeId: string, sync: boolean): IntakeLog {
    return new IntakeLog(path, storeId, sync, path === null ? [] : readRecords(path, storeId));
  }

  /**
   * The records found when the log was opened, oldest first; once: the log lets go of them,
   * so a large log read on a restart is not held until the store closes.
   */
  takeRecords(): readonly IntakeRecord[] {
    const records = this.#records;
    this.#records = [];
    return records;
  }

  /** Bytes appended since the last reset. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends records with one write; throws when the write fails (nothing is then journaled). */
  append(records: readonly IntakeRecord[]): void {
    if (this.#fd < 0) return;
    if (this.#broken !== null) throw new Error(`the intake log ${this.toString()} could not be cut back after a failed write: ${messageOf(this.#broken)}`);
    const bytes = Buffer.concat(records.map(frameOf));
    try {
      const written = writeSync(this.#fd, bytes);
      if (written !== bytes.length) throw new Error(`wrote ${written} of ${bytes.length} bytes`);
      if (this.#sync) fdatasyncSync(this.#fd);
    } catch (error) {
      // A part written would end every later read of the log: cut it off (the read stops at it anyway).
      try {
        ftruncateSync(this.#fd, HEADER_BYTES + this.#bytes);
      } catch (cut) {
        // Records appended after a torn one would never be read: take none until a reset.
        this.#broken = cut;
      }
      throw error;
    }
    this.#bytes += bytes.length;
  }

  /** Empties the log (every record in it is in the database) and writes its header again. */
  reset(): void {
    if (this.#fd < 0) return;
    ftruncateSync(this.#fd, 0);
    writeSync(this.#fd, Buffer.from(`${MAGIC}${this.#storeId}\n`, 'latin1'));
    if (this.#sync) fdatasyncSync(this.#fd);
    this.#bytes = 0;
    this.#broken = null;
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }

  toString(): string {
    return this.#path === null ? 'no intake log' : redactText(this.#path);
  }
}

function frameOf(record: IntakeRecord): Buffer {
  const { event, ...meta } = record;
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_BYTES + 4 + json.length + event.length);
  frame.writeUInt32LE(4 + json.length + event.length, 0);
  frame.writeUInt32LE(json.length, FRAME_BYTES);
  json.copy(frame, FRAME_BYTES + 4);
  event.copy(frame, FRAME_BYTES + 4 + json.length);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_BYTES)), 4);
  return frame;
}

function readRecords(path: string, storeId: string): IntakeRecord[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return [];
    throw error;
  }
  if (bytes.length === 0) return [];
  const header = bytes.subarray(0, HEADER_BYTES).toString('latin1');
  if (header !== `${MAGIC}${storeId}\n`) {
    log('store (sqlite): the intake log %s belongs to another store file, it is set aside unread', redactText(path));
    return [];
  }
  const records: IntakeRecord[] = [];
  let at = HEADER_BYTES;
  while (at + FRAME_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(at);
    const body = bytes.subarray(at + FRAME_BYTES, at + FRAME_BYTES + length);
    if (body.length < length || length < 4 || crc32(body) !== bytes.readUInt32LE(at + 4)) {
      log('store (sqlite): the intake log %s ends with a torn record after %d records', redactText(path), records.length);
      break;
    }
    const metaLength = body.readUInt32LE(0);
    const meta = JSON.parse(body.subarray(4, 4 + metaLength).toString('utf8')) as Meta;
    records.push({ ...meta, event: Buffer.from(body.subarray(4 + metaLength)) });
    at += FRAME_BYTES + length;
  }
  return records;
}

/**
 * The database's id (which intake log is its own) and the highest sequence number it took in
 * from that log (`store_meta`, written in the same transactions as the deliveries).
 * @internal
 */
export function readIntakeMark(db: BetterSqlite3.Database): { readonly storeId: string; readonly appliedSeq: number } {
  const values = new Map(db.prepare<[], { name: string; value: string }>('SELECT name, value FROM store_meta').all().map((row) => [row.name, row.value]));
  return { storeId: values.get('store_id') ?? '', appliedSeq: Number(values.get('applied_seq') ?? 0) };
}
