/**
 * The baselines of the end-to-end measurement: the same 1 KB JSON POST sent with raw undici
 * `request` over a keep-alive Agent, and with the global `fetch`, by a fixed pool of workers.
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
