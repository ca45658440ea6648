// PostgreSQL for the store tests: the real server (127.0.0.1:5432 here and in CI; DATABASE_URL
// overrides), a schema of its own per test run, dropped afterwards.
import pg from 'pg';

export const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Fails with a clear message when PostgreSQL does not answer: these tests need it, they are not skipped. */
export async function assertPostgresReachable(): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `Expected PostgreSQL at ${DATABASE_URL.replace(/\/\/[^@/]*@/, '//')} for the PostgreSQL store tests (start postgres, or set DATABASE_URL), but it did not answer: ${error instanceof Error ? error.message : String(error)}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A schema name no other test run uses. */
export function uniqueSchema(): string {
  return `rap_test_${process.pid.toString(36)}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
}

/** Runs `sql` once on its own connection. */
export async function query<T extends object = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Drops `schema` and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  await query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}
