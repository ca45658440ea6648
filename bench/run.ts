/**
 * The benchmark runner: `npm run bench` (full) or `npm run bench -- --quick` (smoke run).
 *
 * Options:
 *   --quick          far fewer events and rounds (finishes in well under a minute)
 *   --out <file>     where to write the JSON (default bench/results/latest.json)
 *   --only a,c       run only these sections (f, the PostgreSQL outbox, needs DATABASE_URL's server)
 *   --concurrency 16 section a at these concurrencies only (comma-separated; default 1,16,64)
 *
 * Prints one table on stdout (progress goes to stderr) and writes the same rows as JSON.
 * Runs on Node.js 22.19 or newer (it refuses older ones); the documented figures are Node 24's.
 * Talks only to 127.0.0.1 servers it starts; every loop is bounded in count and time.
 */
// First: refuses a Node.js older than 22.19 before the rest loads.
import './nodeVersion.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, Section, SectionResult } from './context.js';
import { endToEnd } from './endToEnd.js';
import { hookCost } from './hookCost.js';
import { loadLibrary } from './library.js';
import { pipelineCost } from './pipeline.js';
import { postgresOutbox } from './postgresOutbox.js';
import { queueMemory } from './queueMemory.js';
import { startReceiver } from './receiverProcess.js';
import { retryStorm } from './retryStorm.js';
import { collectGarbage, missing, type Row } from './stats.js';
import { formatTable } from './table.js';

const SECTIONS: readonly Section[] = [endToEnd, hookCost, pipelineCost, queueMemory, retryStorm, postgresOutbox];
const DEFAULT_OUT = fileURLToPath(new URL('./results/latest.json', import.meta.url));

type Options = {
  readonly quick: boolean;
  readonly out: string;
  readonly only: ReadonlySet<string> | null;
  readonly concurrencies: readonly number[] | null;
};

function parseOptions(argv: readonly string[]): Options {
  let quick = false;
  let out = DEFAULT_OUT;
  let only: Set<string> | null = null;
  let concurrencies: number[] | null = null;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--out') out = resolve(argv[++i] ?? '');
    else if (arg === '--only') only = new Set((argv[++i] ?? '').split(','));
    else if (arg === '--concurrency') concurrencies = (argv[++i] ?? '').split(',').map(Number);
    else throw new Error(`Expected --quick, --out <file>, --only <sections> or --concurrency <numbers>, got ${JSON.stringify(arg)}`);
  }
  return { quick, out, only, concurrencies };
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const log = (message: string): void => {
    process.stderr.write(`${message}\n`);
  };
  const machine = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    loadBefore: load(),
    gcExposed: collectGarbage(),
    quick: options.quick,
    date: new Date(started).toISOString(),
  };
  log(`bench ${options.quick ? '--quick' : '(full)'} on Node ${machine.node}, ${machine.cpus} CPUs, load ${machine.loadBefore}`);
  if (!machine.gcExposed) log('note: run with --expose-gc for the heap figures (npm run bench does)');

  const receiver = await startReceiver();
  const library = await loadLibrary();
  const context: BenchContext = { quick: options.quick, library, receiver, log, ...(options.concurrencies === null ? {} : { concurrencies: options.concurrencies }) };
  const results: Record<string, SectionResult & { title: string; seconds: number }> = {};
  const rows: Row[] = [];
  let failed = false;
  try {
    for (const section of SECTIONS) {
      if (options.only !== null && !options.only.has(section.id)) continue;
      log(`\n${section.title}`);
      const sectionStart = Date.now();
      let result: SectionResult;
      try {
        result = await section.run(context);
      } catch (error) {
        failed = true;
        const message = error instanceof Error ? error.message : String(error);
        log(`section ${section.id} failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
        result = { rows: [missing(section.id, 'section failed', '', message.split('\n')[0] ?? message)] };
      }
      const seconds = (Date.now() - sectionStart) / 1_000;
      results[section.id] = { ...result, title: section.title, seconds };
      rows.push(...result.rows);
    }
  } finally {
    await receiver.close();
  }

  const meta = { ...machine, loadAfter: load(), seconds: (Date.now() - started) / 1_000 };
  const titles = Object.entries(results).map(([id, r]) => `${id}: ${r.title.replace(/^[a-f]\. /, '')} (${r.seconds.toFixed(1)} s)`);
  process.stdout.write(
    `\nremote-api-provisioner bench${options.quick ? ' --quick (smoke run: figures are indicative only)' : ''}\n` +
      `Node ${meta.node}, ${meta.cpus} × ${meta.cpuModel}, load ${meta.loadBefore} → ${meta.loadAfter}, ${meta.seconds.toFixed(1)} s\n\n` +
      `${formatTable(rows)}\n\n` +
      `Sections:\n${titles.map((t) => `- ${t}`).join('\n')}\n` +
      'Figures: median of the rounds, min–max over the rounds; CPU is user + system time of this (client) process.\n',
  );
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify({ meta, rows, sections: results }, null, 2)}\n`);
  process.stdout.write(`JSON written to ${options.out}\n`);
  if (failed) process.exitCode = 1;
}

await main();
