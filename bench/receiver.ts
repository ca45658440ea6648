/**
 * The receiving API of the benchmark, run in its own process (forked by `receiverProcess.ts`)
 * so that its CPU is not counted as the client's. It listens on 127.0.0.1, port 0, and its
 * behaviour is scripted over IPC:
 *
 * - `healthy`: reads the body and answers 200 with a small JSON body;
 * - `stalled`: reads the body and holds the response until the mode changes (then answers 200);
 * - `flaky`:   answers 503 to every second request, 200 to the others.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export type ReceiverMode = 'healthy' | 'stalled' | 'flaky';

export type ReceiverStats = {
  readonly requests: number;
  readonly ok: number;
  readonly unavailable: number;
  readonly held: number;
  readonly bodyBytes: number;
  /** CPU of the receiver process since it started (µs). */
  readonly cpuUs: number;
};

export type ReceiverCommand = { readonly id: number; readonly mode?: ReceiverMode };
export type ReceiverMessage =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'ack'; readonly id: number; readonly stats: ReceiverStats };

const OK_BODY = JSON.stringify({ id: 'remote-2E9SqY0Bdd2QL', status: 'indexed' });
const UNAVAILABLE_BODY = JSON.stringify({ error: 'temporarily unavailable' });

let mode: ReceiverMode = 'healthy';
let sequence = 0;
let held: ServerResponse[] = [];
const counts = { requests: 0, ok: 0, unavailable: 0, bodyBytes: 0 };

function answer(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

function respond(response: ServerResponse): void {
  counts.requests += 1;
  if (mode === 'stalled') {
    held.push(response);
    return;
  }
  sequence += 1;
  if (mode === 'flaky' && sequence % 2 === 0) {
    counts.unavailable += 1;
    answer(response, 503, UNAVAILABLE_BODY);
    return;
  }
  counts.ok += 1;
  answer(response, 200, OK_BODY);
}

const server = createServer({ keepAliveTimeout: 120_000 }, (request: IncomingMessage, response: ServerResponse) => {
  request.on('data', (chunk: Buffer) => {
    counts.bodyBytes += chunk.length;
  });
  request.on('end', () => respond(response));
});
// Keep connections open across rounds: a server closing an idle keep-alive socket while a
// client reuses it would show up as network errors that are not the client's doing.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.requestTimeout = 0;

function setMode(next: ReceiverMode): void {
  mode = next;
  if (next !== 'stalled') {
    const release = held;
    held = [];
    for (const response of release) {
      counts.ok += 1;
      answer(response, 200, OK_BODY);
    }
  }
}

function stats(): ReceiverStats {
  const cpu = process.cpuUsage();
  return { ...counts, held: held.length, cpuUs: cpu.user + cpu.system };
}

function send(message: ReceiverMessage): void {
  process.send?.(message);
}

process.on('message', (command: ReceiverCommand) => {
  if (command.mode !== undefined) setMode(command.mode);
  send({ type: 'ack', id: command.id, stats: stats() });
});
process.on('disconnect', () => {
  server.closeAllConnections();
  server.close();
  process.exit(0);
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`Expected a TCP address, got ${String(address)}`);
  send({ type: 'ready', port: address.port });
});
