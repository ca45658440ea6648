import type { JsonObject, JsonValue } from 'remote-api-provisioner';

/** An account of the records app; record owners are users. */
export type User = {
  readonly id: string;
  readonly email: string;
  readonly username: string;
  readonly name: string;
};

/** Who may see a record. */
export type RecordAccess = {
  readonly record: 'public' | 'restricted';
  readonly files: 'public' | 'restricted';
  readonly embargo: { readonly active: boolean; readonly reason: string | null };
  readonly status: string;
};

/** A creator, as InvenioRDM's `metadata.creators[]`. */
export type Creator = {
  readonly person_or_org: {
    readonly name: string;
    readonly type: 'personal' | 'organizational';
    readonly given_name?: string;
    readonly family_name?: string;
  };
  readonly role?: { readonly id: string };
};

/** The descriptive part of a record. */
export type RecordMetadata = {
  readonly title: string;
  readonly description?: string;
  readonly publication_date?: string;
  readonly publisher?: string;
  readonly resource_type?: { readonly id: string };
  readonly creators?: readonly Creator[];
};

/** Why and by whom a record or community was soft deleted. */
export type Tombstone = {
  readonly removal_reason: { readonly id: string };
  readonly note: string;
  readonly removed_by: { readonly user: string };
  readonly removal_date: string;
  readonly is_visible: boolean;
};

/** The values of `custom_fields` (the remote search id lives there). */
export type CustomFields = { readonly [field: string]: JsonValue };

/**
 * A record or a draft, in the shape InvenioRDM 12 hands its service components (see
 * `/work/shared/fixtures/rdm-record.json`). Drafts and published records share ids: a draft
 * of a published record has the record's id.
 */
export type RdmRecord = {
  readonly id: string;
  readonly is_draft: boolean;
  readonly is_published: boolean;
  readonly status: 'draft' | 'new_version_draft' | 'published';
  readonly revision_id: number;
  readonly created: string;
  readonly updated: string;
  readonly access: RecordAccess;
  readonly custom_fields: CustomFields;
  readonly deletion_status: { readonly is_deleted: boolean; readonly status: 'P' | 'D' };
  readonly tombstone: Tombstone | null;
  readonly metadata: RecordMetadata;
  readonly parent: {
    readonly id: string;
    readonly access: { readonly owned_by: { readonly user: string }; readonly grants: readonly JsonObject[] };
    readonly communities: { readonly ids: readonly string[]; readonly default?: string };
  };
  readonly versions: { readonly index: number; readonly is_latest: boolean; readonly is_latest_draft: boolean };
};

/** What `create` and `update_draft` take. */
export type RecordData = {
  readonly metadata: RecordMetadata;
  readonly access?: Partial<RecordAccess>;
  readonly custom_fields?: CustomFields;
  readonly communities?: readonly string[];
};

/** A community, in the shape of `/work/shared/fixtures/community.json`. */
export type Community = {
  readonly id: string;
  readonly slug: string;
  readonly revision_id: number;
  readonly created: string;
  readonly updated: string;
  readonly access: {
    readonly visibility: 'public' | 'restricted';
    readonly member_policy: 'open' | 'closed';
    readonly record_policy: 'open' | 'closed';
  };
  readonly custom_fields: CustomFields;
  readonly metadata: {
    readonly title: string;
    readonly description?: string;
    readonly type?: { readonly id: string };
    readonly website?: string;
  };
  readonly deletion_status: { readonly is_deleted: boolean; readonly status: 'P' | 'D' };
  readonly tombstone: Tombstone | null;
};

/** What community `create` and `update` take. */
export type CommunityData = {
  readonly slug: string;
  readonly metadata: Community['metadata'];
  readonly access?: Partial<Community['access']>;
  readonly custom_fields?: CustomFields;
};

/** A membership: communities have owners, managers and readers. */
export type Member = { readonly user: string; readonly role: 'owner' | 'manager' | 'reader' };
