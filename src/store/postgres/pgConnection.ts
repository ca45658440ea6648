/**
 * The PostgreSQL store's connections: pg-boss's database adapter over the pool the store
 * queries through (the app's, or one of its own), and one listening connection for
 * LISTEN/NOTIFY that reconnects on its own.
 * @internal
 * @packageDocumentation
 */
import type { Db as BossDb } from 'pg-boss';
import type { Pool, PoolClient } from 'pg';
import { logger } from '../../util/log.js';

const log = logger('delivery');

type Subscription = { readonly channel: string; readonly onNotification: (payload: string) => void; readonly onReconnect: () => void };

/**
 * One connection held out of the pool for LISTEN. When it breaks it is replaced after a short
 * pause, every channel is listened to again, and each subscriber's `onReconnect` runs, so it
 * reads what it may have missed from the tables.
 * @internal
 */
export class PgListener {
  readonly #pool: Pool;
  readonly #subscriptions: Subscription[] = [];
  #client: PoolClient | null = null;
  #connecting: Promise<void> | null = null;
  #closed = false;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  async listen(channel: string, onNotification: (payload: string) => void, onReconnect: () => void): Promise<{ close(): Promise<void> }> {
    const subscription = { channel, onNotification, onReconnect };
    this.#subscriptions.push(subscription);
    if (this.#client === null) await this.#connect();
    else await this.#client.query(`LISTEN ${quoteIdentifier(channel)}`);
    onReconnect();
    return {
      close: async () => {
        const index = this.#subscriptions.indexOf(subscription);
        if (index >= 0) this.#subscriptions.splice(index, 1);
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = null;
    if (client !== null) {
      client.removeAllListeners('notification');
      client.release();
    }
  }

  #connect(): Promise<void> {
    this.#connecting ??= (async () => {
      try {
        const client = await this.#pool.connect();
        client.on('notification', (message: { channel: string; payload?: string | undefined }) => {
          for (const subscription of this.#subscriptions) if (subscription.channel === message.channel) subscription.onNotification(message.payload ?? '');
        });
        client.on('error', (error: Error) => this.#lost(client, error));
        for (const channel of new Set(this.#subscriptions.map((subscription) => subscription.channel))) await client.query(`LISTEN ${quoteIdentifier(channel)}`);
        if (this.#closed) {
          client.release();
          return;
        }
        this.#client = client;
      } finally {
        this.#connecting = null;
      }
    })();
    return this.#connecting;
  }

  #lost(client: PoolClient, error: Error): void {
    if (this.#client !== client) return;
    log('store (postgres): listening connection lost, reconnecting: %s', error.message);
    this.#client = null;
    client.release(error);
    const retry = (): void => {
      if (this.#closed) return;
      this.#connect().then(
        () => {
          for (const subscription of this.#subscriptions) subscription.onReconnect();
        },
        (reconnectError: unknown) => {
          log('store (postgres): could not listen again: %s', reconnectError instanceof Error ? reconnectError.message : String(reconnectError));
          setTimeout(retry, 1_000).unref();
        },
      );
    };
    setTimeout(retry, 250).unref();
  }
}

/** pg-boss's database adapter over a pool. @internal */
export function bossDatabase(pool: Pool): BossDb {
  return { executeSql: (text, values) => pool.query(text, values as unknown[]) };
}

/** `name` as a quoted SQL identifier. @internal */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
