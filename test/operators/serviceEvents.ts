// Service events built by hand, as the hooks emit them, for operator tests that must not
// depend on the hooks. Records are copies of the shared fixtures.
import { readFileSync } from 'node:fs';
import type { AppRecord, EventCause, Identity, ServiceEvent } from '../../src/index.js';

const fixture = (name: string): AppRecord => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as AppRecord;

/** A fresh copy of the published record fixture, with fields changed by `patch`. */
export function rdmRecord(patch: Partial<AppRecord> = {}): AppRecord {
  return { ...fixture('rdm-record.json'), ...patch };
}

/** A fresh copy of the community fixture, with fields changed by `patch`. */
export function community(patch: Partial<AppRecord> = {}): AppRecord {
  return { ...fixture('community.json'), ...patch };
}

export const USER: Identity = { id: 7 };

type EventInput = {
  readonly eventId?: string;
  readonly serviceType?: 'rdm_record' | 'community';
  readonly method: string;
  readonly args?: Readonly<Record<string, unknown>>;
  readonly record?: AppRecord | null;
  readonly draft?: AppRecord | null;
  readonly causedBy?: EventCause | null;
  readonly emittedAt?: number;
  readonly snapshotError?: string;
};

let counter = 0;

/** A service event of `method` on `record` (default: the fixture record), as the hooks make it. */
export function serviceEvent(input: EventInput): ServiceEvent {
  counter += 1;
  const record = input.record === undefined ? rdmRecord() : input.record;
  const draft = input.draft ?? null;
  const idOf = (value: AppRecord | null): string | null => (value?.id === undefined || value.id === null ? null : String(value.id));
  return {
    eventId: input.eventId ?? `event-${counter}`,
    serviceType: input.serviceType ?? 'rdm_record',
    method: input.method,
    args: { identity: USER, record, ...(draft === null ? {} : { draft }), ...input.args },
    recordId: idOf(record),
    draftId: idOf(draft),
    emittedAt: input.emittedAt ?? 0,
    causedBy: input.causedBy ?? null,
    ...(input.snapshotError === undefined ? {} : { snapshotError: input.snapshotError }),
  } as ServiceEvent;
}
