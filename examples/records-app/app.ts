import type { Owner } from 'remote-api-provisioner';
import { CommunityService } from './communityService.js';
import { RecordsAppError } from './errors.js';
import { RecordService, type ServiceOptions } from './recordService.js';
import { createStore, type RecordsStore } from './store.js';
import type { Community, RdmRecord, User } from './types.js';

/** Options of {@link createRecordsApp}. */
export type RecordsAppOptions = ServiceOptions & {
  /** Where the app's pages live; search documents link there. @default 'https://works.example.org' */
  readonly siteUrl?: string;
};

/** The records app: its store, its two services and its users. */
export type RecordsApp = {
  readonly siteUrl: string;
  readonly store: RecordsStore;
  readonly records: RecordService;
  readonly communities: CommunityService;
  /** Adds an account and returns the identity to act as it. */
  addUser(user: User): { readonly id: string };
  /**
   * The owner of a record (its parent's `access.owned_by`) or of a community (its member with
   * the `owner` role), as the provisioner's `resolveOwner` hands it to payload functions.
   */
  ownerOf(record: RdmRecord | Community): Owner;
};

/**
 * Creates an empty records app with a record service and a community service, each running
 * its components inside a unit of work.
 *
 * @example
 * ```ts
 * const app = createRecordsApp();
 * app.records.addComponent(provisioner.hooks('rdm_record'));
 * const troy = app.addUser({ id: '1', email: 'troy@example.org', username: 'troy', name: 'Troy Brown' });
 * const draft = await app.records.create(troy, { metadata: { title: 'A Romans Story' } });
 * await app.records.publish(troy, draft.id);
 * ```
 */
export function createRecordsApp(options: RecordsAppOptions = {}): RecordsApp {
  const store = createStore();
  const communities = new CommunityService(store, options);
  const userById = (id: string): User => {
    const user = store.users.get(id);
    if (user === undefined) throw new RecordsAppError('not-found', `No user ${id}`);
    return user;
  };
  return {
    siteUrl: options.siteUrl ?? 'https://works.example.org',
    store,
    records: new RecordService(store, options),
    communities,
    addUser(user) {
      store.users.put(user);
      return { id: user.id };
    },
    ownerOf(record) {
      const ownerId =
        'parent' in record
          ? record.parent.access.owned_by.user
          : communities.members(record.id).find((member) => member.role === 'owner')?.user;
      if (ownerId === undefined) throw new RecordsAppError('not-found', `Community ${record.id} has no owner`);
      const { id, email, username, name } = userById(ownerId);
      return { id, email, username, name };
    },
  };
}
