/** What every section of the benchmark receives, and what it returns. */
import type { Library } from './library.js';
import type { Receiver } from './receiverProcess.js';
import type { Row } from './stats.js';

export type BenchContext = {
  /** Smoke run: far fewer events and rounds, finishes in seconds. */
  readonly quick: boolean;
  readonly library: Library;
  readonly receiver: Receiver;
  /** Section a's concurrencies, when not all of them (`--concurrency`). */
  readonly concurrencies?: readonly number[];
  /** Progress line on stderr (the table goes to stdout). */
  log(message: string): void;
};

export type SectionResult = {
  readonly rows: readonly Row[];
  /** Extra figures of the section for the JSON output (counts, heap samples...). */
  readonly details?: Readonly<Record<string, unknown>>;
};

export type Section = {
  readonly id: 'a' | 'b' | 'c' | 'd' | 'e' | 'f';
  readonly title: string;
  run(context: BenchContext): Promise<SectionResult>;
};
