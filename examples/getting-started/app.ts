// A complete minimal records app: node:http, records in memory, one unit of work per request.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProvisioner, createUnitOfWork, defineConfig, recordUrl, type Identity } from 'remote-api-provisioner';

/** The app's record: as much of an InvenioRDM record as the config reads. */
export type Work = {
  readonly id: string;
  readonly access: { readonly record: 'public' | 'restricted' };
  readonly metadata: { readonly title: string };
};

/** Starts the app on a free loopback port; `searchUrl` is the remote search service. */
export async function startRecordsApp(searchUrl: string) {
  const documents = `${searchUrl}/api/v1/documents`;
  const events = defineConfig<Work>({
    rdm_record: {
      [documents]: {
        publish: { http_method: 'POST', payload: ({ record }) => ({ id: record.id, title: record.metadata.title }) },
        delete_record: { http_method: 'DELETE', payload: null, url_factory: (record) => recordUrl(documents, record.id) },
      },
    },
  });
  const provisioner = createProvisioner<Work>({ events });
  const hooks = provisioner.hooks('rdm_record');
  const records = new Map<string, Work>();

  /** The record service's publish: the write, the hook, then the commit. */
  function publish(identity: Identity, draft: Work): Work {
    const uow = createUnitOfWork();
    const previous = records.get(draft.id);
    try {
      records.set(draft.id, draft); // the transaction's writes
      // Where an Invenio service component would run: the event waits for the commit.
      hooks.publish({ identity, record: draft, draft, uow });
      if (draft.metadata.title.trim() === '') throw new Error('Expected a title, got an empty one');
    } catch (error) {
      if (previous === undefined) records.delete(draft.id);
      else records.set(draft.id, previous);
      uow.rollback(); // nothing is sent for a rolled-back publish
      throw error;
    }
    uow.commit(); // the contract: your commit runs the onCommit callbacks, and that sends
    return draft;
  }

  function deleteRecord(identity: Identity, id: string): Work | undefined {
    const record = records.get(id);
    if (record === undefined) return undefined;
    const uow = createUnitOfWork();
    records.delete(id);
    hooks.delete_record({ identity, record, data: { note: 'deleted by its owner' }, uow });
    uow.commit();
    return record;
  }

  const server = createServer((request, response) => {
    const id = /^\/records\/([^/]+)$/.exec(request.url ?? '')?.[1];
    const identity: Identity = { id: Number(request.headers['x-user-id'] ?? 0) };
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      const reply = (status: number, value: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      };
      try {
        if (id !== undefined && request.method === 'PUT') return reply(200, publish(identity, { ...(JSON.parse(body) as Work), id }));
        if (id !== undefined && request.method === 'DELETE') {
          const deleted = deleteRecord(identity, id);
          return deleted === undefined ? reply(404, { error: `No record ${id}` }) : reply(200, deleted);
        }
        return reply(404, { error: 'Expected PUT or DELETE /records/<id>' });
      } catch (error) {
        return reply(400, { error: error instanceof Error ? error.message : String(error) });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    provisioner,
    /** Stops taking requests, then lets the accepted deliveries settle. */
    async close(): Promise<void> {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await provisioner.close();
    },
  };
}
