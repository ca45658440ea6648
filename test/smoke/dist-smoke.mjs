// Run with plain `node` (no TypeScript loader) after `npm run build`: imports the package by
// its name, which resolves through package.json `exports` to dist/, and sends one real event.
import { createServer } from 'node:http';
import * as api from 'remote-api-provisioner';

const received = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    received.push({ method: req.method, url: req.url, body: JSON.parse(body), idempotencyKey: req.headers['idempotency-key'] });
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ _id: 'remote-1' }));
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${server.address().port}/api/v1/documents`;

const events = api.defineConfig({
  rdm_record: { [endpoint]: { publish: { http_method: 'POST', payload: ({ record }) => ({ id: record.id }), callback: (response) => response.body } } },
});
const provisioner = api.createProvisioner({ events });
const outcomes = [];
const callbacks = [];
provisioner.outcomes$.subscribe((outcome) => outcomes.push({ kind: outcome.kind, status: outcome.kind === 'delivered' ? outcome.response.status : null }));
provisioner.callbacks$.subscribe((outcome) => callbacks.push({ kind: outcome.kind, value: outcome.kind === 'ok' ? outcome.value : null }));

const uow = api.createUnitOfWork();
provisioner.hooks('rdm_record').publish({ identity: { id: 1 }, record: { id: 'abc-123', access: { record: 'public' } }, uow });
uow.commit();
await provisioner.drain();
await provisioner.close();
server.close();

let configError = null;
try {
  api.parseConfig({ community: { [endpoint]: { delete_record: { http_method: 'DELETE', payload: null } } } });
} catch (error) {
  configError = api.isConfigError(error) ? error.issues : String(error);
}

const undefinedExports = Object.entries(api).filter(([, value]) => value === undefined).map(([name]) => name);
process.stdout.write(JSON.stringify({ received, outcomes, callbacks, configError, undefinedExports }));
