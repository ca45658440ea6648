/** The groups of the API reference, in order (see typedoc.groups.mjs). */
export declare const GROUPS: readonly string[];
/** Registers the grouping with a typedoc application. */
export declare function load(app: import('typedoc').Application): void;
