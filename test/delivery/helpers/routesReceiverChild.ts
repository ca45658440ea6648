/**
 * The receiving API of the delivery tests, run in its own process (`forkReceiver`): the
 * shared receiver with these routes. It reports every request, and what happened to the
 * responses, to the test. Routes:
 *
 * - `/json`: 200 with a JSON body (`{ ok: true, method }`);
 * - `/status/<code>`: that status; a 3xx points `Location` at `/json`; 204 has no body;
 * - `/flaky/<failures>/<status>?retryAfter=<value>`: the first `<failures>` requests with the
 *   same `Idempotency-Key` get `<status>` (with `Retry-After` when given), later ones 200;
 * - `/verify/<failures>`: verifies the Standard Webhooks signature with each secret of
 *   `RECEIVER_SECRETS` (JSON list) using the `standardwebhooks` package: 401 naming the first
 *   secret that does not verify; otherwise the first `<failures>` requests with the same
 *   `webhook-id` get 503 and later ones 204;
 * - `/text`: 200 `text/plain`; `/empty`: 200 JSON-typed with an empty body;
 * - `/reset`: destroys the connection without answering;
 * - `/big/<bytes>?paceMs=<ms>`: a JSON-typed body of that many bytes, 64 KiB at a time with
 *   backpressure and `<ms>` between chunks (like a slow server: kernel buffers cannot absorb
 *   it all at once); reports how much was written and whether it finished (`big-done`);
 * - `/hang`: never answers; reports `closed` when the client gives up.
 *
 * @internal test helper
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { answerJson as json, headerValue as header, startReceiver, type RecordedRequest } from '../../helpers/receiver.js';
import { report, serveOverIpc } from '../../helpers/receiverProcess.js';

/** A request as the receiver saw it. */
export type ReceivedRequest = RecordedRequest & { readonly type: 'request' };

/** What the receiver reports. */
export type ReceiverEvent =
  | ReceivedRequest
  | { readonly type: 'closed'; readonly path: string }
  | { readonly type: 'big-done'; readonly path: string; readonly written: number; readonly finished: boolean };

const secrets = JSON.parse(process.env['RECEIVER_SECRETS'] ?? '[]') as string[];
const attemptsByKey = new Map<string, number>();
const CHUNK = Buffer.alloc(64 * 1024, 0x20);

function verify(raw: IncomingMessage, body: string, failures: number, response: ServerResponse): void {
  const headers: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    headers[name] = header(raw, name) ?? '';
  }
  for (const [index, secret] of secrets.entries()) {
    try {
      new Webhook(secret).verify(body, headers);
    } catch (error) {
      response.writeHead(401, { 'content-type': 'text/plain' });
      response.end(`secret #${index}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
  }
  const key = `verify|${headers['webhook-id'] ?? ''}`;
  const attempt = (attemptsByKey.get(key) ?? 0) + 1;
  attemptsByKey.set(key, attempt);
  response.writeHead(attempt <= failures ? 503 : 204);
  response.end();
}

function big(size: number, paceMs: number, raw: IncomingMessage, response: ServerResponse): void {
  let written = 0;
  let finished = false;
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(size) });
  response.on('close', () => {
    report({ type: 'big-done', path: raw.url ?? '', written, finished });
  });
  response.on('finish', () => {
    finished = true;
  });
  const pump = (): void => {
    if (response.destroyed) return;
    if (written >= size) {
      response.end();
      return;
    }
    const chunk = size - written >= CHUNK.length ? CHUNK : CHUNK.subarray(0, size - written);
    written += chunk.length;
    const next = (): void => void setTimeout(pump, paceMs);
    if (response.write(chunk)) next();
    else response.once('drain', next);
  };
  pump();
}

function route(request: RecordedRequest, response: ServerResponse, raw: IncomingMessage): void {
  const url = new URL(request.path || '/', 'http://receiver');
  const parts = url.pathname.split('/').filter((part) => part !== '');
  switch (parts[0]) {
    case 'json':
      return json(response, 200, { ok: true, method: request.method });
    case 'status': {
      const status = Number(parts[1]);
      if (status >= 300 && status <= 399) return json(response, status, { status }, { location: '/json' });
      if (status === 204 || status === 304) {
        response.writeHead(status);
        return void response.end();
      }
      return json(response, status, { status });
    }
    case 'flaky': {
      const key = `${url.pathname}|${header(raw, 'idempotency-key') ?? ''}`;
      const attempt = (attemptsByKey.get(key) ?? 0) + 1;
      attemptsByKey.set(key, attempt);
      if (attempt <= Number(parts[1])) {
        const retryAfter = url.searchParams.get('retryAfter');
        return json(response, Number(parts[2]), { attempt }, retryAfter === null ? {} : { 'retry-after': retryAfter });
      }
      return json(response, 200, { attempt });
    }
    case 'verify':
      return verify(raw, request.body, Number(parts[1] ?? 0), response);
    case 'text':
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return void response.end('indexed');
    case 'empty':
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
      return void response.end();
    case 'reset':
      return void raw.socket.destroy();
    case 'big':
      return big(Number(parts[1]), Number(url.searchParams.get('paceMs') ?? 0), raw, response);
    case 'hang':
      return void response.on('close', () => report({ type: 'closed', path: request.path } satisfies ReceiverEvent));
    default:
      return json(response, 404, { error: `no route ${url.pathname}` });
  }
}

const receiver = await startReceiver({ handler: route, onRequest: (request) => report({ type: 'request', ...request } satisfies ReceiverEvent) });
serveOverIpc(receiver);
