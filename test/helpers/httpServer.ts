/**
 * An in-process node:http server on 127.0.0.1, port 0, for delivery tests: every request is
 * recorded with its full body before the test's handler answers it.
 *
 * @internal test helper
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A request as the server saw it. */
export type RecordedRequest = {
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
};

/** Answers one recorded request; `raw` is there to watch `close` or destroy the socket. */
export type Handler = (request: RecordedRequest, response: ServerResponse, raw: IncomingMessage) => void;

export type TestHttpServer = {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  url(path: string): string;
  /** Every request so far, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Closes the server and every open connection. */
  close(): Promise<void>;
};

/** Starts a loopback server that answers with `handler`. */
export async function startHttpServer(handler: Handler): Promise<TestHttpServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((raw: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => chunks.push(chunk));
    raw.on('end', () => {
      const request: RecordedRequest = {
        method: raw.method ?? '',
        path: raw.url ?? '',
        headers: { ...raw.headers },
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      handler(request, response, raw);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error(`Expected a TCP address, got ${String(address)}`);
  }
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    origin,
    url: (path) => `${origin}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Answers with a JSON body. */
export function answerJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}
