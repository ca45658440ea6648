// A first delivery, end to end: `node examples/first-delivery.ts` (Node strips the types).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProvisioner, createUnitOfWork, defineConfig, recordUrl, type DeliveryOutcome } from 'remote-api-provisioner';

// Your app's record type: as much of it as the config reads.
type Work = {
  readonly id: string;
  readonly access: { readonly record: 'public' | 'restricted' };
  readonly metadata: { readonly title: string };
};

// A tiny search service on a free loopback port, standing in for the remote API.
const receiver = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
  request.on('end', () => {
    console.info(`receiver: ${request.method} ${request.url} ${body}`);
    response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ _id: 'search-42' }));
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const DOCUMENTS = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/v1/documents`;

// The shape of REMOTE_API_PROVISIONER_EVENTS: service type → endpoint → method → what to send.
const events = defineConfig<Work>({
  rdm_record: {
    [DOCUMENTS]: {
      publish: {
        http_method: 'POST',
        payload: ({ record }) => ({ id: record.id, title: record.metadata.title }),
        callback: (response, meta) => console.info(`callback: ${meta.record_id} indexed as`, response.body),
      },
      delete_record: { http_method: 'DELETE', payload: null, url_factory: (record) => recordUrl(DOCUMENTS, record.id) },
    },
  },
});

const describe = (outcome: DeliveryOutcome): string =>
  outcome.kind === 'delivered'
    ? `delivered ${outcome.request.method} ${outcome.request.url} (${outcome.response.status})`
    : outcome.kind === 'failed'
      ? `failed (${outcome.reason}): ${outcome.error.message}`
      : `skipped (${outcome.reason})`;

const provisioner = createProvisioner<Work>({ events });
const outcomes: DeliveryOutcome[] = [];
provisioner.outcomes$.subscribe((outcome) => {
  outcomes.push(outcome);
  console.info(`outcome: ${describe(outcome)}`);
});

// In your record service, where InvenioRDM would run its service components:
const identity = { id: 1 };
const record: Work = { id: 'q1k7x-8mz42', access: { record: 'public' }, metadata: { title: 'A Romans Story' } };
const uow = createUnitOfWork();
provisioner.hooks('rdm_record').publish({ identity, record, draft: record, uow });
uow.commit(); // sent after the commit, never after a rollback

await provisioner.drain(); // the delivery and its callback have settled
await provisioner.close(); // on shutdown: deliveries and callbacks settle first
receiver.close();
process.exitCode = outcomes.every((outcome) => outcome.kind === 'delivered') ? 0 : 1;
