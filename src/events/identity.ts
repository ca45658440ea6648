/** The identity a service method runs as (Invenio's `identity`). Only `id` is read. */
export type Identity = { readonly id: string | number; readonly [key: string]: unknown };

/** The system identity, as Invenio's `system_identity`: its events get the system owner. */
export const SYSTEM_IDENTITY: Identity = Object.freeze({ id: 'system' });

/** Whether an identity is the system identity (its `id` is `"system"`). */
export function isSystemIdentity(identity: Identity | null | undefined): boolean {
  return identity?.id === 'system';
}

/** The record owner handed to payload functions when `with_record_owner` is set. */
export type Owner = {
  readonly id: string | number;
  readonly email: string;
  readonly username: string;
  readonly [key: string]: unknown;
};

/** The owner used for events of the system identity, without asking `resolveOwner`. */
export const SYSTEM_OWNER: Owner = Object.freeze({ id: 'system', email: '', username: 'system' });
