/**
 * The next jobs of a journal buffer to write at once: at most `maxJobs`, and at most
 * `maxBytes` of encoded data (a batch is built and written in one go: 1,000 jobs of large
 * records held the event loop for over 100 ms), yet always at least one.
 *
 * @example
 * ```ts
 * const batch = nextBatch(buffer, (job) => job.data.event.length, { maxJobs: 1_000, maxBytes: 256 * 1024 });
 * ```
 * @internal
 */
export function nextBatch<T>(buffer: readonly T[], bytesOf: (job: T) => number, limits: { readonly maxJobs: number; readonly maxBytes: number }): T[] {
  let bytes = 0;
  let count = 0;
  for (const job of buffer) {
    bytes += bytesOf(job);
    if (count > 0 && (count >= limits.maxJobs || bytes > limits.maxBytes)) break;
    count += 1;
  }
  return buffer.slice(0, count);
}
