import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { createSearchIndex, type SearchDocument, type SearchResult } from './searchIndex.js';

/** Options of {@link startCommonsSearch}. */
export type CommonsSearchOptions = {
  /** The Standard Webhooks secret (`whsec_…`) every write must be signed with. */
  readonly secret: string;
  /** `0` picks a free port. @default 0 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Largest request body accepted. @default 1 MiB */
  readonly maxBodyBytes?: number;
};

/** A running search service. */
export type CommonsSearch = {
  /** Base URL, e.g. `http://127.0.0.1:41234`; documents live under `/api/v1/documents`. */
  readonly url: string;
  /** Every stored document, ordered by `_internal_id`. */
  documents(): Promise<readonly SearchDocument[]>;
  /** A full-text search, as `GET /api/v1/search?q=` answers it. */
  search(query: string): Promise<SearchResult>;
  /** Makes the next `count` signed writes fail with `status` (default 503) before any work is
   * done, to show retries; such answers are not remembered for idempotency. */
  failNext(count: number, status?: number): void;
  close(): Promise<void>;
};

type Answer = { readonly status: number; readonly body: unknown };
type Remembered = { readonly fingerprint: string; readonly answer: Promise<Answer> };

const DOCUMENTS_PATH = '/api/v1/documents';
const SEARCH_PATH = '/api/v1/search';
const REMEMBERED_DELIVERIES = 10_000;

/**
 * Starts a central search service of the kind the provisioner feeds: the Knowledge Commons
 * search API in miniature, on `node:http` with an in-process Orama index.
 *
 * - `POST /api/v1/documents` → `201 { _id }`
 * - `PUT /api/v1/documents/:id` → `200 { _id }` (`404` when unknown)
 * - `DELETE /api/v1/documents/:id` → `204` (`404` when unknown)
 * - `GET /api/v1/search?q=` → `200 { total, hits: [{ _id, score, document }] }`
 *
 * Every write must carry a valid Standard Webhooks signature (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`), else `401`. Writes are idempotent on the
 * delivery id (`webhook-id`, or `Idempotency-Key`): a repeated delivery gets the first answer
 * again (with `idempotent-replayed: true`) and changes nothing.
 *
 * @example
 * ```ts
 * const search = await startCommonsSearch({ secret: 'whsec_…', port: 0 });
 * // … point the provisioner at `${search.url}/api/v1/documents` …
 * console.log(await search.search('roman'));
 * await search.close();
 * ```
 */
export async function startCommonsSearch(options: CommonsSearchOptions): Promise<CommonsSearch> {
  const verifier = new Webhook(options.secret);
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const index = createSearchIndex();
  const remembered = new Map<string, Remembered>();
  let faults: { count: number; status: number } = { count: 0, status: 503 };

  const write = async (method: string, id: string | null, rawBody: string): Promise<Answer> => {
    let body: unknown = null;
    if (method !== 'DELETE') {
      try {
        body = JSON.parse(rawBody);
      } catch {
        return { status: 400, body: { error: 'expected a JSON body, got text that does not parse' } };
      }
      const invalid = index.invalid(body);
      if (invalid !== null) return { status: 422, body: { error: invalid } };
    }
    const document = body as Record<string, unknown>;
    if (method === 'POST') {
      const stored = await index.add(document);
      return { status: 201, body: { _id: stored._id } };
    }
    if (id === null) return { status: 405, body: { error: `expected POST on ${DOCUMENTS_PATH}, got ${method}` } };
    if (method === 'PUT') {
      const stored = await index.replace(id, document);
      return stored === null ? notFound(id) : { status: 200, body: { _id: stored._id } };
    }
    return (await index.remove(id)) ? { status: 204, body: null } : notFound(id);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';

    if (url.pathname === SEARCH_PATH && method === 'GET') {
      return send(response, { status: 200, body: await index.search(url.searchParams.get('q') ?? '') });
    }
    const id = documentId(url.pathname);
    if (id === undefined) return send(response, { status: 404, body: { error: `no route for ${url.pathname}` } });
    const allowed = id === null ? ['POST'] : ['PUT', 'DELETE'];
    if (!allowed.includes(method)) {
      return send(response, { status: 405, body: { error: `expected ${allowed.join(' or ')} on ${url.pathname}, got ${method}` } });
    }

    const rawBody = await readBody(request, maxBodyBytes);
    if (rawBody === null) return send(response, { status: 413, body: { error: `expected a body of at most ${maxBodyBytes} bytes` } });
    const webhookHeaders = {
      'webhook-id': header(request, 'webhook-id'),
      'webhook-timestamp': header(request, 'webhook-timestamp'),
      'webhook-signature': header(request, 'webhook-signature'),
    };
    try {
      verifier.verify(rawBody, webhookHeaders);
    } catch (error) {
      return send(response, { status: 401, body: { error: `expected a valid Standard Webhooks signature: ${(error as Error).message}` } });
    }

    if (faults.count > 0) {
      faults = { ...faults, count: faults.count - 1 };
      return send(response, { status: faults.status, body: { error: 'temporarily unavailable' } });
    }

    const deliveryId = webhookHeaders['webhook-id'] || header(request, 'idempotency-key');
    const fingerprint = createHash('sha256').update(`${method} ${url.pathname}\n${rawBody}`).digest('hex');
    const earlier = remembered.get(deliveryId);
    if (earlier !== undefined) {
      if (earlier.fingerprint !== fingerprint) {
        return send(response, { status: 422, body: { error: `delivery id ${deliveryId} was already used for another request` } });
      }
      return send(response, await earlier.answer, { 'idempotent-replayed': 'true' });
    }
    const answer = write(method, id, rawBody);
    remembered.set(deliveryId, { fingerprint, answer });
    // A write that broke is not an answer to replay: the sender's retry gets a fresh try.
    answer.catch(() => remembered.delete(deliveryId));
    if (remembered.size > REMEMBERED_DELIVERIES) remembered.delete(remembered.keys().next().value as string);
    return send(response, await answer);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, { status: 500, body: { error: (error as Error).message } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    documents: () => index.all(),
    search: (query) => index.search(query),
    failNext(count, status = 503) {
      faults = { count, status };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** `null` for the collection, the id for one document, `undefined` for any other path. */
function documentId(pathname: string): string | null | undefined {
  if (pathname === DOCUMENTS_PATH || pathname === `${DOCUMENTS_PATH}/`) return null;
  if (!pathname.startsWith(`${DOCUMENTS_PATH}/`)) return undefined;
  const segment = pathname.slice(DOCUMENTS_PATH.length + 1);
  if (segment === '' || segment.includes('/')) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined; // malformed percent-encoding: no such document path
  }
}

function notFound(id: string): Answer {
  return { status: 404, body: { error: `no document with _id ${JSON.stringify(id)}` } };
}

function header(request: IncomingMessage, name: string): string {
  const value = request.headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

async function readBody(request: IncomingMessage, maxBytes: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, answer: Answer, headers: Record<string, string> = {}): void {
  if (answer.body === null) {
    response.writeHead(answer.status, headers).end();
    return;
  }
  const text = JSON.stringify(answer.body);
  response
    .writeHead(answer.status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    .end(text);
}
