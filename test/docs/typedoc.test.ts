import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GROUPS } from '../../typedoc.groups.mjs';
import { REPO_ROOT } from './docBlocks.js';

// Runs typedoc with the project's typedoc.json, as `npm run docs` does, but writes the site
// and the JSON model to .tmp/typedoc/ so the test leaves docs/api alone. Warnings are collected rather than
// raised (they would stop typedoc before it writes the model); the test fails on any of them.

type CommentPart = { readonly kind: string; readonly text: string; readonly tag?: string; readonly target?: unknown };
type Comment = {
  readonly summary?: readonly CommentPart[];
  readonly blockTags?: readonly { readonly tag: string; readonly content?: readonly CommentPart[] }[];
};
type Reflection = {
  readonly id?: number;
  readonly name: string;
  readonly groups?: readonly { readonly title: string; readonly children?: readonly number[] }[];
  readonly comment?: Comment;
  readonly signatures?: readonly { readonly comment?: Comment }[];
  readonly children?: readonly Reflection[];
};

const JSON_OUT = path.join(REPO_ROOT, '.tmp', 'typedoc', 'api.json');
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');

function runTypedoc(): { status: number | null; output: string } {
  rmSync(JSON_OUT, { force: true });
  const result = spawnSync(
    process.execPath,
    [path.join(REPO_ROOT, 'node_modules/typedoc/bin/typedoc'), '--out', path.join(REPO_ROOT, '.tmp', 'typedoc', 'html'), '--json', JSON_OUT, '--treatWarningsAsErrors', 'false', '--logLevel', 'Warn'],
    { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, timeout: 60_000 },
  );
  return { status: result.status, output: stripAnsi(`${result.stdout}${result.stderr}`) };
}

/** The comment of an export: on the reflection, or on its first signature for functions. */
function commentOf(reflection: Reflection): Comment | undefined {
  return reflection.comment ?? reflection.signatures?.find((signature) => signature.comment !== undefined)?.comment;
}

describe('API reference (typedoc)', () => {
  const config = JSON.parse(readFileSync(path.join(REPO_ROOT, 'typedoc.json'), 'utf8')) as Record<string, unknown>;
  let run: { status: number | null; output: string } = { status: null, output: 'typedoc did not run' };
  beforeAll(() => {
    run = runTypedoc();
  }, 90_000);

  it('makes `npm run docs` fail on any warning', () => {
    expect(config['treatWarningsAsErrors']).toBe(true);
  });

  it('builds without warnings or errors', () => {
    const problems = run.output.split('\n').filter((line) => /\[(warning|error)\]| - error TS\d+/.test(line));
    expect(problems.join('\n'), 'typedoc warnings and errors').toBe('');
    expect(run.status, run.output).toBe(0);
  });

  it('gives every export a summary and an @example', () => {
    const project = JSON.parse(readFileSync(JSON_OUT, 'utf8')) as Reflection;
    const exports = project.children ?? [];
    expect(exports.length).toBeGreaterThan(0);
    const missing = exports.flatMap((reflection) => {
      const comment = commentOf(reflection);
      const lacks = [
        ...(comment?.summary?.some((part) => part.text.trim() !== '') === true ? [] : ['a summary']),
        ...(comment?.blockTags?.some((tag) => tag.tag === '@example') === true ? [] : ['an @example']),
      ];
      return lacks.length === 0 ? [] : [`${reflection.name}: lacks ${lacks.join(' and ')}`];
    });
    expect(missing.join('\n'), 'exports without a summary or an example').toBe('');
  });

  it('groups every export by what a reader looks for, "Start here" first', () => {
    const project = JSON.parse(readFileSync(JSON_OUT, 'utf8')) as Reflection;
    const titles = (project.groups ?? []).map((group) => group.title).filter((title) => title !== 'Documents');
    expect(titles).toEqual(GROUPS);
    expect(config['groupOrder']).toEqual(['Start here', 'Documents', ...GROUPS.slice(1), '*']);
    const nameOf = (id: number) => project.children?.find((child) => child.id === id)?.name;
    const startHere = project.groups?.find((group) => group.title === 'Start here')?.children?.map(nameOf) ?? [];
    expect(startHere).toEqual(expect.arrayContaining(['createProvisioner', 'defineConfig', 'createUnitOfWork', 'Provisioner', 'ConfigError']));
    const errors = project.groups?.find((group) => group.title === 'Errors')?.children?.map(nameOf) ?? [];
    expect(errors).toContain('ConfigError');
  });

  it('renders @throws with a link to the error class', () => {
    const project = JSON.parse(readFileSync(JSON_OUT, 'utf8')) as Reflection;
    const throwsTags = (project.children ?? []).flatMap((reflection) =>
      (commentOf(reflection)?.blockTags ?? []).filter((tag) => tag.tag === '@throws').map((tag) => ({ name: reflection.name, content: tag.content ?? [] })),
    );
    expect(throwsTags.map((tag) => tag.name)).toEqual(expect.arrayContaining(['createProvisioner', 'parseConfig', 'withSigning', 'recordUrl']));
    const unlinked = throwsTags.filter(({ content }) => !(content[0]?.kind === 'inline-tag' && content[0].tag === '@link' && typeof content[0].target === 'number'));
    expect(unlinked.map((tag) => tag.name)).toEqual([]);
  });
});
