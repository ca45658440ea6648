/**
 * "Did you mean" suggestions for misspelt config keys, method names and values.
 */

/** Inputs longer than this get no suggestion (bounds the edit-distance cost). */
const MAX_INPUT_LENGTH = 64;

/**
 * The candidate closest to `input`, or `undefined` when none is close enough. A candidate
 * that differs only in case, `_`, `-` or spaces wins (`urlFactory` → `url_factory`, `post` →
 * `POST`); otherwise the one with the smallest edit distance (with transpositions), if that
 * distance is at most a third of the input's length (at least 1, at most 3). Ties go to the
 * earlier candidate, so tables list the likelier names first.
 *
 * @example
 * ```ts
 * suggest('PUTT', ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);  // 'PUT'
 * suggest('urlFactory', ['url_factory', 'callback']);           // 'url_factory'
 * suggest('frobnicate', ['publish', 'read']);                   // undefined
 * ```
 * @internal
 */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  if (input.length === 0 || input.length > MAX_INPUT_LENGTH) {
    return undefined;
  }
  const list = [...candidates].filter((candidate) => candidate !== input);
  const normalized = normalize(input);
  const sameWord = list.find((candidate) => normalize(candidate) === normalized);
  if (sameWord !== undefined) {
    return sameWord;
  }
  const threshold = Math.min(3, Math.max(1, Math.floor(input.length / 3)));
  let best: string | undefined;
  let bestDistance = threshold + 1;
  for (const candidate of list) {
    const distance = editDistance(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * The optimal string alignment distance: insertions, deletions, substitutions and swaps of
 * two neighbouring characters each cost 1.
 *
 * @example
 * ```ts
 * editDistance('publsih', 'publish');  // 1
 * ```
 * @internal
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const table = new Array<number>(rows * columns).fill(0);
  const at = (i: number, j: number): number => table[i * columns + j] ?? 0;
  for (let i = 0; i < rows; i += 1) table[i * columns] = i;
  for (let j = 0; j < columns; j += 1) table[j] = j;
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < columns; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      }
      table[i * columns + j] = distance;
    }
  }
  return at(rows - 1, columns - 1);
}

function normalize(word: string): string {
  return word.toLowerCase().replace(/[-_\s]/g, '');
}
