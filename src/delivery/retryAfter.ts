const DELAY_SECONDS = /^\s*(\d+(?:\.\d+)?)\s*$/;

/**
 * How long a `Retry-After` header value asks to wait, in milliseconds: delay-seconds (`120`)
 * or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`, measured from `now`). A date in the past
 * gives `0`. `null` when the header is absent or not one of those forms.
 *
 * @example
 * ```ts
 * parseRetryAfter('2', Date.now());                              // 2000
 * parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:30 GMT')); // 30000
 * parseRetryAfter('soon', Date.now());                           // null
 * ```
 */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) {
    return null;
  }
  const seconds = DELAY_SECONDS.exec(value);
  if (seconds !== null) {
    return Math.round(Number(seconds[1]) * 1000);
  }
  if (!/[a-z]/i.test(value)) {
    return null;
  }
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(date - now, 0);
}
