// A TCP proxy on 127.0.0.1 in front of a real server (Redis, say), that a test can cut: every
// connection through it is dropped and new ones are refused, as in an outage of the server.
import { createConnection, createServer, type Socket } from 'node:net';

export type TcpProxy = {
  /** The proxied URL: `target` with the proxy's host and port. */
  readonly url: string;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
};

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const server = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(server).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('Expected the proxy to listen on a TCP port');
  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  return {
    url: url.href,
    cut: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
