// Visibility through createProvisioner, against a real loopback receiver: a record without
// `access` is not sent by default (skipped, restricted, with a message that says what to do),
// it is sent when the app's isPublic says yes, and the skipped outcome's detail reaches the
// other instances of a Redis store.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createProvisioner, defineConfig, type AppRecord, type DeliveryOutcome, type SkippedOutcome } from '../../src/index.js';
import { encodeEvent } from '../../src/store/codec.js';
import { outcomeOfWire, wireOutcome } from '../../src/store/redisWire.js';
import { rdmRecord } from '../helpers/factories.js';
import { collect } from '../helpers/outcomes.js';
import { answerJson, type Receiver, startReceiver } from '../helpers/receiver.js';

const identity = { id: 7 };
const servers: Receiver[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** The fixture record with its own id and without `access`: an app whose records keep visibility elsewhere. */
function recordWithoutAccess(id: string, extra: Record<string, unknown> = {}): AppRecord {
  const { access: _access, ...rest } = rdmRecord({ id });
  return { ...rest, ...extra };
}

async function setUp(options: { readonly isPublic?: (input: { readonly record: AppRecord | null }) => boolean } = {}) {
  const remote = await startReceiver((_request, response) => answerJson(response, 201, { _id: 'remote' }));
  servers.push(remote);
  const provisioner = createProvisioner({
    events: defineConfig({ rdm_record: { [remote.url('/documents')]: { publish: { http_method: 'POST', payload: ({ record }) => ({ id: String(record?.id) }) } } } }),
    ...(options.isPublic !== undefined ? { isPublic: options.isPublic } : {}),
  });
  cleanups.push(() => provisioner.close());
  return { remote, provisioner, outcomes: collect(provisioner).outcomes };
}

describe('visibility through createProvisioner', () => {
  it('does not send a record without access by default: skipped, restricted, with a message naming the field and the ways to configure', async () => {
    const { remote, provisioner, outcomes } = await setUp();
    provisioner.hooks('rdm_record').publish({ identity, record: recordWithoutAccess('hidden-1') });
    await provisioner.drain();
    expect(remote.requests).toHaveLength(0);
    expect(outcomes).toHaveLength(1);
    const [outcome] = outcomes as [DeliveryOutcome];
    expect(outcome).toMatchObject({ kind: 'skipped', reason: 'restricted' });
    const detail = (outcome as SkippedOutcome).detail ?? '';
    expect(detail).toMatch(/record hidden-1 is not public: its visibility cannot be read \(record has no access field; expected access\.record to be "public"\)/);
    expect(detail).toContain('include_restricted: true');
    expect(detail).toContain('isPublic');
  });

  it('sends it when the isPublic option says yes, and only then', async () => {
    const { remote, provisioner, outcomes } = await setUp({ isPublic: ({ record }) => record?.['listed'] === true });
    provisioner.hooks('rdm_record').publish({ identity, record: recordWithoutAccess('listed-1', { listed: true }) });
    provisioner.hooks('rdm_record').publish({ identity, record: recordWithoutAccess('unlisted-1', { listed: false }) });
    await provisioner.drain();
    expect(remote.requests.map((request) => JSON.parse(request.body) as unknown)).toEqual([{ id: 'listed-1' }]);
    expect(outcomes.map((outcome) => `${outcome.kind} ${String(outcome.event.recordId)}`).sort()).toEqual(['delivered listed-1', 'skipped unlisted-1']);
  });

  it('sends a record with access.record "public" by default', async () => {
    const { remote, provisioner } = await setUp();
    provisioner.hooks('rdm_record').publish({ identity, record: rdmRecord({ id: 'open-1', access: { record: 'public' } }) });
    await provisioner.drain();
    expect(remote.requests).toHaveLength(1);
  });

  it('rejects an isPublic that is not a function', () => {
    const events = defineConfig({ rdm_record: { 'https://search.example.org/api': { publish: { http_method: 'POST', payload: null } } } });
    expect(() => createProvisioner({ events, isPublic: true as never })).toThrow(ConfigError);
    expect(() => createProvisioner({ events, isPublic: true as never })).toThrow('isPublic: expected a function ({ serviceType, record, draft }) => boolean, got boolean');
  });

  it('keeps the detail of a skipped outcome on the Redis outcome stream', () => {
    const event = { eventId: 'e1', serviceType: 'rdm_record', method: 'publish', args: { identity, record: recordWithoutAccess('r1') }, recordId: 'r1', draftId: null, emittedAt: 1, causedBy: null } as const;
    const skipped: SkippedOutcome = { kind: 'skipped', event, endpoint: 'https://x.org/api', reason: 'restricted', detail: 'record r1 is not public', acceptedAt: 1, settledAt: 2 };
    const wire = JSON.parse(JSON.stringify(wireOutcome('instance-1', 'd1', skipped, encodeEvent(event).toString('base64'))));
    expect(outcomeOfWire(wire)).toMatchObject({ kind: 'skipped', reason: 'restricted', detail: 'record r1 is not public' });
  });
});
