// The seed's flow, end to end against a real search service on 127.0.0.1: a publish is POSTed,
// the callback stores the remote `_id` on the record through the app's own service (whose
// hook call must not be sent back to the search service), and the next publish of the record
// PUTs to `/documents/{remote id}`.
import { afterEach, describe, expect, it } from 'vitest';
import {
  SYSTEM_IDENTITY,
  createProvisioner,
  defineConfig,
  type AppRecord,
  type Identity,
  type JsonObject,
  type Owner,
} from '../../src/index.js';
import { rdmRecord } from '../helpers/factories.js';
import { collect, kindOf } from '../helpers/outcomes.js';
import { answerJson, type Receiver, startReceiver } from '../helpers/receiver.js';

type Work = AppRecord & {
  readonly id: string;
  readonly metadata: { readonly title: string };
  readonly custom_fields: Readonly<Record<string, string>>;
  readonly parent: { readonly access: { readonly owned_by: { readonly user: string } } };
};

const REMOTE_ID = 'kcr:commons_search_recid';
const remoteIdOf = (record: Work | null | undefined): string | undefined => record?.custom_fields[REMOTE_ID];

const servers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** The search service: POST creates a document with a new `_id`, PUT replaces one. */
async function startSearchService(): Promise<{ server: Receiver; documents: Map<string, JsonObject> }> {
  const documents = new Map<string, JsonObject>();
  let next = 0;
  const server = await startReceiver((request, response) => {
    const body = JSON.parse(request.body || '{}') as JsonObject;
    if (request.method === 'POST' && request.path === '/api/v1/documents') {
      next += 1;
      const id = `doc-${next}`;
      documents.set(id, body);
      answerJson(response, 201, { _id: id, ...body });
      return;
    }
    const match = /^\/api\/v1\/documents\/([^/]+)$/.exec(request.path);
    if (request.method === 'PUT' && match !== null && documents.has(decodeURIComponent(match[1]!))) {
      const id = decodeURIComponent(match[1]!);
      documents.set(id, body);
      answerJson(response, 200, { _id: id, ...body });
      return;
    }
    answerJson(response, 404, { error: `no route for ${request.method} ${request.path}` });
  });
  servers.push(server);
  return { server, documents };
}

describe('publish → callback stores the remote id → later publish PUTs to it', () => {
  it('follows the seed flow without a feedback loop', async () => {
    const { server: search, documents } = await startSearchService();
    const audit = await startReceiver((_request, response) => answerJson(response, 204));
    servers.push(audit);
    const SEARCH = search.url('/api/v1/documents');
    const AUDIT = audit.url('/hooks');

    // The app: a record store and a service whose writes run the provisioner's hooks, as an
    // Invenio service runs its components.
    const store = new Map<string, Work>();
    const app = {
      publish(identity: Identity, record: Work): void {
        store.set(record.id, record);
        hooks.publish({ identity, record, draft: record });
      },
      async setRemoteId(identity: Identity, id: string, remoteId: string): Promise<void> {
        await new Promise((resolve) => setTimeout(resolve, 1)); // a database write
        const current = store.get(id);
        if (current === undefined) throw new Error(`Expected record ${id} in the store`);
        const updated: Work = { ...current, custom_fields: { ...current.custom_fields, [REMOTE_ID]: remoteId } };
        store.set(id, updated);
        hooks.update_draft({ identity, record: updated, data: { custom_fields: { [REMOTE_ID]: remoteId } } });
      },
    };

    const events = defineConfig<Work>({
      rdm_record: {
        [SEARCH]: {
          publish: {
            http_method: ({ record }) => (remoteIdOf(record) === undefined ? 'POST' : 'PUT'),
            url_factory: (record) => {
              const remoteId = remoteIdOf(record);
              return remoteId === undefined ? SEARCH : `${SEARCH}/${encodeURIComponent(remoteId)}`;
            },
            with_record_owner: true,
            payload: ({ record, owner }) => ({
              _internal_id: record?.id ?? null,
              title: record?.metadata.title ?? '',
              owner: owner?.username ?? null,
            }),
            callback: async (response, meta) => {
              const remoteId = (response.body as { _id?: unknown } | null)?._id;
              if (typeof remoteId !== 'string' || meta.record_id === null) return 'no id';
              if (remoteIdOf(meta.record) === remoteId) return 'already stored';
              await app.setRemoteId(SYSTEM_IDENTITY, meta.record_id, remoteId);
              return remoteId;
            },
          },
          update_draft: { http_method: 'PUT', payload: ({ record }) => ({ _internal_id: record?.id ?? null }), url_factory: () => `${SEARCH}/by-draft` },
        },
        [AUDIT]: {
          update_draft: { http_method: 'POST', payload: ({ record }) => ({ updated: record?.id ?? null }) },
        },
      },
    });

    const owners: Record<string, Owner> = { '1': { id: 1, email: 'troy@example.org', username: 'troy' } };
    const provisioner = createProvisioner<Work>({
      events,
      resolveOwner: ({ record }) => {
        const owner = owners[record?.parent.access.owned_by.user ?? ''];
        if (owner === undefined) throw new Error('no owner');
        return owner;
      },
    });
    const hooks = provisioner.hooks('rdm_record');
    const { outcomes, callbacks } = collect(provisioner);

    const record = rdmRecord({ custom_fields: {} }) as AppRecord as Work;
    const user: Identity = { id: 1 };

    // 1. The first publish is POSTed; the callback stores the remote id.
    app.publish(user, record);
    await provisioner.drain();

    expect(search.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['POST /api/v1/documents']);
    expect(JSON.parse(search.requests[0]!.body)).toEqual({ _internal_id: 'q1k7x-8mz42', title: 'A Romans Story', owner: 'troy' });
    expect(callbacks.map((outcome) => (outcome.kind === 'ok' ? outcome.value : outcome.error.message))).toEqual(['doc-1']);
    expect(remoteIdOf(store.get(record.id))).toBe('doc-1');
    // The write-back's update_draft is not sent back to the search service, but the audit
    // endpoint, whose callback did not cause it, gets it.
    expect(outcomes.map((outcome) => `${outcome.event.method} ${kindOf(outcome)} ${outcome.endpoint}`)).toEqual([
      `publish delivered ${SEARCH}`,
      `update_draft skipped feedback-loop ${SEARCH}`,
      `update_draft delivered ${AUDIT}`,
    ]);
    const writeBack = outcomes[1]!;
    const firstDelivery = outcomes[0]!;
    expect(writeBack.event.causedBy).toEqual({
      deliveryId: firstDelivery.kind === 'delivered' ? firstDelivery.request.deliveryId : '',
      serviceType: 'rdm_record',
      serviceMethod: 'publish',
      endpoint: SEARCH,
    });

    // 2. A later publish of the stored record, by a user, PUTs to the remote document.
    app.publish(user, { ...store.get(record.id)!, metadata: { ...record.metadata, title: 'A Romans Story, revised' } });
    await provisioner.drain();

    expect(search.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['POST /api/v1/documents', 'PUT /api/v1/documents/doc-1']);
    expect(documents.get('doc-1')).toEqual({ _internal_id: 'q1k7x-8mz42', title: 'A Romans Story, revised', owner: 'troy' });
    expect(outcomes.slice(3).map((outcome) => `${outcome.event.method} ${kindOf(outcome)}`)).toEqual(['publish delivered']);
    expect(callbacks.map((outcome) => (outcome.kind === 'ok' ? outcome.value : outcome.error.message))).toEqual(['doc-1', 'already stored']);
    expect(audit.requests).toHaveLength(1);

    await provisioner.close();
  });
});
