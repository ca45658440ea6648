import { createHooks } from '../../src/index.js';
import type { AppRecord, ServiceEvent } from '../../src/index.js';
import { community, identity, rdmRecord } from '../hooks/fixtures.js';

/** One real event of each kind the operator specs use, made by real hooks. */
export function sampleEvents<R = AppRecord>(): {
  readonly publish: ServiceEvent<R>;
  readonly newVersion: ServiceEvent<R>;
  readonly updateDraft: ServiceEvent<R>;
  readonly deleteRecord: ServiceEvent<R>;
  readonly rdmCreate: ServiceEvent<R>;
  readonly rename: ServiceEvent<R>;
  readonly communityCreate: ServiceEvent<R>;
  readonly deleteCommunity: ServiceEvent<R>;
} {
  const made: ServiceEvent<R>[] = [];
  const emit = (event: ServiceEvent<R>): void => {
    made.push(event);
  };
  const rdm = createHooks<'rdm_record', R>('rdm_record', emit);
  const communities = createHooks<'community', R>('community', emit);
  const record = rdmRecord() as R;
  const group = community() as R;
  rdm.publish({ identity, record, draft: record });
  rdm.new_version({ identity, record, draft: record });
  rdm.update_draft({ identity, record, data: { metadata: { title: 'Draft title' } } });
  rdm.delete_record({ identity, record, data: { removal_reason: 'spam' } });
  rdm.create({ identity, record, data: {} });
  communities.rename({ identity, record: group, old_slug: 'roman-households', slug: 'roman-homes' });
  communities.create({ identity, record: group, data: {} });
  communities.delete_community({ identity, record: group, data: {} });
  const [publish, newVersion, updateDraft, deleteRecord, rdmCreate, rename, communityCreate, deleteCommunity] = made;
  if (deleteCommunity === undefined || publish === undefined || newVersion === undefined || updateDraft === undefined
    || deleteRecord === undefined || rdmCreate === undefined || rename === undefined || communityCreate === undefined) {
    throw new Error(`expected 8 sample events, got ${made.length}`);
  }
  return { publish, newVersion, updateDraft, deleteRecord, rdmCreate, rename, communityCreate, deleteCommunity };
}
