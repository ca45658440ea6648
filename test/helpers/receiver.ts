/**
 * The receiving API of the tests: a node:http server on 127.0.0.1, port 0, that records every
 * request with its full body before it answers. Unit, store and provisioner tests run it in
 * their own process (`startReceiver`); the tests that need it in another process (to kill it,
 * or to keep its work out of the app's event loop) run the same recording code there
 * (`receiverProcess.ts`).
 *
 * ```ts
 * const receiver = await startReceiver({ delayMs: 5, status: (request) => (request.revision === 1 ? 503 : 200) });
 * createProvisioner({ events: { rdm_record: { [receiver.url()]: { publish: { http_method: 'POST', payload } } } } });
 * // ... receiver.requests, receiver.waitFor(10), receiver.close()
 * ```
 *
 * @internal test helper
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as NetServer } from 'node:net';

/** A request as the receiver saw it, and the delivery it carried. */
export type RecordedRequest = {
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** When its body had arrived (ms since epoch, the receiver's clock). */
  readonly at: number;
  /** The `Idempotency-Key` header ('' without one). */
  readonly deliveryId: string;
  /** The `Authorization` header, or null. */
  readonly authorization: string | null;
  /** `id` of a JSON body ('' when there is none). */
  readonly recordId: string;
  /** `revision_id` of a JSON body (-1 when there is none). */
  readonly revision: number;
};

/** The one place where an incoming request becomes a {@link RecordedRequest}. */
export function recordRequest(raw: IncomingMessage, body: string, at = Date.now()): RecordedRequest {
  let json: { id?: unknown; revision_id?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(body || '{}');
    if (typeof parsed === 'object' && parsed !== null) json = parsed;
  } catch {
    // a body that is not JSON carries no record
  }
  return {
    method: raw.method ?? '',
    path: raw.url ?? '',
    headers: { ...raw.headers },
    body,
    at,
    deliveryId: headerValue(raw, 'idempotency-key') ?? '',
    authorization: headerValue(raw, 'authorization'),
    recordId: String(json.id ?? ''),
    revision: Number(json.revision_id ?? -1),
  };
}

/** A header as one string (repeated ones joined), or null. */
export function headerValue(raw: IncomingMessage, name: string): string | null {
  const value = raw.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? null);
}

/** Reads a request's body in full. */
export function readBody(raw: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => chunks.push(chunk));
    raw.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    raw.on('error', reject);
  });
}

/** Answers `status` with a JSON body (none when `body` is undefined, as for 204). */
export function answerJson(response: ServerResponse, status: number, body?: unknown, headers: Readonly<Record<string, string>> = {}): void {
  if (body === undefined) {
    response.writeHead(status, headers).end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  response.end(text);
}

/** Listens on 127.0.0.1, on `port` (by default one the system picks); resolves with the port. */
export async function listenOnLoopback(server: Server | NetServer, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`Expected a TCP address, got ${String(address)}`);
  return address.port;
}

/** Answers one recorded request; `raw` is there to watch `close` or destroy the socket. */
export type Handler = (request: RecordedRequest, response: ServerResponse, raw: IncomingMessage) => unknown;

export type ReceiverOptions = {
  /** Answers each request. Without one: `status` after `delayMs`, a JSON body and a session cookie. */
  readonly handler?: Handler;
  /** Without a handler: wait before answering, ms. @default 0 */
  readonly delayMs?: number;
  /** Without a handler: the status of each answer (`count` requests so far). @default 200 */
  readonly status?: (request: RecordedRequest, count: number) => number;
  /** Called on every request before it is answered (to kill a process at the right moment). */
  readonly onRequest?: (request: RecordedRequest, count: number) => void;
  /**
   * How long idle connections are kept, ms. Above undici's 2 s keep-alive margin by default, so
   * that clients reuse their connections (at 2 s or less every request would open a new one).
   * @default 5000
   */
  readonly keepAliveTimeoutMs?: number;
};

/** A running receiver. */
export type Receiver = {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** The URL of `path` on the receiver. @default '/documents' */
  url(path?: string): string;
  /** Every request so far, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Requests recorded and not answered yet. */
  inFlight(): number;
  /** The most requests unanswered at the same time. */
  maxInFlight(): number;
  /** TCP connections opened to the receiver so far. */
  connections(): number;
  /** Resolves once `count` requests have arrived, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  /** Closes the server and every connection, idle or not: connections are refused from then on. */
  close(): Promise<void>;
  /** Listens again on the same port after `close()` (a receiver that went away comes back). */
  restart(): Promise<void>;
};

/** The answer without a handler: `status` after `delayMs`, with a cookie the stores must not keep. */
function defaultHandler(options: ReceiverOptions, count: () => number): Handler {
  return (request, response) => {
    const status = options.status?.(request, count()) ?? 200;
    setTimeout(() => {
      answerJson(response, status, { ok: status < 300, received: request.deliveryId }, { 'set-cookie': 'session=abc' });
    }, options.delayMs ?? 0);
  };
}

/** Starts a receiver that answers with `handler`, or as `options` say. */
export async function startReceiver(answerWith: Handler | ReceiverOptions = {}): Promise<Receiver> {
  const options: ReceiverOptions = typeof answerWith === 'function' ? { handler: answerWith } : answerWith;
  const requests: RecordedRequest[] = [];
  const waiters = new Set<() => void>();
  let inFlight = 0;
  let maxInFlight = 0;
  let connections = 0;
  const handler = options.handler ?? defaultHandler(options, () => requests.length);
  const server = createServer((raw, response) => {
    readBody(raw).then((body) => {
      const request = recordRequest(raw, body);
      requests.push(request);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      response.once('close', () => (inFlight -= 1));
      options.onRequest?.(request, requests.length);
      for (const waiter of [...waiters]) waiter();
      return handler(request, response, raw);
    }).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500).end(String(error));
    });
  });
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5_000;
  server.on('connection', () => (connections += 1));
  const port = await listenOnLoopback(server);
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    url: (path = '/documents') => `${origin}${path}`,
    requests,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    connections: () => connections,
    waitFor: (count, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (requests.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`Expected ${count} requests at the receiver within ${timeoutMs} ms, got ${requests.length}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    restart: async () => {
      await listenOnLoopback(server, port);
    },
  };
}

/** A URL origin on 127.0.0.1 where nothing listens (a port just freed). */
export async function refusingOrigin(): Promise<string> {
  const receiver = await startReceiver();
  await receiver.close();
  return receiver.origin;
}
