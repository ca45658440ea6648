// A real HTTP server on 127.0.0.1 (port 0) that records every request it receives.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Observable } from 'rxjs';
import type { CallbackOutcome, DeliveryOutcome } from '../../src/index.js';

export type Received = {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
};

export type Handler = (request: Received, response: ServerResponse) => void | Promise<void>;

export type Loopback = {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly received: Received[];
  close(): Promise<void>;
};

/** Answers `status` with a JSON body (or none for 204 and 3xx). */
export function reply(response: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (body === undefined) {
    response.writeHead(status, headers).end();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

export async function startLoopback(handler: Handler): Promise<Loopback> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry: Received = {
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(entry);
      Promise.resolve(handler(entry, response)).catch((error: unknown) => {
        response.writeHead(500).end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port just freed). */
export async function deadUrl(): Promise<string> {
  const server = await startLoopback(() => undefined);
  await server.close();
  return server.url;
}

/** Collects a provisioner's outcomes and callback outcomes, and whether the streams completed. */
export function collect<R>(provisioner: { readonly outcomes$: Observable<DeliveryOutcome<R>>; readonly callbacks$: Observable<CallbackOutcome<R>> }): {
  readonly outcomes: DeliveryOutcome<R>[];
  readonly callbacks: CallbackOutcome<R>[];
  readonly completed: { outcomes: boolean; callbacks: boolean };
} {
  const outcomes: DeliveryOutcome<R>[] = [];
  const callbacks: CallbackOutcome<R>[] = [];
  const completed = { outcomes: false, callbacks: false };
  provisioner.outcomes$.subscribe({ next: (outcome) => outcomes.push(outcome), complete: () => (completed.outcomes = true) });
  provisioner.callbacks$.subscribe({ next: (outcome) => callbacks.push(outcome), complete: () => (completed.callbacks = true) });
  return { outcomes, callbacks, completed };
}

/** `kind` or `kind reason` of an outcome. */
export function kindOf(outcome: DeliveryOutcome<unknown>): string {
  return outcome.kind === 'delivered' ? 'delivered' : `${outcome.kind} ${outcome.reason}`;
}

/** How many outcomes of each `kindOf`. */
export function tally(outcomes: readonly DeliveryOutcome<unknown>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[kindOf(outcome)] = (counts[kindOf(outcome)] ?? 0) + 1;
  return counts;
}
