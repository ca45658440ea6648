/**
 * The baselines of the end-to-end measurement: the same 1 KB JSON POST sent with raw undici
 * `request` over a keep-alive Agent, with `Agent.request()` as the lean fetch would use it, and
 * with the global `fetch`, by a fixed pool of workers.
 */
import { Agent, request } from 'undici';
import type { JsonObject } from 'remote-api-provisioner';
import { startUsage, type Usage } from './stats.js';

/** Sends one request and reads its body; rejects on a non-2xx answer. */
export type Send = (payload: JsonObject) => Promise<void>;

/** A client under test; `close` releases its connections. */
export type Client = { readonly send: Send; close(): Promise<void> };

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** Raw undici `request` over a keep-alive Agent with `connections` sockets. */
export function undiciClient(url: string, connections: number): Client {
  const dispatcher = new Agent({ connections, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 120_000 });
  return {
    async send(payload) {
      const response = await request(url, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(payload), dispatcher });
      await response.body.json();
      if (response.statusCode < 200 || response.statusCode > 299) {
        throw new Error(`Expected a 2xx answer from ${url}, got ${response.statusCode}`);
      }
    },
    close: () => dispatcher.close(),
  };
}

/** The cap the default effect reads a response body up to (its `maxResponseBytes` default). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * `Agent.request()` as the lean fetch would use it instead of its own dispatch handler: an Agent
 * with the lean fetch's options, the URL parsed once, the headers as a record, and the body read
 * up to the effect's cap (the connection dropped past it) before it is parsed, as the effect reads
 * it. The other side of the comparison is the row "lean fetch alone, no ky".
 */
export function agentRequestClient(url: string, connections: number): Client {
  // The lean fetch's Agent options (src/delivery/leanFetch.ts).
  const agent = new Agent({ connections, keepAliveTimeout: 4_000, keepAliveTimeoutThreshold: 1_000 });
  const { origin, pathname, search } = new URL(url);
  const path = pathname + search;
  let sequence = 0;
  return {
    async send(payload) {
      sequence += 1;
      const headers = { 'content-type': 'application/json', 'idempotency-key': `agent-${sequence}` };
      const response = await agent.request({ origin, path, method: 'POST', headers, body: JSON.stringify(payload) });
      const bytes = await readCapped(response.body, MAX_RESPONSE_BYTES);
      JSON.parse(bytes.toString('utf8'));
      if (response.statusCode < 200 || response.statusCode > 299) {
        throw new Error(`Expected a 2xx answer from ${url}, got ${response.statusCode}`);
      }
    },
    close: () => agent.close(),
  };
}

/** Reads a node stream up to `maxBytes`, destroying it (and so its connection) past the cap. */
function readCapped(body: NodeJS.ReadableStream & { destroy(): void }, maxBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    body.on('data', (chunk: Buffer) => {
      if (length + chunk.length > maxBytes) {
        chunks.push(chunk.subarray(0, maxBytes - length));
        length = maxBytes;
        body.destroy();
        resolve(Buffer.concat(chunks, length));
        return;
      }
      chunks.push(chunk);
      length += chunk.length;
    });
    body.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length)));
    body.on('error', reject);
  });
}

/** The global `fetch` of Node (its own pool, undici bundled with Node). */
export function fetchClient(url: string): Client {
  return {
    async send(payload) {
      const response = await fetch(url, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(payload) });
      await response.json();
      if (!response.ok) throw new Error(`Expected a 2xx answer from ${url}, got ${response.status}`);
    },
    close: async () => {},
  };
}

/** What one pool run did. */
export type PoolRun = Usage & { readonly done: number };

/**
 * Sends `total` requests with `concurrency` workers, each awaiting its answer before the
 * next, and stops issuing new ones after `maxMs`. The first error ends the run.
 */
export async function runPool(
  client: Client,
  total: number,
  concurrency: number,
  payloadFor: (n: number) => JsonObject,
  maxMs: number,
): Promise<PoolRun> {
  let issued = 0;
  let done = 0;
  const stopAt = Date.now() + maxMs;
  const stop = startUsage();
  const worker = async (): Promise<void> => {
    while (issued < total && Date.now() < stopAt) {
      const n = issued++;
      await client.send(payloadFor(n));
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ...stop(), done };
}
