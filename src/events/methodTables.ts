/**
 * The service methods of the seed's table, as data: the config validator, the hooks and the
 * event types are all derived from these tables, so a method is named in one place only.
 */

/**
 * The two services the provisioner attaches to.
 *
 * @example
 * ```ts
 * for (const service of SERVICE_TYPES) console.info(service, methodsOf(service).length); // rdm_record 18, community 18
 * ```
 */
export const SERVICE_TYPES = ['rdm_record', 'community'] as const;
/**
 * `rdm_record` (RDMRecordService) or `community` (CommunityService).
 *
 * @example
 * ```ts
 * const hooksOf = <S extends ServiceType>(service: S) => provisioner.hooks(service);
 * ```
 */
export type ServiceType = (typeof SERVICE_TYPES)[number];

/**
 * Every argument name a service method may pass to its components.
 *
 * @example
 * ```ts
 * const needsRecord = (args: readonly ArgumentName[]) => args.includes('record');
 * needsRecord(METHOD_TABLES.rdm_record.publish); // true
 * ```
 */
export type ArgumentName =
  | 'identity'
  | 'record'
  | 'draft'
  | 'data'
  | 'errors'
  | 'uow'
  | 'search'
  | 'params'
  | 'old_slug'
  | 'slug';

/**
 * Methods both services run (the seed's "any" rows), with their documented arguments.
 *
 * @example
 * ```ts
 * ANY_METHODS.create; // ['identity', 'data', 'record', 'errors', 'uow']
 * ```
 */
export const ANY_METHODS = {
  create: ['identity', 'data', 'record', 'errors', 'uow'],
  update_tombstone: ['identity', 'record', 'data', 'uow'],
  search: ['identity', 'search', 'params'],
  scan: ['identity', 'search', 'params'],
  read: ['identity', 'record'],
} as const satisfies Record<string, readonly ArgumentName[]>;

/**
 * RDMRecordService methods. `delete_draft` and `import_files` have no documented arguments
 * in the seed; they get those InvenioRDM passes (`identity`, `draft`, `record`).
 *
 * @example
 * ```ts
 * RDM_RECORD_METHODS.delete_record; // ['identity', 'record', 'data', 'uow']
 * ```
 */
export const RDM_RECORD_METHODS = {
  publish: ['identity', 'record', 'draft', 'uow'],
  delete_record: ['identity', 'record', 'data', 'uow'],
  restore_record: ['identity', 'record', 'uow'],
  mark_record: ['identity', 'record', 'uow'],
  unmark_record: ['identity', 'record', 'uow'],
  update_draft: ['identity', 'record', 'data', 'errors', 'uow'],
  edit: ['identity', 'record', 'draft', 'uow'],
  new_version: ['identity', 'record', 'draft', 'uow'],
  delete_draft: ['identity', 'draft', 'record', 'uow'],
  import_files: ['identity', 'draft', 'record', 'uow'],
  read_draft: ['identity', 'draft'],
  search_drafts: ['identity', 'search', 'params'],
  search_versions: ['identity', 'search', 'params'],
} as const satisfies Record<string, readonly ArgumentName[]>;

/**
 * CommunityService methods.
 *
 * @example
 * ```ts
 * COMMUNITY_METHODS.rename; // ['identity', 'data', 'record', 'old_slug', 'slug', 'uow']
 * ```
 */
export const COMMUNITY_METHODS = {
  update: ['identity', 'record', 'data', 'uow'],
  rename: ['identity', 'data', 'record', 'old_slug', 'slug', 'uow'],
  scan_versions: ['identity', 'search', 'params'],
  delete_community: ['identity', 'data', 'record', 'uow'],
  search_user_communities: ['identity', 'search', 'params'],
  search_community_requests: ['identity', 'search', 'params'],
  featured_search: ['identity', 'search', 'params'],
  featured_create: ['identity', 'data', 'record', 'uow'],
  featured_update: ['identity', 'data', 'record', 'uow'],
  featured_delete: ['identity', 'record', 'uow'],
  restore_community: ['identity', 'record', 'uow'],
  mark: ['identity', 'record', 'uow'],
  unmark: ['identity', 'record', 'uow'],
} as const satisfies Record<string, readonly ArgumentName[]>;

/**
 * The full method table of each service: its own methods plus the "any" ones.
 *
 * @example
 * ```ts
 * METHOD_TABLES.community.create;  // from ANY_METHODS: ['identity', 'data', 'record', 'errors', 'uow']
 * METHOD_TABLES.rdm_record.publish; // ['identity', 'record', 'draft', 'uow']
 * ```
 */
export const METHOD_TABLES = {
  rdm_record: { ...ANY_METHODS, ...RDM_RECORD_METHODS },
  community: { ...ANY_METHODS, ...COMMUNITY_METHODS },
} as const;

/**
 * The method names a service accepts, e.g. `MethodOf<'community'>` includes `rename`.
 *
 * @example
 * ```ts
 * const method: MethodOf<'community'> = 'delete_community'; // 'delete_record' would not compile
 * ```
 */
export type MethodOf<S extends ServiceType> = keyof (typeof METHOD_TABLES)[S] & string;
/**
 * Every method name of either service.
 *
 * @example
 * ```ts
 * const watched: readonly AnyMethod[] = ['publish', 'rename', 'create'];
 * ```
 */
// Distributed over the services: `keyof` of a union would keep only the shared ("any") methods.
export type AnyMethod = { [S in ServiceType]: MethodOf<S> }[ServiceType];
/**
 * The documented argument names of one method.
 *
 * @example
 * ```ts
 * type RenameArgument = ArgumentsOf<'community', 'rename'>; // 'identity' | 'data' | 'record' | 'old_slug' | 'slug' | 'uow'
 * ```
 */
export type ArgumentsOf<S extends ServiceType, M extends MethodOf<S>> = (typeof METHOD_TABLES)[S][M] extends readonly (infer A)[]
  ? A & ArgumentName
  : never;

const ANY_REQUIRED = {
  create: ['identity', 'record'],
  update_tombstone: ['identity', 'record'],
  search: ['identity'],
  scan: ['identity'],
  read: ['identity', 'record'],
} as const;

/**
 * The arguments each hook call must carry (neither `undefined` nor `null`): the identity and
 * what the method acts on, which URLs and payloads are built from. That is the `record`
 * wherever the method passes one, except `delete_draft` and `import_files`, whose draft may
 * never have been published; the `draft` of the draft methods; `old_slug` and `slug` of
 * `rename`. The other arguments of a method's row (`data`, `draft` of `publish`, `errors`,
 * `uow`, `search`, `params`...) may be left out, as Invenio often passes `None`. A hook called
 * without a required argument ends in a `failed` outcome with reason `payload` naming it.
 *
 * @example
 * ```ts
 * REQUIRED_ARGUMENTS.rdm_record.delete_record; // ['identity', 'record']
 * REQUIRED_ARGUMENTS.rdm_record.delete_draft;  // ['identity', 'draft']
 * ```
 */
export const REQUIRED_ARGUMENTS = {
  rdm_record: {
    ...ANY_REQUIRED,
    publish: ['identity', 'record'],
    delete_record: ['identity', 'record'],
    restore_record: ['identity', 'record'],
    mark_record: ['identity', 'record'],
    unmark_record: ['identity', 'record'],
    update_draft: ['identity', 'record'],
    edit: ['identity', 'record'],
    new_version: ['identity', 'record'],
    delete_draft: ['identity', 'draft'],
    import_files: ['identity', 'draft'],
    read_draft: ['identity', 'draft'],
    search_drafts: ['identity'],
    search_versions: ['identity'],
  },
  community: {
    ...ANY_REQUIRED,
    update: ['identity', 'record'],
    rename: ['identity', 'record', 'old_slug', 'slug'],
    scan_versions: ['identity'],
    delete_community: ['identity', 'record'],
    search_user_communities: ['identity'],
    search_community_requests: ['identity'],
    featured_search: ['identity'],
    featured_create: ['identity', 'record'],
    featured_update: ['identity', 'record'],
    featured_delete: ['identity', 'record'],
    restore_community: ['identity', 'record'],
    mark: ['identity', 'record'],
    unmark: ['identity', 'record'],
  },
} as const satisfies { readonly [S in ServiceType]: { readonly [M in MethodOf<S>]: readonly ArgumentsOf<S, M>[] } };

/**
 * The arguments a hook call of one method must carry: its {@link REQUIRED_ARGUMENTS} row.
 *
 * @example
 * ```ts
 * type DeleteNeeds = RequiredArgumentOf<'rdm_record', 'delete_record'>; // 'identity' | 'record'
 * ```
 */
export type RequiredArgumentOf<S extends ServiceType, M extends MethodOf<S>> = M extends keyof (typeof REQUIRED_ARGUMENTS)[S]
  ? (typeof REQUIRED_ARGUMENTS)[S][M] extends readonly (infer A)[]
    ? A & ArgumentsOf<S, M>
    : never
  : never;

/**
 * The {@link REQUIRED_ARGUMENTS} of one method, in table order.
 *
 * @example
 * ```ts
 * requiredArgumentsOf('community', 'rename'); // ['identity', 'record', 'old_slug', 'slug']
 * ```
 */
export function requiredArgumentsOf<S extends ServiceType, M extends MethodOf<S>>(service: S, method: M): readonly RequiredArgumentOf<S, M>[] {
  return (REQUIRED_ARGUMENTS[service] as unknown as Readonly<Record<string, readonly RequiredArgumentOf<S, M>[]>>)[method] ?? [];
}

/**
 * The method names of a service, in table order.
 *
 * @example
 * ```ts
 * methodsOf('community'); // ['create', 'update_tombstone', 'search', 'scan', 'read', 'update', 'rename', ...]
 * ```
 */
export function methodsOf<S extends ServiceType>(service: S): readonly MethodOf<S>[] {
  return Object.keys(METHOD_TABLES[service]) as MethodOf<S>[];
}

/**
 * Whether `method` is a method of `service`.
 *
 * @example
 * ```ts
 * isMethodOf('community', 'delete_community'); // true
 * isMethodOf('community', 'delete_record');    // false: that one is rdm_record's
 * ```
 */
export function isMethodOf<S extends ServiceType>(service: S, method: string): method is MethodOf<S> {
  return Object.prototype.hasOwnProperty.call(METHOD_TABLES[service], method);
}

/**
 * The same operation on the other service, for "did you mean" hints: the seed's own example
 * config uses `delete_record` under `community`, where the method is `delete_community`.
 */
export const COUNTERPART_METHODS: Readonly<Record<string, string>> = {
  // Communities are not published: a new community is `create`d.
  publish: 'create',
  read_draft: 'read',
  search_drafts: 'search',
  delete_record: 'delete_community',
  delete_community: 'delete_record',
  restore_record: 'restore_community',
  restore_community: 'restore_record',
  mark_record: 'mark',
  mark: 'mark_record',
  unmark_record: 'unmark',
  unmark: 'unmark_record',
  update_draft: 'update',
  edit: 'update',
  update: 'update_draft',
  search_versions: 'scan_versions',
  scan_versions: 'search_versions',
};
