import { createHash } from 'node:crypto';

/** Event ids as the hooks make them: `<process prefix>-<counter in base 36>`. */
const COUNTED_EVENT_ID = /^(.+)-([0-9a-z]{1,10})$/;

/** Hash heads already computed: a process's prefix and its endpoints come back with every delivery. */
const heads = new Map<string, number>();
const MAX_CACHED_HEADS = 1_000;

/** The first four bytes of the SHA-256 of `text`, as an unsigned integer. */
function headOf(text: string): number {
  let head = heads.get(text);
  if (head === undefined) {
    head = createHash('sha256').update(text).digest().readUInt32BE(0);
    if (heads.size >= MAX_CACHED_HEADS) heads.clear();
    heads.set(text, head);
  }
  return head;
}

/**
 * The pg-boss job id (a uuid) of a delivery: the same for the same delivery, so journaling it
 * twice inserts it once; and, for event ids of one process (the hooks' `<prefix>-<counter>`),
 * growing with the counter. pg-boss orders a lane by `created_on`, then by id, and every job
 * written in one transaction (one journal batch, one app transaction) has the same
 * `created_on`: the counter in the id keeps those in journal order.
 *
 * @example
 * ```ts
 * jobIdOf('q3X9fKa0Lm2Z-1f', 'https://search.example.org/api/v1/documents'); // '8d0c51e7-0000-0000-0033-…'
 * ```
 * @internal
 */
export function jobIdOf(eventId: string, endpoint: string): string {
  const bytes = Buffer.alloc(16);
  const counted = COUNTED_EVENT_ID.exec(eventId);
  if (counted === null) {
    createHash('sha256').update(`${eventId}\n${endpoint}`).digest().copy(bytes, 0, 0, 16);
  } else {
    bytes.writeUInt32BE(headOf(counted[1] ?? ''), 0);
    bytes.writeBigUInt64BE(BigInt(Number.parseInt(counted[2] ?? '0', 36)), 4);
    bytes.writeUInt32BE(headOf(endpoint), 12);
  }
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
