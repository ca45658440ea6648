// @ts-check
/**
 * Groups the API reference by what a reader looks for instead of by kind: each export gets a
 * `@group` from the folder its declaration lives in, and the entry points are listed again
 * under "Start here". One table, here, rather than a tag in every source file, so that a file
 * moved to another folder moves to that folder's group. typedoc.json lists this file as a
 * plugin and orders the groups with `groupOrder`; test/docs/typedoc.test.ts fails when an
 * export lands in no group of this list.
 */
import { Comment, CommentTag, Converter } from 'typedoc';

/** The groups, in the order typedoc.json's `groupOrder` gives them. */
export const GROUPS = [
  'Start here',
  'Config',
  'Hooks and units of work',
  'Events and outcomes',
  'Operators',
  'Delivery',
  'Stores',
  'Errors',
];

/** The exports a first reader needs, listed under "Start here" as well as in their own group. */
const START_HERE = new Set([
  'createProvisioner',
  'Provisioner',
  'ProvisionerOptions',
  'defineConfig',
  'createUnitOfWork',
  'recordUrl',
  'DeliveryOutcome',
  'ConfigError',
]);

/** Package-relative declaration paths to groups; the first match wins. */
const GROUP_BY_PATH = [
  [/^src\/provisioner\.ts$/, 'Start here'],
  [/^src\/config\//, 'Config'],
  [/^src\/(hooks|bus)\//, 'Hooks and units of work'],
  [/^src\/events\/unitOfWork\.ts$/, 'Hooks and units of work'],
  [/^src\/events\//, 'Events and outcomes'],
  [/^src\/(operators|planning)\//, 'Operators'],
  [/^src\/delivery\//, 'Delivery'],
  [/^src\/(store|pipeline)\//, 'Stores'],
  [/^src\/(backfill|storePipeline|storeHandlers)\.ts$/, 'Stores'],
  [/^src\/errors\.ts$/, 'Errors'],
];

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const { project } = context;
    for (const reflection of project.children ?? []) {
      const path = project.getSymbolIdFromReflection(reflection)?.packagePath ?? '';
      const groups = new Set();
      if (START_HERE.has(reflection.name)) groups.add('Start here');
      const match = GROUP_BY_PATH.find(([pattern]) => pattern.test(path));
      if (match !== undefined) groups.add(match[1]);
      if (groups.size === 0) continue;
      // Functions carry their comment on the signature; group tags are read from both.
      const signature = reflection.isDeclaration() ? reflection.signatures?.[0] : undefined;
      const holder = reflection.comment === undefined && signature?.comment !== undefined ? signature : reflection;
      holder.comment ??= new Comment();
      for (const group of groups) holder.comment.blockTags.push(new CommentTag('@group', [{ kind: 'text', text: group }]));
    }
  });
}
