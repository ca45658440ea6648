import { afterEach, describe, expect, it } from 'vitest';
import {
  METHOD_TABLES,
  REQUIRED_ARGUMENTS,
  SERVICE_TYPES,
  createHooks,
  createProvisioner,
  createUnitOfWork,
  defineConfig,
  methodsOf,
  recordUrl,
  type DeliveryOutcome,
  type HookRejection,
  type ServiceEvent,
} from '../../src/index.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { community, identity, rdmRecord } from '../helpers/factories.js';

const servers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A receiver that answers 204 to everything, as a lenient search service does. */
async function receiver(): Promise<Receiver> {
  const server = await startReceiver((_request, response) => response.writeHead(204).end());
  servers.push(server);
  return server;
}

describe('required hook arguments', () => {
  it('name, in every row of the tables, only arguments the method passes', () => {
    for (const service of SERVICE_TYPES) {
      expect(Object.keys(REQUIRED_ARGUMENTS[service]).sort()).toEqual([...methodsOf(service)].sort());
      for (const method of methodsOf(service)) {
        const row = (METHOD_TABLES[service] as Record<string, readonly string[]>)[method] ?? [];
        const required = (REQUIRED_ARGUMENTS[service] as Record<string, readonly string[]>)[method] ?? [];
        expect(required[0]).toBe('identity');
        for (const name of required) expect(row).toContain(name);
      }
    }
  });

  it('end delete_record({ identity }) in a payload failure naming the record, with nothing sent', async () => {
    const server = await receiver();
    const documents = `${server.origin}/api/v1/documents`;
    const events = defineConfig({
      rdm_record: {
        [documents]: {
          // The documented pattern: without the hook's check this sent DELETE /api/v1/documents/undefined.
          delete_record: { http_method: 'DELETE', payload: null, url_factory: (record) => recordUrl(documents, String(record.id)) },
        },
      },
    });
    const provisioner = createProvisioner({ events });
    const outcomes: DeliveryOutcome[] = [];
    provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));

    provisioner.hooks('rdm_record').delete_record({ identity } as never);
    await provisioner.drain();
    await provisioner.close();

    expect(outcomes).toHaveLength(1);
    const [outcome] = outcomes;
    expect(outcome?.kind).toBe('failed');
    if (outcome?.kind !== 'failed') return;
    expect(outcome.reason).toBe('payload');
    expect(outcome.error.message).toBe('delete_record: expected args.record, got undefined');
    expect(outcome.event.method).toBe('delete_record');
    expect(server.requests).toEqual([]);
  });

  it('fail every endpoint of the event, and only when its unit of work commits', async () => {
    const server = await receiver();
    const events = defineConfig({
      community: {
        [`${server.origin}/a`]: { rename: { http_method: 'PUT', payload: ({ slug }) => ({ slug }) } },
        [`${server.origin}/b`]: { rename: { http_method: 'PUT', payload: null } },
      },
    });
    const provisioner = createProvisioner({ events });
    const outcomes: DeliveryOutcome[] = [];
    provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));

    const rolledBack = createUnitOfWork();
    provisioner.hooks('community').rename({ identity, record: community(), slug: 'roman-history', old_slug: null, uow: rolledBack } as never);
    rolledBack.rollback();
    const committed = createUnitOfWork();
    provisioner.hooks('community').rename({ identity, record: community(), slug: 'roman-history', old_slug: null, uow: committed } as never);
    await provisioner.drain();
    expect(outcomes).toEqual([]);
    committed.commit();
    await provisioner.drain();
    await provisioner.close();

    expect(outcomes.map((outcome) => [outcome.kind, outcome.kind === 'failed' ? outcome.reason : null])).toEqual([
      ['failed', 'payload'],
      ['failed', 'payload'],
    ]);
    for (const outcome of outcomes) {
      if (outcome.kind === 'failed') expect(outcome.error.message).toBe('rename: expected args.old_slug, got null');
    }
    expect(server.requests).toEqual([]);
  });

  it('reject through onRejected with kind arguments, naming each missing argument', () => {
    const emitted: ServiceEvent[] = [];
    const rejections: HookRejection[] = [];
    const hooks = createHooks('rdm_record', (event) => emitted.push(event), { onRejected: (rejection) => rejections.push(rejection) });
    (hooks.read_draft as (args: unknown) => void)({ record: rdmRecord() });
    hooks.delete_draft({ identity, draft: rdmRecord() });

    expect(emitted.map((event) => event.method)).toEqual(['delete_draft']);
    expect(rejections.map((rejection) => [rejection.kind, rejection.event.method, rejection.error.message])).toEqual([
      ['arguments', 'read_draft', 'read_draft: expected args.identity, got undefined; expected args.draft, got undefined'],
    ]);
  });
});

describe('recordUrl', () => {
  it.each([undefined, null, 'undefined', 'null', ''])('refuses %j as an id', (id) => {
    expect(() => recordUrl('https://search.example.org/api/v1/documents', id)).toThrow(/Expected path segment 1 of recordUrl to be/);
  });
});
