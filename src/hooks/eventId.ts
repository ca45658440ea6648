import { randomBytes } from 'node:crypto';

/**
 * A random id of this process (72 bits): event ids from different processes (or from two
 * copies of the library in one process) never collide, so durable stores can key on them.
 */
const PROCESS_PREFIX = randomBytes(9).toString('base64url');
let counter = 0;

/**
 * A new event id, unique across processes: `<random process prefix>-<counter in base 36>`.
 * Cheaper than `crypto.randomUUID()` on the hook's hot path.
 *
 * @example
 * ```ts
 * nextEventId(); // 'q3X9fKa0Lm2Z-1'
 * nextEventId(); // 'q3X9fKa0Lm2Z-2'
 * ```
 * @internal
 */
export function nextEventId(): string {
  counter += 1;
  return `${PROCESS_PREFIX}-${counter.toString(36)}`;
}
