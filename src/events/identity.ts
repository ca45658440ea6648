/**
 * The identity a service method runs as (Invenio's `identity`). Only `id` is read.
 *
 * @example
 * ```ts
 * recordHooks.publish({ identity: { id: request.user.id, roles: request.user.roles }, record, draft, uow });
 * ```
 */
export type Identity = { readonly id: string | number; readonly [key: string]: unknown };

/**
 * The system identity, as Invenio's `system_identity`: its events get the system owner.
 *
 * @example
 * ```ts
 * // A write-back made by the system: payload functions get SYSTEM_OWNER, resolveOwner is not asked.
 * recordHooks.update_draft({ identity: SYSTEM_IDENTITY, record, data, uow });
 * ```
 */
export const SYSTEM_IDENTITY: Identity = Object.freeze({ id: 'system' });

/**
 * Whether an identity is the system identity (its `id` is `"system"`).
 *
 * @example
 * ```ts
 * isSystemIdentity(SYSTEM_IDENTITY); // true
 * isSystemIdentity({ id: 42 });      // false
 * ```
 */
export function isSystemIdentity(identity: Identity | null | undefined): boolean {
  return identity?.id === 'system';
}

/**
 * The record owner handed to payload functions when `with_record_owner` is set.
 *
 * @example
 * ```ts
 * const resolveOwner = async ({ record }: ResolveOwnerInput<Work>): Promise<Owner> => {
 *   const user = await users.byId(record?.parent.access.owned_by.user ?? '');
 *   return { id: user.id, email: user.email, username: user.username };
 * };
 * ```
 */
export type Owner = {
  readonly id: string | number;
  readonly email: string;
  readonly username: string;
  readonly [key: string]: unknown;
};

/**
 * The owner used for events of the system identity, without asking `resolveOwner`.
 *
 * @example
 * ```ts
 * createProvisioner({ events, resolveOwner: async ({ record }) => (record === null ? SYSTEM_OWNER : await users.ownerOf(record)) });
 * ```
 */
export const SYSTEM_OWNER: Owner = Object.freeze({ id: 'system', email: '', username: 'system' });
