import { randomUUID } from 'node:crypto';
import { isSystemIdentity, SYSTEM_IDENTITY, type Identity, type JsonValue } from 'remote-api-provisioner';
import { Components, type Component } from './components.js';
import { asJsonObject } from './json.js';
import { RecordsAppError } from './errors.js';
import type { ServiceOptions } from './recordService.js';
import type { RecordsStore } from './store.js';
import type { Community, CommunityData, Member } from './types.js';
import { inTransaction, type Transactions } from './unitOfWork.js';

/** A component of the community service: `provisioner.hooks('community')` is one. */
export type CommunityComponent = Component<'community', Community>;

/** What `deleteCommunity` takes: the tombstone information. */
export type DeleteCommunityData = { readonly removal_reason: { readonly id: string }; readonly note?: string };

const SLUG = /^[a-z0-9][a-z0-9-]*$/;

const DEFAULT_ACCESS: Community['access'] = { visibility: 'public', member_policy: 'open', record_policy: 'open' };

/**
 * The records app's CommunityService: create, update, rename (a new slug), soft delete with a
 * tombstone and restore. The creator becomes the community's owner. Each operation runs in
 * its own unit of work and calls its components with the arguments of the seed's table.
 */
export class CommunityService {
  readonly #store: RecordsStore;
  readonly #components = new Components<'community', Community>();
  readonly #now: () => Date;
  readonly #inTransaction: Transactions;

  constructor(store: RecordsStore, options: Pick<ServiceOptions, 'now' | 'transactions'> = {}) {
    this.#store = store;
    this.#inTransaction = options.transactions ?? inTransaction;
    this.#now = options.now ?? (() => new Date());
  }

  /** Adds a component; it takes part in every later operation. */
  addComponent(component: CommunityComponent): void {
    this.#components.add(component);
  }

  /** Creates a community owned by `identity`. Components: `create`. */
  async create(identity: Identity, data: CommunityData): Promise<Community> {
    this.#assertFreeSlug(data.slug);
    const now = this.#timestamp();
    const record: Community = {
      id: randomUUID(),
      slug: data.slug,
      revision_id: 1,
      created: now,
      updated: now,
      access: { ...DEFAULT_ACCESS, ...data.access },
      custom_fields: data.custom_fields ?? {},
      metadata: data.metadata,
      deletion_status: { is_deleted: false, status: 'P' },
      tombstone: null,
    };
    const members: readonly Member[] = isSystemIdentity(identity) ? [] : [{ user: String(identity.id), role: 'owner' }];
    return this.#inTransaction(async (uow) => {
      await this.#components.run('create', { identity, data: asJsonObject(data), record, errors: [], uow });
      uow.stage(() => {
        this.#store.communities.put(record);
        this.#store.members.put({ id: record.id, members });
      });
      return record;
    });
  }

  /** Reads a community; a deleted one is not found. */
  read(identity: Identity, id: string): Community {
    const community = this.#community(id);
    if (community.deletion_status.is_deleted) throw new RecordsAppError('not-found', `Community ${id} was deleted`);
    if (community.access.visibility !== 'public' && !this.#canManage(identity, community)) {
      throw new RecordsAppError('forbidden', `Community ${id} is restricted`);
    }
    return community;
  }

  /** The members of a community, owners first. */
  members(id: string): readonly Member[] {
    const order = { owner: 0, manager: 1, reader: 2 } as const;
    return [...(this.#store.members.get(id)?.members ?? [])].sort((a, b) => order[a.role] - order[b.role]);
  }

  /** Replaces a community's metadata (and access, custom fields when given); the slug stays:
   * use {@link rename}. Components: `update`. */
  async update(identity: Identity, id: string, data: Omit<CommunityData, 'slug'>): Promise<Community> {
    const current = this.#live(id);
    this.#assertCanManage(identity, current);
    const record: Community = {
      ...current,
      revision_id: current.revision_id + 1,
      updated: this.#timestamp(),
      metadata: data.metadata,
      access: { ...current.access, ...data.access },
      custom_fields: data.custom_fields ?? current.custom_fields,
    };
    return this.#inTransaction(async (uow) => {
      await this.#components.run('update', { identity, record, data: asJsonObject(data), uow });
      uow.stage(() => this.#store.communities.put(record));
      return record;
    });
  }

  /** Gives a community a new slug. Components: `rename` (with `old_slug` and `slug`). */
  async rename(identity: Identity, id: string, data: { readonly slug: string }): Promise<Community> {
    const current = this.#live(id);
    this.#assertCanManage(identity, current);
    this.#assertFreeSlug(data.slug);
    const record: Community = { ...current, slug: data.slug, revision_id: current.revision_id + 1, updated: this.#timestamp() };
    return this.#inTransaction(async (uow) => {
      await this.#components.run('rename', { identity, data: asJsonObject(data), record, old_slug: current.slug, slug: data.slug, uow });
      uow.stage(() => this.#store.communities.put(record));
      return record;
    });
  }

  /** Soft deletes a community, leaving a tombstone. Components: `delete_community`. */
  async deleteCommunity(identity: Identity, id: string, data: DeleteCommunityData): Promise<Community> {
    const current = this.#live(id);
    this.#assertCanManage(identity, current);
    const now = this.#timestamp();
    const record: Community = {
      ...current,
      revision_id: current.revision_id + 1,
      updated: now,
      deletion_status: { is_deleted: true, status: 'D' },
      tombstone: {
        removal_reason: data.removal_reason,
        note: data.note ?? '',
        removed_by: { user: String(identity.id) },
        removal_date: now,
        is_visible: true,
      },
    };
    return this.#inTransaction(async (uow) => {
      await this.#components.run('delete_community', { identity, data: asJsonObject(data), record, uow });
      uow.stage(() => this.#store.communities.put(record));
      return record;
    });
  }

  /** Restores a soft deleted community. Components: `restore_community`. */
  async restoreCommunity(identity: Identity, id: string): Promise<Community> {
    const current = this.#community(id);
    this.#assertCanManage(identity, current);
    if (!current.deletion_status.is_deleted) throw new RecordsAppError('conflict', `Community ${id} is not deleted`);
    const record: Community = {
      ...current,
      revision_id: current.revision_id + 1,
      updated: this.#timestamp(),
      deletion_status: { is_deleted: false, status: 'P' },
      tombstone: null,
    };
    return this.#inTransaction(async (uow) => {
      await this.#components.run('restore_community', { identity, record, uow });
      uow.stage(() => this.#store.communities.put(record));
      return record;
    });
  }

  /**
   * Sets one custom field as the system, through `update` and its components like any other
   * change: how a provisioner callback writes the remote search id back. Does nothing when the
   * field already has this value.
   */
  async setCustomField(id: string, field: string, value: JsonValue): Promise<Community> {
    const current = this.#live(id);
    if (current.custom_fields[field] === value) return current;
    const { metadata, access, custom_fields } = current;
    return this.update(SYSTEM_IDENTITY, id, { metadata, access, custom_fields: { ...custom_fields, [field]: value } });
  }

  #community(id: string): Community {
    const community = this.#store.communities.get(id);
    if (community === undefined) throw new RecordsAppError('not-found', `No community ${id}`);
    return community;
  }

  #live(id: string): Community {
    const community = this.#community(id);
    if (community.deletion_status.is_deleted) throw new RecordsAppError('conflict', `Community ${id} is deleted; restore it first`);
    return community;
  }

  #assertFreeSlug(slug: string): void {
    if (!SLUG.test(slug)) throw new RecordsAppError('invalid', `Expected a slug of lowercase letters, digits and dashes, got ${JSON.stringify(slug)}`);
    if (this.#store.communities.all().some((community) => community.slug === slug)) {
      throw new RecordsAppError('conflict', `The slug ${JSON.stringify(slug)} is taken`);
    }
  }

  #canManage(identity: Identity, community: Community): boolean {
    if (isSystemIdentity(identity)) return true;
    return this.members(community.id).some((member) => member.user === String(identity.id) && member.role !== 'reader');
  }

  #assertCanManage(identity: Identity, community: Community): void {
    if (!this.#canManage(identity, community)) {
      throw new RecordsAppError('forbidden', `Expected an owner or manager of ${community.slug} or the system, got user ${String(identity.id)}`);
    }
  }

  #timestamp(): string {
    return this.#now().toISOString();
  }
}
