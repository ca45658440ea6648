import { defineConfig, recordUrl, type CallbackMeta, type JsonObject, type Owner, type ProvisionerConfig, type ProvisionerResponse } from 'remote-api-provisioner';
import type { RecordsApp } from './app.js';
import type { Community, RdmRecord } from './types.js';

/** The records the app hands the provisioner: records and drafts, or communities. */
export type AppSubject = RdmRecord | Community;

/** The custom field where the search service's `_id` of a record or community is kept. */
export const SEARCH_ID_FIELD = 'kcr:commons_search_recid';

/** The search service's `_id` of a record or community, or `null` before its first delivery. */
export function searchIdOf(subject: AppSubject | null | undefined): string | null {
  const value = subject?.custom_fields[SEARCH_ID_FIELD];
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * The search document of a record: the Knowledge Commons search format in brief.
 *
 * @example
 * ```ts
 * formatCommonsSearchPayload(record, owner, 'https://works.example.org');
 * // { _internal_id: 'q1k7x-8mz42', content_type: 'work', title: 'A Romans Story', ... }
 * ```
 */
export function formatCommonsSearchPayload(record: RdmRecord, owner: Owner | undefined, siteUrl: string): JsonObject {
  return {
    _internal_id: record.id,
    content_type: 'work',
    network_node_handle: 'works',
    title: record.metadata.title,
    description: stripTags(record.metadata.description ?? ''),
    primary_url: `${siteUrl}/records/${record.id}`,
    owner: owner === undefined ? null : { name: String(owner['name'] ?? owner.username), username: owner.username, url: `${siteUrl}/users/${owner.username}` },
    contributors: (record.metadata.creators ?? []).map((creator) => ({ name: creator.person_or_org.name, role: creator.role?.id ?? 'author' })),
    publication_date: record.metadata.publication_date ?? null,
    modified_date: record.updated,
  };
}

/** The search document of a community (`content_type: 'group'`). */
export function formatCommunitySearchPayload(community: Community, owner: Owner | undefined, siteUrl: string): JsonObject {
  return {
    _internal_id: community.id,
    content_type: 'group',
    network_node_handle: 'works',
    title: community.metadata.title,
    description: stripTags(community.metadata.description ?? ''),
    primary_url: `${siteUrl}/communities/${community.slug}`,
    owner: owner === undefined ? null : { name: String(owner['name'] ?? owner.username), username: owner.username, url: `${siteUrl}/users/${owner.username}` },
    modified_date: community.updated,
  };
}

/**
 * The provisioner config of the records app: keep a central search service (see
 * `examples/commons-search/`) in step with the app's public records and communities, the
 * way the seed's example config keeps Knowledge Commons search in step with InvenioRDM.
 *
 * - `publish` sends the record with its owner: `POST` the first time; the callback stores
 *   the returned `_id` in `custom_fields`, so later publishes (new versions) `PUT` to
 *   `/documents/{_id}`.
 * - `delete_record` sends `DELETE /documents/{_id}`; `restore_record` posts the record again
 *   and stores its new `_id`.
 * - Communities alike: `create` posts, `update` and `rename` put, `delete_community`
 *   deletes, `restore_community` posts again.
 *
 * The callbacks write back through the app's own services (as the system), which run the
 * provisioner's hooks again: the library skips those events for this endpoint
 * (`feedback-loop`) instead of sending them back.
 *
 * @example
 * ```ts
 * const events = commonsSearchEvents(app, { searchUrl: 'https://search.example.org' });
 * const provisioner = createProvisioner({ events, resolveOwner, signing: { secret } });
 * ```
 */
export function commonsSearchEvents(app: RecordsApp, options: { readonly searchUrl: string }): ProvisionerConfig<AppSubject> {
  const documents = `${options.searchUrl}/api/v1/documents`;
  const documentUrl = (subject: AppSubject | null | undefined): string => {
    const id = searchIdOf(subject);
    if (id === null) throw new Error(`Expected ${subject?.id ?? 'the subject'} to have a ${SEARCH_ID_FIELD}, found none: it was never indexed`);
    // recordUrl encodes the id as one path segment: an odd id cannot change the path.
    return recordUrl(documents, id);
  };
  const recordPayload = ({ record, owner }: { readonly record?: AppSubject | null | undefined; readonly owner?: Owner }) =>
    formatCommonsSearchPayload(expectRecord(record), owner, app.siteUrl);
  const communityPayload = ({ record, owner }: { readonly record?: AppSubject | null | undefined; readonly owner?: Owner }) =>
    formatCommunitySearchPayload(expectCommunity(record), owner, app.siteUrl);

  const storeRecordSearchId = async (response: ProvisionerResponse, meta: CallbackMeta<AppSubject>) => {
    const id = remoteIdOf(response);
    if (id !== null && meta.record_id !== null) await app.records.setCustomField(meta.record_id, SEARCH_ID_FIELD, id);
    return id;
  };
  const storeCommunitySearchId = async (response: ProvisionerResponse, meta: CallbackMeta<AppSubject>) => {
    const id = remoteIdOf(response);
    if (id !== null && meta.record_id !== null) await app.communities.setCustomField(meta.record_id, SEARCH_ID_FIELD, id);
    return id;
  };

  return defineConfig<AppSubject>({
    rdm_record: {
      [documents]: {
        publish: {
          http_method: ({ record }) => (searchIdOf(record) === null ? 'POST' : 'PUT'),
          with_record_owner: true,
          payload: recordPayload,
          url_factory: (record) => (searchIdOf(record) === null ? documents : documentUrl(record)),
          callback: storeRecordSearchId,
        },
        delete_record: {
          http_method: 'DELETE',
          payload: null,
          url_factory: documentUrl,
        },
        restore_record: {
          http_method: 'POST',
          with_record_owner: true,
          payload: recordPayload,
          callback: storeRecordSearchId,
        },
      },
    },
    community: {
      [documents]: {
        create: { http_method: 'POST', with_record_owner: true, payload: communityPayload, callback: storeCommunitySearchId },
        update: { http_method: 'PUT', with_record_owner: true, payload: communityPayload, url_factory: documentUrl },
        rename: { http_method: 'PUT', with_record_owner: true, payload: communityPayload, url_factory: documentUrl },
        delete_community: { http_method: 'DELETE', payload: null, url_factory: documentUrl },
        restore_community: { http_method: 'POST', with_record_owner: true, payload: communityPayload, callback: storeCommunitySearchId },
      },
    },
  });
}

function remoteIdOf(response: ProvisionerResponse): string | null {
  const body = response.body;
  if (typeof body !== 'object' || body === null) return null;
  const id = (body as Record<string, unknown>)['_id'];
  return typeof id === 'string' ? id : null;
}

function expectRecord(subject: AppSubject | null | undefined): RdmRecord {
  if (subject === null || subject === undefined || !('parent' in subject)) throw new Error('Expected a record, got none');
  return subject;
}

function expectCommunity(subject: AppSubject | null | undefined): Community {
  if (subject === null || subject === undefined || !('slug' in subject)) throw new Error('Expected a community, got none');
  return subject;
}

function stripTags(html: string): string {
  return html.replace(/<[^>]*>/g, '').trim();
}
