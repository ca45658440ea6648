// Service events for the store tests, as the hooks make them: copies of the shared record
// fixture with their own id and revision, so a receiver can check order per record.
import { readFileSync } from 'node:fs';
import type { AppRecord, ServiceEvent } from '../../../src/index.js';

const FIXTURE = readFileSync(new URL('../../fixtures/rdm-record.json', import.meta.url), 'utf8');

let counter = 0;
const RUN = `t${process.pid.toString(36)}${Date.now().toString(36)}`;

/**
 * A `publish` event of record `recordId` at `revision`. The record keeps the fixture's other
 * fields, and a Date (to check that stored events come back with their types).
 */
export function publishEvent(recordId: string, revision: number, options: { readonly eventId?: string; readonly emittedAt?: number } = {}): ServiceEvent {
  counter += 1;
  const record: AppRecord = { ...(JSON.parse(FIXTURE) as AppRecord), id: recordId, revision_id: revision, indexed_at: new Date(1_767_000_000_000 + revision) };
  return {
    eventId: options.eventId ?? `${RUN}-${counter}`,
    serviceType: 'rdm_record',
    method: 'publish',
    args: { identity: { id: 7 }, record },
    recordId,
    draftId: null,
    emittedAt: options.emittedAt ?? Date.now(),
    causedBy: null,
  } as ServiceEvent;
}

/** The record and revision a test event was made for. */
export function revisionOf(event: ServiceEvent): { readonly recordId: string; readonly revision: number } {
  const record = (event.args as { readonly record?: AppRecord }).record;
  return { recordId: String(record?.id), revision: Number(record?.['revision_id']) };
}
