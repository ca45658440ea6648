// Finds the TypeScript blocks of the guides that are marked runnable and type-checks them
// against the library's source, so that a guide cannot drift from the API it describes.
//
// A block is runnable when its fence's info string is `ts runnable` (or `typescript
// runnable`). Each block is a module of its own: it imports what it uses, from
// 'remote-api-provisioner' as users do, and may `declare` what it does not show. A block
// marked `file=config.ts` is written under that name, so that later blocks of the same
// markdown file can import it (`from './config.js'`); the others are named by their line.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One fenced code block of a markdown file. */
export type CodeBlock = {
  /** The markdown file, relative to the repository root. */
  readonly file: string;
  /** The 1-based line of the block's first code line. */
  readonly line: number;
  /** The first word of the info string (`ts`, `sh`...). */
  readonly lang: string;
  /** The words after it (`runnable`...). */
  readonly attributes: readonly string[];
  readonly code: string;
};

/** A compile error of a runnable block, located in its markdown file. */
export type BlockDiagnostic = {
  readonly file: string;
  readonly line: number;
  readonly message: string;
};

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;
const TYPESCRIPT = new Set(['ts', 'typescript']);

/** Every fenced code block of a markdown text, in order. */
export function extractCodeBlocks(file: string, markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split(/\r?\n/);
  let open: { fence: string; lang: string; attributes: string[]; line: number; body: string[] } | null = null;
  lines.forEach((text, index) => {
    if (open === null) {
      const match = FENCE.exec(text);
      if (match === null) return;
      const [, fence = '', lang = '', rest = ''] = match;
      open = { fence, lang: lang.toLowerCase(), attributes: rest.split(/\s+/).filter(Boolean), line: index + 2, body: [] };
      return;
    }
    const closing = text.trim();
    if (closing.startsWith(open.fence[0]!.repeat(open.fence.length)) && /^[`~]+$/.test(closing)) {
      blocks.push({ file, line: open.line, lang: open.lang, attributes: open.attributes, code: open.body.join('\n') });
      open = null;
      return;
    }
    open.body.push(text);
  });
  return blocks;
}

/** Whether a block is marked as runnable TypeScript. */
export function isRunnable(block: CodeBlock): boolean {
  return TYPESCRIPT.has(block.lang) && block.attributes.includes('runnable');
}

/** README.md and every guide under docs/ (not the generated API reference), relative paths. */
export function guideFiles(root: string = REPO_ROOT): string[] {
  const docs = path.join(root, 'docs');
  const guides = readdirSync(docs, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md') && !name.split(path.sep).includes('api'))
    .map((name) => path.posix.join('docs', name.split(path.sep).join('/')))
    .sort();
  return ['README.md', ...guides];
}

/** The runnable blocks of the given markdown files. */
export function runnableBlocks(files: readonly string[], root: string = REPO_ROOT): CodeBlock[] {
  return files.flatMap((file) => extractCodeBlocks(file, readFileSync(path.join(root, file), 'utf8')).filter(isRunnable));
}

/**
 * The blocks that show a file of the repository (`copy-of=test/docs/userPipeline.test.ts`):
 * the file is compiled and run by the suite itself, and the block must stay identical to it.
 */
export function copiedBlocks(files: readonly string[], root: string = REPO_ROOT): { block: CodeBlock; source: string }[] {
  return files.flatMap((file) =>
    extractCodeBlocks(file, readFileSync(path.join(root, file), 'utf8')).flatMap((block) => {
      const source = block.attributes.find((attribute) => attribute.startsWith('copy-of='))?.slice('copy-of='.length);
      return source === undefined ? [] : [{ block, source }];
    }),
  );
}

/** The project's compiler options, with the package name mapped to its source. */
export function compilerOptions(root: string = REPO_ROOT): ts.CompilerOptions {
  const configPath = path.join(root, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (file) => ts.sys.readFile(file));
  if (read.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configPath);
  return {
    ...parsed.options,
    noEmit: true,
    paths: { 'remote-api-provisioner': [path.join(root, 'src/index.ts')] },
  };
}

/**
 * Writes each block to `<root>/.tmp/doc-blocks/` (inside the repository, so that it is an ES
 * module that resolves the project's dependencies) and type-checks them all in one program.
 * Returns the errors of the blocks, located at their markdown file and line.
 */
export function typeCheckBlocks(blocks: readonly CodeBlock[], root: string = REPO_ROOT): BlockDiagnostic[] {
  const byFile = writeBlocks(blocks, path.join(root, '.tmp', 'doc-blocks'));
  const program = ts.createProgram([...byFile.keys()], compilerOptions(root));
  const diagnostics: BlockDiagnostic[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const block = diagnostic.file === undefined ? undefined : byFile.get(path.resolve(diagnostic.file.fileName));
    if (diagnostic.file === undefined || block === undefined) {
      // Errors outside the blocks (options, the library itself) are reported once, unlocated.
      if (diagnostic.file === undefined) diagnostics.push({ file: '(compiler options)', line: 0, message });
      continue;
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    diagnostics.push({ file: block.file, line: block.line + line, message: `TS${diagnostic.code}: ${message}` });
  }
  return diagnostics;
}

/**
 * Writes each block as a module under `outDir` (emptied first), one directory per markdown
 * file, and returns the absolute path of each block's module.
 */
export function writeBlocks(blocks: readonly CodeBlock[], outDir: string): Map<string, CodeBlock> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const byFile = new Map<string, CodeBlock>();
  for (const block of blocks) {
    const blockPath = path.resolve(outDir, block.file.replace(/[^A-Za-z0-9]+/g, '_'), blockFileName(block));
    const taken = byFile.get(blockPath);
    if (taken !== undefined) {
      throw new Error(`${block.file}:${block.line}: expected a file name of its own, got ${blockFileName(block)}, already used at line ${taken.line}`);
    }
    mkdirSync(path.dirname(blockPath), { recursive: true });
    // `export {}` keeps a block without imports a module, so blocks never share top-level names.
    writeFileSync(blockPath, `${block.code}\nexport {};\n`);
    byFile.set(blockPath, block);
  }
  return byFile;
}

/** The name a block is written under: its `file=` attribute, or `L<line>.ts`. */
export function blockFileName(block: CodeBlock): string {
  const named = block.attributes.find((attribute) => attribute.startsWith('file='))?.slice('file='.length);
  if (named !== undefined && !/^[A-Za-z0-9_-]+\.ts$/.test(named)) {
    throw new Error(`${block.file}:${block.line}: expected file= to name a .ts file without directories, got ${JSON.stringify(named)}`);
  }
  return named ?? `L${block.line}.ts`;
}

/** `file:line TSxxxx: message`, one a line, for a failing test's message. */
export function formatDiagnostics(diagnostics: readonly BlockDiagnostic[]): string {
  return diagnostics.map((d) => `${d.file}:${d.line} ${d.message}`).join('\n');
}
