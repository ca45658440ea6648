// A receiving API on 127.0.0.1 for the store tests: records every request when its body has
// been read (before answering), answers after `delayMs`, with the status `answer` chooses.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the receiver saw it. */
export type Arrival = {
  readonly deliveryId: string;
  readonly recordId: string;
  readonly revision: number;
  readonly authorization: string | null;
  readonly method: string;
  readonly at: number;
};

export type ReceiverOptions = {
  /** Wait before answering, ms. @default 0 */
  readonly delayMs?: number;
  /** The status of each answer. @default 200 */
  readonly answer?: (arrival: Arrival, count: number) => number;
  /** Called on every arrival, before the answer (to kill a process at the right moment). */
  readonly onArrival?: (arrival: Arrival, count: number) => void;
};

export type Receiver = {
  readonly url: string;
  readonly arrivals: Arrival[];
  /** Requests being answered right now. */
  readonly inFlight: () => number;
  /** The most requests answered at the same time. */
  readonly maxInFlight: () => number;
  /** Resolves once `count` requests have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
};

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const arrivals: Arrival[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let body: { id?: unknown; revision_id?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as typeof body;
      } catch {
        // a body that is not JSON is recorded with an unknown record
      }
      const arrival: Arrival = {
        deliveryId: String(req.headers['idempotency-key'] ?? ''),
        recordId: String(body.id ?? ''),
        revision: Number(body.revision_id ?? -1),
        authorization: typeof req.headers.authorization === 'string' ? req.headers.authorization : null,
        method: req.method ?? '',
        at: Date.now(),
      };
      arrivals.push(arrival);
      options.onArrival?.(arrival, arrivals.length);
      for (const waiter of [...waiters]) {
        if (arrivals.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      const status = options.answer?.(arrival, arrivals.length) ?? 200;
      setTimeout(() => {
        inFlight -= 1;
        res.writeHead(status, { 'content-type': 'application/json', 'set-cookie': 'session=abc' });
        res.end(JSON.stringify({ ok: status < 300, received: arrival.deliveryId }));
      }, options.delayMs ?? 0);
    });
  });
  // Above undici's 2 s keep-alive margin, so that clients reuse their connections (at 2 s or
  // less every request would open a new one).
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/documents`,
    arrivals,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    waitFor: (count, timeoutMs = 20_000) =>
      arrivals.length >= count
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`Expected ${count} requests at the receiver within ${timeoutMs} ms, got ${arrivals.length}`)), timeoutMs);
            waiters.push({ count, resolve: () => { clearTimeout(timer); resolve(); } });
          }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Checks the arrivals against what was journaled: every delivery id arrived, none unknown,
 * each (record, revision) under one delivery id only, and per record the revisions never go
 * back (a duplicate re-sends the request in flight, before the next one). Returns the figures.
 */
export function checkArrivals(
  arrivals: readonly Arrival[],
  expected: ReadonlyMap<string, { readonly recordId: string; readonly revision: number }>,
): { readonly unique: number; readonly duplicates: number; readonly missing: readonly string[]; readonly unknown: readonly string[]; readonly orderViolations: readonly string[]; readonly contentUnderOtherIds: readonly string[] } {
  const seen = new Set<string>();
  const unknown: string[] = [];
  const idOfContent = new Map<string, string>();
  const contentUnderOtherIds: string[] = [];
  const lastRevision = new Map<string, number>();
  const orderViolations: string[] = [];
  for (const arrival of arrivals) {
    const wanted = expected.get(arrival.deliveryId);
    if (wanted === undefined) unknown.push(arrival.deliveryId);
    seen.add(arrival.deliveryId);
    const content = `${arrival.recordId}@${arrival.revision}`;
    const firstId = idOfContent.get(content);
    if (firstId === undefined) idOfContent.set(content, arrival.deliveryId);
    else if (firstId !== arrival.deliveryId) contentUnderOtherIds.push(`${content}: ${firstId} and ${arrival.deliveryId}`);
    const last = lastRevision.get(arrival.recordId) ?? -Infinity;
    if (arrival.revision < last) orderViolations.push(`${arrival.recordId}: revision ${arrival.revision} after ${last}`);
    lastRevision.set(arrival.recordId, Math.max(last, arrival.revision));
  }
  const missing = [...expected.keys()].filter((id) => !seen.has(id));
  return { unique: seen.size, duplicates: arrivals.length - seen.size, missing, unknown, orderViolations, contentUnderOtherIds };
}
