// A response that can never be read (headers past undici's maxHeaderSize, a status line that
// is not HTTP) fails at once with reason `network` and says why, instead of being retried: the
// receiver would send the same response to every attempt. Real servers on 127.0.0.1.
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore, createProvisioner, type DeliveryOutcome, type DeliveryStore, type ProvisionerConfig } from '../../src/index.js';
import { listenOnLoopback, startReceiver, type Receiver } from '../helpers/receiver.js';

/** undici's default maxHeaderSize is 16 KiB; this header alone is larger. */
const OVERSIZED_HEADER = 'x'.repeat(20 * 1024);

const servers: (Receiver | NetServer)[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((server) => ('origin' in server ? server.close() : new Promise<void>((resolve) => server.close(() => resolve())))),
  );
});

/** A receiver kept until the test ends. */
async function receiver(answer: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(answer);
  servers.push(started);
  return started;
}

/** An HTTP server whose every response carries headers over undici's limit. */
function oversizedHeaders(): Promise<Receiver> {
  return receiver((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/json', 'X-Padding': OVERSIZED_HEADER });
    response.end('{}');
  });
}

/** A TCP server that answers every request with a status line that is not HTTP. */
async function invalidStatusLine(): Promise<{ readonly url: () => string; readonly requests: () => number }> {
  let requests = 0;
  const server = createNetServer((socket) => {
    socket.once('data', () => {
      requests += 1;
      socket.end('HTTP/1.1 2x0 Fine\r\nContent-Length: 2\r\n\r\n{}');
    });
    socket.on('error', () => undefined);
  });
  servers.push(server);
  const url = `http://127.0.0.1:${await listenOnLoopback(server)}/documents`;
  return { url: () => url, requests: () => requests };
}

async function deliverOnce(url: string, store?: DeliveryStore): Promise<DeliveryOutcome> {
  const events = {
    rdm_record: { [url]: { publish: { http_method: 'POST', payload: { id: 'r1' }, retry: { limit: 3, baseDelayMs: 1, maxDelayMs: 2 } } } },
  } as unknown as ProvisionerConfig;
  const provisioner = createProvisioner({ events, ...(store !== undefined ? { store } : {}) });
  const outcomes: DeliveryOutcome[] = [];
  provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
  try {
    provisioner.hooks('rdm_record').publish({ identity: { id: 1 }, record: { id: 'r1', access: { record: 'public' } } });
    await provisioner.drain();
  } finally {
    await provisioner.close({ timeoutMs: 2_000 });
  }
  expect(outcomes).toHaveLength(1);
  return outcomes[0] as DeliveryOutcome;
}

describe.each([
  { pipeline: 'without a store', store: (): DeliveryStore | undefined => undefined },
  { pipeline: 'with the memory store', store: (): DeliveryStore | undefined => createMemoryStore() },
])('a response that can never be read, $pipeline', ({ store }) => {
  it('with headers over undici\'s limit fails after one attempt with reason network, saying why', async () => {
    const server = await oversizedHeaders();
    const outcome = await deliverOnce(server.url(), store());
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'network', attempts: 1 });
    expect(server.requests).toHaveLength(1);
    if (outcome.kind !== 'failed') return;
    expect(outcome.error.message).toContain('UND_ERR_HEADERS_OVERFLOW');
    expect(outcome.error.message).toContain('its headers are larger than the client accepts');
    expect(outcome.error.message).toContain('not retried');
  });

  it('with a status line that is not HTTP fails after one attempt with reason network, saying why', async () => {
    const server = await invalidStatusLine();
    const outcome = await deliverOnce(server.url(), store());
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'network', attempts: 1 });
    expect(server.requests()).toBe(1);
    if (outcome.kind !== 'failed') return;
    expect(outcome.error.message).toContain('it is not valid HTTP/1.1');
    expect(outcome.error.message).toContain('Invalid status code');
    expect(outcome.error.message).toContain('not retried');
  });

  it('while a connection reset is still retried (the next attempt may succeed)', async () => {
    const server = await receiver((_request, response, raw) => {
      if (server.requests.length === 1) {
        raw.socket.destroy();
        return;
      }
      response.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
    const outcome = await deliverOnce(server.url(), store());
    expect(outcome).toMatchObject({ kind: 'delivered', attempts: 2 });
  });
});
