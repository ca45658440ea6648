/**
 * The test data every suite builds on (unit, fault, store and app-process tests): records and
 * communities from the shared fixtures in `test/fixtures` (InvenioRDM 12 shapes), service
 * events as the hooks make them, request descriptors and outcomes. Every call returns a fresh
 * object, so a test may change what it gets.
 *
 * @internal test helper
 */
import { readFileSync } from 'node:fs';
import { createHooks } from '../../src/index.js';
import type {
  AppRecord,
  DeliveredOutcome,
  EventCause,
  Identity,
  JsonObject,
  ProvisionerConfig,
  ProvisionerResponse,
  RequestDescriptor,
  ServiceEvent,
} from '../../src/index.js';

const read = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const RDM_RECORD = read('rdm-record.json') as RdmRecord;
const COMMUNITY = read('community.json') as Community;

// ---------------------------------------------------------------------------------------------
// Records

/** A published RDM record, as the record service passes it. */
export type RdmRecord = AppRecord & {
  id: string;
  metadata: { title: string; [key: string]: unknown };
  parent: { id: string; [key: string]: unknown };
  access: { record: string; [key: string]: unknown };
};

/** A community, as the community service passes it. */
export type Community = AppRecord & { id: string; slug: string; metadata: { title: string; [key: string]: unknown } };

/** A record of the fixture's shape with its own id and revision (the order tests check revisions per record). */
export type TestRecord = RdmRecord & { readonly revision_id: number };

/** A fresh copy of the published record fixture, with fields changed by `patch`. */
export function rdmRecord(patch: Readonly<Record<string, unknown>> = {}): RdmRecord {
  return { ...structuredClone(RDM_RECORD), ...patch };
}

/** A fresh copy of the community fixture, with fields changed by `patch`. */
export function community(patch: Readonly<Record<string, unknown>> = {}): Community {
  return { ...structuredClone(COMMUNITY), ...patch };
}

/** The record fixture as record `id` at `revision` (other fields changed by `patch`). */
export function recordAt(id: string, revision: number, patch: Readonly<Record<string, unknown>> = {}): TestRecord {
  return rdmRecord({ id, revision_id: revision, ...patch }) as TestRecord;
}

/** The user who performs the operations in the tests. */
export const identity: Identity = { id: 7, email: 'troy@example.org' };

// ---------------------------------------------------------------------------------------------
// Service events

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

let eventCounter = 0;
/** Event ids unique to this process and run, so that events of two runs never share a store key. */
const RUN = `t${process.pid.toString(36)}${Date.now().toString(36)}`;

/**
 * A service event of `method` on `record` (default: the fixture record) built by hand, as the
 * hooks make it, for tests that must not depend on the hooks.
 */
export function serviceEvent(input: EventInput): ServiceEvent {
  eventCounter += 1;
  const record = input.record === undefined ? rdmRecord() : input.record;
  const draft = input.draft ?? null;
  const idOf = (value: AppRecord | null): string | null => (value?.id === undefined || value.id === null ? null : String(value.id));
  return {
    eventId: input.eventId ?? `event-${eventCounter}`,
    serviceType: input.serviceType ?? 'rdm_record',
    method: input.method,
    args: { identity, record, ...(draft === null ? {} : { draft }), ...input.args },
    recordId: idOf(record),
    draftId: idOf(draft),
    emittedAt: input.emittedAt ?? 0,
    causedBy: input.causedBy ?? null,
    ...(input.snapshotError === undefined ? {} : { snapshotError: input.snapshotError }),
  } as ServiceEvent;
}

/**
 * A `publish` event of record `recordId` at `revision`, with an event id unique to this run.
 * The record keeps the fixture's other fields, and a Date (to check that stored events come
 * back with their types).
 */
export function publishEvent(recordId: string, revision: number, options: { readonly eventId?: string; readonly emittedAt?: number } = {}): ServiceEvent {
  eventCounter += 1;
  return serviceEvent({
    eventId: options.eventId ?? `${RUN}-${eventCounter}`,
    method: 'publish',
    record: recordAt(recordId, revision, { indexed_at: new Date(1_767_000_000_000 + revision) }),
    emittedAt: options.emittedAt ?? Date.now(),
  });
}

/** The record and revision an event was made for (see {@link publishEvent}). */
export function revisionOf(event: ServiceEvent): { readonly recordId: string; readonly revision: number } {
  const record = (event.args as { readonly record?: AppRecord }).record;
  return { recordId: String(record?.id), revision: Number(record?.['revision_id']) };
}

/** One real event of each kind the operator specs use, made by real hooks. */
export function sampleEvents<R = AppRecord>(): {
  readonly publish: ServiceEvent<R>;
  readonly newVersion: ServiceEvent<R>;
  readonly updateDraft: ServiceEvent<R>;
  readonly deleteRecord: ServiceEvent<R>;
  readonly rdmCreate: ServiceEvent<R>;
  readonly rename: ServiceEvent<R>;
  readonly communityCreate: ServiceEvent<R>;
  readonly deleteCommunity: ServiceEvent<R>;
} {
  const made: ServiceEvent<R>[] = [];
  const emit = (event: ServiceEvent<R>): void => {
    made.push(event);
  };
  const rdm = createHooks<'rdm_record', R>('rdm_record', emit);
  const communities = createHooks<'community', R>('community', emit);
  const record = rdmRecord() as R;
  const group = community() as R;
  rdm.publish({ identity, record, draft: record });
  rdm.new_version({ identity, record, draft: record });
  rdm.update_draft({ identity, record, data: { metadata: { title: 'Draft title' } } });
  rdm.delete_record({ identity, record, data: { removal_reason: 'spam' } });
  rdm.create({ identity, record, data: {} });
  communities.rename({ identity, record: group, old_slug: 'roman-households', slug: 'roman-homes' });
  communities.create({ identity, record: group, data: {} });
  communities.delete_community({ identity, record: group, data: {} });
  const [publish, newVersion, updateDraft, deleteRecord, rdmCreate, rename, communityCreate, deleteCommunity] = made;
  if (deleteCommunity === undefined || publish === undefined || newVersion === undefined || updateDraft === undefined
    || deleteRecord === undefined || rdmCreate === undefined || rename === undefined || communityCreate === undefined) {
    throw new Error(`Expected 8 sample events, got ${made.length}`);
  }
  return { publish, newVersion, updateDraft, deleteRecord, rdmCreate, rename, communityCreate, deleteCommunity };
}

// ---------------------------------------------------------------------------------------------
// Requests and outcomes

const FIXTURE_RECORD = rdmRecord();

/** The document a search service would index for the fixture record. */
export const recordDocument: JsonObject = { id: FIXTURE_RECORD.id, title: FIXTURE_RECORD.metadata.title, kind: 'rdm_record' };

let requestCounter = 0;

/** A POST of {@link recordDocument} to `url`, serialized once (as the pipeline does), with a fresh delivery id unless given. */
export function deliveryRequest(url: string, overrides: Partial<RequestDescriptor> = {}): RequestDescriptor {
  requestCounter += 1;
  const deliveryId = overrides.deliveryId ?? `delivery-${requestCounter}`;
  const payload = overrides.payload === undefined ? recordDocument : overrides.payload;
  const body = overrides.body === undefined ? (payload === null ? null : JSON.stringify(payload)) : overrides.body;
  return {
    deliveryId,
    eventId: `event-${requestCounter}`,
    serviceType: 'rdm_record',
    serviceMethod: 'publish',
    endpoint: url,
    url,
    method: 'POST',
    headers: {
      ...(body === null ? {} : { 'content-type': 'application/json' }),
      'idempotency-key': deliveryId,
      authorization: 'Bearer s3cret-token',
    },
    payload,
    body,
    recordId: FIXTURE_RECORD.id,
    draftId: null,
    ...overrides,
  };
}

/** A 2xx response to `request` whose body names the remote id the receiver gave it. */
export function okResponse(request: RequestDescriptor, status = 201): ProvisionerResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: { _id: `remote-${request.deliveryId}` }, url: request.url };
}

/** The delivered outcome of `request` (event: the fixture record's publish), fields changed by `overrides`. */
export function deliveredOutcome(request: RequestDescriptor, overrides: Partial<DeliveredOutcome> = {}): DeliveredOutcome {
  return {
    kind: 'delivered',
    event: serviceEvent({ eventId: request.eventId, method: request.serviceMethod }),
    endpoint: request.endpoint,
    request,
    response: okResponse(request),
    attempts: 1,
    acceptedAt: 0,
    settledAt: 0,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------
// Configs

/**
 * The app-process tests' config: every `publish` is POSTed to `url` with the record's id and
 * revision (what the receiver checks order and duplicates with), a token, and retries enough
 * to outlast a crash; `callback` runs once per delivered request.
 */
export function revisionConfig(url: string, callback: () => void): ProvisionerConfig {
  return {
    rdm_record: {
      [url]: {
        publish: {
          http_method: 'POST',
          payload: ({ record }: { readonly record?: AppRecord | null }) => ({ id: String(record?.id), revision_id: Number(record?.['revision_id']) }),
          callback,
          auth_token: 'tok_crash_test',
          retry: { limit: 1_000, baseDelayMs: 20, maxDelayMs: 50 },
        },
      },
    },
  } as unknown as ProvisionerConfig;
}
