/**
 * A delivery of the PostgreSQL store sent back to its lane's head for a retry.
 * @internal
 * @packageDocumentation
 */
import type { ProvisionerError } from '../../errors.js';
import type { RequestDescriptor } from '../../events/request.js';
import { encodeError, encodeRequest } from '../codec.js';
import { affectedOf, executorOf, inTransaction, type PostgresContext } from './postgresContext.js';
import type { Claim, JobData } from './postgresJob.js';

/**
 * Back to the head of its lane, due after `delayMs`, in one transaction: the job failed into
 * pg-boss's retry state (the lane stays held meanwhile) and, when the request was planned for
 * this attempt, the request stored, so that every retry sends it. Nothing happens when the
 * claim was lost (another instance took the delivery over).
 * @internal
 */
export async function sendBackForRetry(context: PostgresContext, claim: Claim, data: JobData, planned: RequestDescriptor | null, delayMs: number, error: ProvisionerError): Promise<void> {
  const { boss, queue, schema, pool } = context;
  await inTransaction(pool, async (client) => {
    const db = executorOf(client);
    const failed = await boss.fail(queue, claim, { message: encodeError(error).message }, { db });
    if (affectedOf(failed) === 0) return;
    await boss.update(queue, undefined, { id: claim.id, startAfter: `${Math.max(0, Math.ceil(delayMs))} milliseconds`, db });
    if (planned === null) return;
    const encoded = encodeRequest(planned);
    await client.query(
      `INSERT INTO ${schema}.rap_plan (store, delivery_id, request, stripped) VALUES ($1, $2, $3, $4)
       ON CONFLICT (store, delivery_id) DO UPDATE SET request = EXCLUDED.request, stripped = EXCLUDED.stripped`,
      [queue, data.deliveryId, encoded.json, encoded.stripped],
    );
  });
}
