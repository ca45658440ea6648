import { createHooks, SYSTEM_IDENTITY, type ServiceEvent } from 'remote-api-provisioner';
import { describe, expect, it } from 'vitest';
import { createRecordsApp } from '../../examples/records-app/app.js';
import type { AppSubject } from '../../examples/records-app/commonsSearchEvents.js';
import { RecordsAppError } from '../../examples/records-app/errors.js';
import type { Community, RdmRecord } from '../../examples/records-app/types.js';

/** The app with the library's hooks as its components, collecting the events they emit. */
function appWithHooks() {
  const app = createRecordsApp({ siteUrl: 'https://works.example.org' });
  const events: ServiceEvent<AppSubject>[] = [];
  app.records.addComponent(createHooks<'rdm_record', RdmRecord>('rdm_record', (event) => events.push(event as ServiceEvent<AppSubject>)));
  app.communities.addComponent(createHooks<'community', Community>('community', (event) => events.push(event as ServiceEvent<AppSubject>)));
  const troy = app.addUser({ id: '1', email: 'troy@example.org', username: 'troy', name: 'Troy Brown' });
  const mary = app.addUser({ id: '2', email: 'mary@example.org', username: 'mary', name: 'Mary Beard' });
  return { app, events, troy, mary };
}

const names = (events: readonly ServiceEvent<AppSubject>[]) => events.map((event) => `${event.serviceType}.${event.method}`);

describe('records app example', () => {
  it('runs the record components of each operation with the arguments of the seed table, after commit', async () => {
    const { app, events, troy } = appWithHooks();
    const draft = await app.records.create(troy, { metadata: { title: 'A Romans Story' } });
    const record = await app.records.publish(troy, draft.id);
    const version = await app.records.newVersion(troy, record.id);
    await app.records.updateDraft(troy, version.id, { metadata: { title: 'A Romans Story, revised' } });
    await app.records.publish(troy, version.id);
    await app.records.deleteRecord(troy, version.id, { removal_reason: { id: 'spam' } });
    await app.records.restoreRecord(troy, version.id);

    expect(names(events)).toEqual([
      'rdm_record.create',
      'rdm_record.publish',
      'rdm_record.new_version',
      'rdm_record.update_draft',
      'rdm_record.publish',
      'rdm_record.delete_record',
      'rdm_record.restore_record',
    ]);
    const publish = events[1]!;
    expect(Object.keys(publish.args).sort()).toEqual(['draft', 'identity', 'record']);
    expect(publish).toMatchObject({ recordId: record.id, draftId: record.id, args: { identity: { id: '1' }, record: { status: 'published', versions: { index: 1, is_latest: true } } } });
    expect(events[2]).toMatchObject({ recordId: record.id, draftId: version.id, args: { draft: { parent: { id: record.parent.id }, versions: { index: 2 } } } });
    expect(events[5]).toMatchObject({ args: { record: { deletion_status: { is_deleted: true, status: 'D' }, tombstone: { removal_reason: { id: 'spam' } } }, data: { removal_reason: { id: 'spam' } } } });

    expect(app.records.read(troy, record.id).versions.is_latest).toBe(false);
    expect(app.records.read(troy, version.id)).toMatchObject({ metadata: { title: 'A Romans Story, revised' }, versions: { index: 2, is_latest: true }, tombstone: null });
  });

  it('runs the community components, rename with old_slug and slug', async () => {
    const { app, events, mary } = appWithHooks();
    const community = await app.communities.create(mary, { slug: 'roman-households', metadata: { title: 'Roman Households' } });
    await app.communities.update(mary, community.id, { metadata: { title: 'Roman Households Research Group' } });
    await app.communities.rename(mary, community.id, { slug: 'roman-domestic-life' });
    await app.communities.deleteCommunity(mary, community.id, { removal_reason: { id: 'merged' } });
    await app.communities.restoreCommunity(mary, community.id);

    expect(names(events)).toEqual(['community.create', 'community.update', 'community.rename', 'community.delete_community', 'community.restore_community']);
    expect(events[2]).toMatchObject({ args: { old_slug: 'roman-households', slug: 'roman-domestic-life', data: { slug: 'roman-domestic-life' }, record: { slug: 'roman-domestic-life' } } });
    expect(app.ownerOf(app.communities.read(mary, community.id))).toEqual({ id: '2', email: 'mary@example.org', username: 'mary', name: 'Mary Beard' });
  });

  it('rolls the unit of work back when a component throws: nothing is stored and no event is emitted', async () => {
    const { app, events, troy } = appWithHooks();
    app.records.addComponent({
      publish: () => {
        throw new Error('the indexer is down');
      },
    });
    const draft = await app.records.create(troy, { metadata: { title: 'Never published' } });
    await expect(app.records.publish(troy, draft.id)).rejects.toThrow('the indexer is down');
    expect(names(events)).toEqual(['rdm_record.create']);
    expect(() => app.records.read(troy, draft.id)).toThrow(RecordsAppError);
    expect(app.records.readDraft(troy, draft.id).id).toBe(draft.id);
  });

  it('writes a custom field back as the system through edit, update_draft and publish', async () => {
    const { app, events, troy } = appWithHooks();
    const draft = await app.records.create(troy, { metadata: { title: 'A Romans Story' } });
    await app.records.publish(troy, draft.id);
    events.length = 0;
    await app.records.setCustomField(draft.id, 'kcr:commons_search_recid', 'abc');
    expect(names(events)).toEqual(['rdm_record.edit', 'rdm_record.update_draft', 'rdm_record.publish']);
    expect(events.every((event) => event.args.identity.id === SYSTEM_IDENTITY.id)).toBe(true);
    expect(app.records.read(troy, draft.id).custom_fields['kcr:commons_search_recid']).toBe('abc');
    await app.records.setCustomField(draft.id, 'kcr:commons_search_recid', 'abc');
    expect(events).toHaveLength(3);
  });

  it('lets only owners (or the system) change a record, and resolves owners from parent.access.owned_by', async () => {
    const { app, troy, mary } = appWithHooks();
    const draft = await app.records.create(troy, { metadata: { title: 'Mine' } });
    await expect(app.records.publish(mary, draft.id)).rejects.toMatchObject({ code: 'forbidden' });
    const record = await app.records.publish(troy, draft.id);
    expect(app.ownerOf(record)).toEqual({ id: '1', email: 'troy@example.org', username: 'troy', name: 'Troy Brown' });
    await app.records.deleteRecord(SYSTEM_IDENTITY, record.id, { removal_reason: { id: 'spam' } });
    expect(() => app.records.read(troy, record.id)).toThrow('was deleted');
    expect(app.records.read(troy, record.id, { includeDeleted: true }).deletion_status.is_deleted).toBe(true);
  });
});
