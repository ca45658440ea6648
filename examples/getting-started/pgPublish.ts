// The record service's publish over PostgreSQL (the `pg` client): the event is sent only
// after COMMIT succeeds, and never for a transaction that rolls back.
import { createUnitOfWork, type Identity, type ServiceHooks } from 'remote-api-provisioner';
import type { Pool } from 'pg';

export type Work = {
  readonly id: string;
  readonly access: { readonly record: 'public' | 'restricted' };
  readonly metadata: { readonly title: string };
};

/** The table this example writes to. */
export const CREATE_WORKS = `CREATE TABLE IF NOT EXISTS works (
  id text PRIMARY KEY,
  title text NOT NULL CHECK (title <> ''),
  access text NOT NULL
)`;

export async function publishWork(pool: Pool, hooks: ServiceHooks<'rdm_record', Work>, identity: Identity, draft: Work): Promise<Work> {
  const client = await pool.connect();
  const uow = createUnitOfWork();
  let record: Work;
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO works (id, title, access) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, access = EXCLUDED.access`,
      [draft.id, draft.metadata.title, draft.access.record],
    );
    record = draft;
    // Registered on the unit of work: nothing is sent yet.
    hooks.publish({ identity, record, draft, uow });
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    uow.rollback(); // the publish event is dropped with the transaction
    throw error;
  } finally {
    client.release();
  }
  uow.commit(); // COMMIT succeeded: run the onCommit callbacks, which send
  return record;
}
