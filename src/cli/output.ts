/** Where a command writes: standard output for results, standard error for problems. */
export type Output = { readonly out: (line: string) => void; readonly err: (line: string) => void };

/** `1 endpoint`, `2 endpoints`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
