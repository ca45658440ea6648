import { isSystemIdentity, SYSTEM_IDENTITY, type Identity, type JsonValue } from 'remote-api-provisioner';
import { Components, type Component } from './components.js';
import { asJsonObject } from './json.js';
import { RecordsAppError } from './errors.js';
import { newRecordId } from './ids.js';
import type { RecordsStore } from './store.js';
import type { RdmRecord, RecordData } from './types.js';
import { inTransaction, type Transactions } from './unitOfWork.js';

/** A component of the record service: `provisioner.hooks('rdm_record')` is one. */
export type RecordComponent = Component<'rdm_record', RdmRecord>;

/** What `deleteRecord` takes: the tombstone information. */
export type DeleteRecordData = {
  readonly removal_reason: { readonly id: string };
  readonly note?: string;
  readonly is_visible?: boolean;
};

/** Options shared by the app's services. */
export type ServiceOptions = {
  /** The current time; tests pin it. @default () => new Date() */
  readonly now?: () => Date;
  /** New record ids. @default {@link newRecordId} */
  readonly newId?: () => string;
  /** How operations run: in memory, or in PostgreSQL transactions (see postgresTransactions.ts). @default {@link inTransaction} */
  readonly transactions?: Transactions;
};

const DEFAULT_ACCESS: RdmRecord['access'] = {
  record: 'public',
  files: 'public',
  embargo: { active: false, reason: null },
  status: 'metadata-only',
};

/**
 * The records app's RDMRecordService: drafts, publish, edit, new versions, soft delete with a
 * tombstone and restore. Each operation runs in its own unit of work and calls its components'
 * method of the same name with the arguments of the seed's table, then commits.
 */
export class RecordService {
  readonly #store: RecordsStore;
  readonly #components = new Components<'rdm_record', RdmRecord>();
  readonly #now: () => Date;
  readonly #newId: () => string;
  readonly #inTransaction: Transactions;

  constructor(store: RecordsStore, options: ServiceOptions = {}) {
    this.#store = store;
    this.#inTransaction = options.transactions ?? inTransaction;
    this.#now = options.now ?? (() => new Date());
    this.#newId = options.newId ?? newRecordId;
  }

  /** Adds a component; it takes part in every later operation. */
  addComponent(component: RecordComponent): void {
    this.#components.add(component);
  }

  /** Creates a draft owned by `identity`. Components: `create`. */
  async create(identity: Identity, data: RecordData): Promise<RdmRecord> {
    const now = this.#timestamp();
    const draft: RdmRecord = {
      id: this.#newId(),
      is_draft: true,
      is_published: false,
      status: 'draft',
      revision_id: 1,
      created: now,
      updated: now,
      access: { ...DEFAULT_ACCESS, ...data.access },
      custom_fields: data.custom_fields ?? {},
      deletion_status: { is_deleted: false, status: 'P' },
      tombstone: null,
      metadata: data.metadata,
      parent: {
        id: this.#newId(),
        access: { owned_by: { user: String(identity.id) }, grants: [] },
        communities: { ids: data.communities ?? [] },
      },
      versions: { index: 1, is_latest: false, is_latest_draft: true },
    };
    return this.#inTransaction(async (uow) => {
      await this.#components.run('create', { identity, data: asJsonObject(data), record: draft, errors: [], uow });
      uow.stage(() => this.#store.drafts.put(draft));
      return draft;
    });
  }

  /** Reads a draft. */
  readDraft(identity: Identity, id: string): RdmRecord {
    const draft = this.#draft(id);
    this.#assertCanManage(identity, draft);
    return draft;
  }

  /** Reads a published record; soft deleted ones only with `includeDeleted`, by their managers. */
  read(identity: Identity, id: string, options: { includeDeleted?: boolean } = {}): RdmRecord {
    const record = this.#record(id);
    const manager = this.#canManage(identity, record);
    if (record.deletion_status.is_deleted && !(options.includeDeleted === true && manager)) {
      throw new RecordsAppError('not-found', `Record ${id} was deleted`);
    }
    if (record.access.record !== 'public' && !manager) throw new RecordsAppError('forbidden', `Record ${id} is restricted`);
    return record;
  }

  /** Replaces a draft's metadata (and access, custom fields when given). Components: `update_draft`. */
  async updateDraft(identity: Identity, id: string, data: RecordData): Promise<RdmRecord> {
    const current = this.#draft(id);
    this.#assertCanManage(identity, current);
    const draft: RdmRecord = {
      ...current,
      revision_id: current.revision_id + 1,
      updated: this.#timestamp(),
      metadata: data.metadata,
      access: { ...current.access, ...data.access },
      custom_fields: data.custom_fields ?? current.custom_fields,
    };
    return this.#inTransaction(async (uow) => {
      await this.#components.run('update_draft', { identity, record: draft, data: asJsonObject(data), errors: [], uow });
      uow.stage(() => this.#store.drafts.put(draft));
      return draft;
    });
  }

  /** Publishes a draft: it becomes (or replaces) the record of the same id. Components: `publish`. */
  async publish(identity: Identity, id: string): Promise<RdmRecord> {
    const draft = this.#draft(id);
    this.#assertCanManage(identity, draft);
    if (draft.metadata.title.trim() === '') throw new RecordsAppError('invalid', `Draft ${id} needs a title to be published`);
    const existing = this.#store.records.get(id);
    if (existing?.deletion_status.is_deleted === true) throw new RecordsAppError('conflict', `Record ${id} is deleted; restore it first`);
    const now = this.#timestamp();
    const record: RdmRecord = {
      ...draft,
      is_draft: false,
      is_published: true,
      status: 'published',
      revision_id: (existing?.revision_id ?? 0) + 1,
      created: existing?.created ?? now,
      updated: now,
      metadata: { ...draft.metadata, publication_date: draft.metadata.publication_date ?? now.slice(0, 10) },
      versions: { ...draft.versions, is_latest: true, is_latest_draft: true },
    };
    const superseded = this.#versionsOf(draft.parent.id)
      .filter((version) => version.id !== id && version.versions.is_latest)
      .map((version) => ({ ...version, versions: { ...version.versions, is_latest: false, is_latest_draft: false } }));
    return this.#inTransaction(async (uow) => {
      await this.#components.run('publish', { identity, record, draft, uow });
      uow.stage(() => {
        this.#store.records.put(record);
        this.#store.drafts.delete(id);
        for (const version of superseded) this.#store.records.put(version);
      });
      return record;
    });
  }

  /** Opens a draft of a published record (or returns the open one). Components: `edit`. */
  async edit(identity: Identity, id: string): Promise<RdmRecord> {
    const record = this.#record(id);
    this.#assertCanManage(identity, record);
    if (record.deletion_status.is_deleted) throw new RecordsAppError('conflict', `Record ${id} is deleted; restore it first`);
    const draft = this.#store.drafts.get(id) ?? { ...record, is_draft: true, updated: this.#timestamp() };
    return this.#inTransaction(async (uow) => {
      await this.#components.run('edit', { identity, record, draft, uow });
      uow.stage(() => this.#store.drafts.put(draft));
      return draft;
    });
  }

  /** Opens a draft of a new version: a new id, the same parent. Components: `new_version`. */
  async newVersion(identity: Identity, id: string): Promise<RdmRecord> {
    const record = this.#record(id);
    this.#assertCanManage(identity, record);
    const open = this.#store.drafts.all().find((draft) => draft.parent.id === record.parent.id && draft.status === 'new_version_draft');
    const versions = this.#versionsOf(record.parent.id);
    const { publication_date: _dropped, ...metadata } = record.metadata;
    const now = this.#timestamp();
    const draft: RdmRecord = open ?? {
      ...record,
      id: this.#newId(),
      is_draft: true,
      is_published: false,
      status: 'new_version_draft',
      revision_id: 1,
      created: now,
      updated: now,
      deletion_status: { is_deleted: false, status: 'P' },
      tombstone: null,
      metadata,
      versions: { index: Math.max(...versions.map((v) => v.versions.index)) + 1, is_latest: false, is_latest_draft: true },
    };
    return this.#inTransaction(async (uow) => {
      await this.#components.run('new_version', { identity, record, draft, uow });
      uow.stage(() => this.#store.drafts.put(draft));
      return draft;
    });
  }

  /** Discards a draft. Components: `delete_draft`. */
  async deleteDraft(identity: Identity, id: string): Promise<void> {
    const draft = this.#draft(id);
    this.#assertCanManage(identity, draft);
    const record = this.#store.records.get(id) ?? null;
    await this.#inTransaction(async (uow) => {
      await this.#components.run('delete_draft', { identity, draft, record, uow });
      uow.stage(() => this.#store.drafts.delete(id));
    });
  }

  /** Soft deletes a published record, leaving a tombstone. Components: `delete_record`. */
  async deleteRecord(identity: Identity, id: string, data: DeleteRecordData): Promise<RdmRecord> {
    const current = this.#record(id);
    this.#assertCanManage(identity, current);
    if (current.deletion_status.is_deleted) throw new RecordsAppError('conflict', `Record ${id} is already deleted`);
    const now = this.#timestamp();
    const record: RdmRecord = {
      ...current,
      revision_id: current.revision_id + 1,
      updated: now,
      deletion_status: { is_deleted: true, status: 'D' },
      tombstone: {
        removal_reason: data.removal_reason,
        note: data.note ?? '',
        removed_by: { user: String(identity.id) },
        removal_date: now,
        is_visible: data.is_visible ?? true,
      },
    };
    return this.#inTransaction(async (uow) => {
      await this.#components.run('delete_record', { identity, record, data: asJsonObject(data), uow });
      uow.stage(() => this.#store.records.put(record));
      return record;
    });
  }

  /** Restores a soft deleted record. Components: `restore_record`. */
  async restoreRecord(identity: Identity, id: string): Promise<RdmRecord> {
    const current = this.#record(id);
    this.#assertCanManage(identity, current);
    if (!current.deletion_status.is_deleted) throw new RecordsAppError('conflict', `Record ${id} is not deleted`);
    const record: RdmRecord = {
      ...current,
      revision_id: current.revision_id + 1,
      updated: this.#timestamp(),
      deletion_status: { is_deleted: false, status: 'P' },
      tombstone: null,
    };
    return this.#inTransaction(async (uow) => {
      await this.#components.run('restore_record', { identity, record, uow });
      uow.stage(() => this.#store.records.put(record));
      return record;
    });
  }

  /**
   * Sets one custom field of a published record as the system would: edit, update the draft,
   * publish, all as the system identity and through the components like any other change.
   * This is how a provisioner callback writes the remote search id back. Does nothing when the
   * field already has this value.
   */
  async setCustomField(id: string, field: string, value: JsonValue): Promise<RdmRecord> {
    const record = this.#record(id);
    if (record.custom_fields[field] === value) return record;
    const draft = await this.edit(SYSTEM_IDENTITY, id);
    const { metadata, access, custom_fields } = draft;
    await this.updateDraft(SYSTEM_IDENTITY, id, { metadata, access, custom_fields: { ...custom_fields, [field]: value } });
    return this.publish(SYSTEM_IDENTITY, id);
  }

  #record(id: string): RdmRecord {
    const record = this.#store.records.get(id);
    if (record === undefined) throw new RecordsAppError('not-found', `No record ${id}`);
    return record;
  }

  #draft(id: string): RdmRecord {
    const draft = this.#store.drafts.get(id);
    if (draft === undefined) throw new RecordsAppError('not-found', `No draft ${id}`);
    return draft;
  }

  #versionsOf(parentId: string): RdmRecord[] {
    return this.#store.records.all().filter((record) => record.parent.id === parentId);
  }

  #canManage(identity: Identity, record: RdmRecord): boolean {
    return isSystemIdentity(identity) || String(identity.id) === record.parent.access.owned_by.user;
  }

  #assertCanManage(identity: Identity, record: RdmRecord): void {
    if (!this.#canManage(identity, record)) {
      throw new RecordsAppError('forbidden', `Expected the owner of ${record.id} or the system, got user ${String(identity.id)}`);
    }
  }

  #timestamp(): string {
    return this.#now().toISOString();
  }
}
