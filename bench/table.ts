/** Prints the rows as one table (plain text, also valid Markdown). */
import type { Row } from './stats.js';

/** Decimals for about three significant digits of `value`; none for integers. */
function digitsFor(value: number): number {
  const magnitude = Math.abs(value);
  return magnitude >= 100 || Number.isInteger(value) ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
}

/** A figure with `digits` decimals (default: about three significant digits), thousands separated. */
export function formatNumber(value: number, digits: number = digitsFor(value)): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cells(r: Row): string[] {
  const measured = r.value.rounds.length > 0;
  // The spread is printed with the median's decimals, so the three figures line up.
  const digits = r.value.rounds.every(Number.isInteger) ? 0 : digitsFor(r.value.median);
  const ratio = r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}× ${r.baseline ?? ''}`.trim();
  const verdicts = (r.verdicts ?? []).map((v) => `${v.pass ? 'PASS' : 'FAIL'} ${v.target}`).join('; ');
  return [
    r.section,
    r.name,
    measured ? formatNumber(r.value.median, digits) : 'n/a',
    measured && r.value.rounds.length > 1 ? `${formatNumber(r.value.min, digits)}–${formatNumber(r.value.max, digits)}` : '',
    r.unit,
    ratio,
    [verdicts, r.note ?? ''].filter((s) => s !== '').join('; '),
  ];
}

const HEADER = ['', 'measurement', 'median', 'min–max', 'unit', 'ratio to baseline', 'target / note'];

/** The table as Markdown, columns padded so it also reads as plain text. */
export function formatTable(rows: readonly Row[]): string {
  const body = rows.map(cells);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string =>
    `| ${c.map((cell, i) => (i >= 2 && i <= 3 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i >= 2 && i <= 3 ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(HEADER), rule, ...body.map(line)].join('\n');
}
