// The floors of src/ (DESIGN.md's layout), held by the suite: a file imports only from its own
// floor or lower ones, no import cycle exists (type-only imports count), and no file grows past
// MAX_LINES. The import graph is read with the TypeScript compiler's own pre-processor, so
// `import type`, `export … from` and dynamic `import()` are all edges.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

/**
 * The floors, bottom to top. DESIGN.md's order, with what the code showed:
 * - `src/errors.ts` is on the events floor: outcomes carry errors and errors carry responses.
 * - `src/index.ts` is the top floor with the command line (which reads the config through it).
 * The delivery id and ordering key (`src/events/deliveryId.ts`, `deliveryKey.ts`) and the URL
 * rules (`src/util/urls.ts`) live below planning, which gives requests their ids and URLs.
 */
const FLOORS: readonly { readonly name: string; readonly files: readonly string[] }[] = [
  { name: 'events', files: ['events/', 'errors.ts'] },
  { name: 'util', files: ['util/'] },
  { name: 'config', files: ['config/'] },
  { name: 'hooks and bus', files: ['hooks/', 'bus/'] },
  { name: 'planning', files: ['planning/'] },
  { name: 'delivery', files: ['delivery/'] },
  { name: 'operators', files: ['operators/'] },
  { name: 'store', files: ['store/'] },
  { name: 'pipeline', files: ['pipeline/'] },
  { name: 'provisioner', files: ['provisioner.ts'] },
  { name: 'entry points', files: ['cli/', 'cli.ts', 'index.ts'] },
];

/** No file in src/ is longer than this many lines. */
const MAX_LINES = 400;

/** Being split: files over MAX_LINES today, each to come under it (remove an entry once it does). */
const TOO_LONG_TODAY: readonly string[] = [];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(SRC, full).split(path.sep).join('/')] : [];
  });
}

function floorOf(file: string): number {
  return FLOORS.findIndex((floor) => floor.files.some((prefix) => (prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix)));
}

/** The files of src/ that `file` imports (relative imports only; packages are not floors). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(SRC, file), 'utf8');
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => path.posix.normalize(path.posix.join(path.posix.dirname(file), name.replace(/\.js$/, '.ts'))));
}

const files = sourceFiles(SRC).sort();
const graph = new Map(files.map((file) => [file, importsOf(file)] as const));

/** The strongly connected components with more than one file (or a file importing itself): the cycles. */
function cycles(): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, counter);
    low.set(file, counter);
    counter += 1;
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1 || (graph.get(file) ?? []).includes(file)) found.push(component.sort());
    }
  };
  for (const file of files) if (!index.has(file)) visit(file);
  return found;
}

describe('the layout of src/', () => {
  it('puts every file on a floor', () => {
    expect(files.filter((file) => floorOf(file) === -1)).toEqual([]);
  });

  it('imports only files that exist', () => {
    const missing = [...graph].flatMap(([file, imports]) => imports.filter((target) => !graph.has(target)).map((target) => `${file} → ${target}`));
    expect(missing).toEqual([]);
  });

  it('has no import from a higher floor into a lower one', () => {
    const upward = [...graph].flatMap(([file, imports]) =>
      imports
        .filter((target) => graph.has(target) && floorOf(target) > floorOf(file))
        .map((target) => `${file} (${FLOORS[floorOf(file)]?.name}) imports ${target} (${FLOORS[floorOf(target)]?.name})`),
    );
    expect(upward).toEqual([]);
  });

  it('has no import cycle, type-only imports included', () => {
    expect(cycles()).toEqual([]);
  });

  it(`has no file above ${MAX_LINES} lines but those being split, and lists none that is not`, () => {
    const lengths = new Map(files.map((file) => [file, readFileSync(path.join(SRC, file), 'utf8').split('\n').length - 1] as const));
    const tooLong = files.filter((file) => (lengths.get(file) ?? 0) > MAX_LINES && !TOO_LONG_TODAY.includes(file));
    expect(tooLong.map((file) => `${file}: ${lengths.get(file)} lines`)).toEqual([]);
    const listedButShort = TOO_LONG_TODAY.filter((file) => lengths.has(file) && (lengths.get(file) ?? 0) <= MAX_LINES);
    expect(listedButShort).toEqual([]);
  });

  it('sees the edges it checks: type-only imports and re-exports are part of the graph', () => {
    expect(graph.get('events/outcomes.ts')).toContain('errors.ts');
    expect(graph.get('index.ts')).toContain('operators/toRequests.ts');
  });
});
