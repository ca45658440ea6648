import { describe, expect, it } from 'vitest';
import {
  ClosedError,
  METHOD_TABLES,
  ProvisionerError,
  SERVICE_TYPES,
  createExecutorUnitOfWork,
  createHooks,
  createUnitOfWork,
  methodsOf,
} from '../../src/index.js';
import type { HookRejection, ServiceEvent, ServiceType, UnitOfWork } from '../../src/index.js';
import { community, identity, rdmRecord } from '../helpers/factories.js';
import type { RdmRecord } from '../helpers/factories.js';

/** Hooks of `service` whose events (and rejections) land in arrays. */
function capture<S extends ServiceType>(service: S, options: Parameters<typeof createHooks<S>>[2] = {}) {
  const events: ServiceEvent[] = [];
  const rejections: HookRejection[] = [];
  const hooks = createHooks(service, (event) => events.push(event), { onRejected: (rejection) => rejections.push(rejection), ...options });
  return { hooks, events, rejections };
}

/** The snapshot of `record` an event carries. */
function recordIn(event: ServiceEvent | undefined): RdmRecord & Record<string, unknown> {
  return (event?.args as Record<string, unknown> | undefined)?.['record'] as RdmRecord & Record<string, unknown>;
}

/** Calls a hook by method name with loosely typed arguments, as plain JavaScript apps do. */
function callHook(hooks: object, method: string, args: unknown): void {
  (hooks as Record<string, (args: unknown) => void>)[method]?.(args);
}

describe('createHooks', () => {
  it.each(SERVICE_TYPES)('gives %s one hook per method of its table, in table order', (service) => {
    const { hooks } = capture(service);
    expect(Object.keys(hooks)).toEqual(methodsOf(service));
    expect(Object.keys(hooks)).toEqual(Object.keys(METHOD_TABLES[service]));
    for (const method of methodsOf(service)) {
      expect(typeof (hooks as Record<string, unknown>)[method]).toBe('function');
    }
  });

  it.each(SERVICE_TYPES)('makes every %s hook emit an event of its own service and method', (service) => {
    const { hooks, events } = capture(service);
    const record = service === 'rdm_record' ? rdmRecord() : community();
    for (const method of methodsOf(service)) {
      callHook(hooks, method, { identity, record, draft: record, old_slug: 'romans', slug: 'roman-history' });
    }
    expect(events.map((event) => `${event.serviceType}.${event.method}`)).toEqual(
      methodsOf(service).map((method) => `${service}.${method}`),
    );
    expect(new Set(events.map((event) => event.eventId)).size).toBe(events.length);
  });

  it('describes the call in the event: ids, time, arguments without uow, no cause', () => {
    const { hooks, events } = capture('rdm_record', { now: () => 1_767_225_600_000, newEventId: () => 'evt-1' });
    const record = rdmRecord();
    const draft = { ...rdmRecord(), id: 'd7k2p-00draft', is_draft: true };
    hooks.publish({ identity, record, draft });

    expect(events).toEqual([
      {
        eventId: 'evt-1',
        serviceType: 'rdm_record',
        method: 'publish',
        args: { identity, record, draft },
        recordId: 'q1k7x-8mz42',
        draftId: 'd7k2p-00draft',
        emittedAt: 1_767_225_600_000,
        causedBy: null,
      },
    ]);
    expect(Object.isFrozen(events[0])).toBe(true);
  });

  it('gives events of different calls different, process-unique ids by default', () => {
    const { hooks, events } = capture('community');
    for (let index = 0; index < 50; index += 1) hooks.update({ identity, record: community() });
    const ids = events.map((event) => event.eventId);
    expect(new Set(ids).size).toBe(50);
    expect(ids[0]).toMatch(/^[A-Za-z0-9_-]{12}-[0-9a-z]+$/);
  });

  it('turns numeric ids into strings and leaves recordId null for methods without a record', () => {
    const { hooks, events } = capture('rdm_record');
    hooks.read({ identity, record: { id: 42 } });
    hooks.search({ identity, search: { query: 'romans' }, params: { q: 'romans' } });
    hooks.read_draft({ identity, draft: rdmRecord() });
    expect(events.map((event) => [event.method, event.recordId, event.draftId])).toEqual([
      ['read', '42', null],
      ['search', null, null],
      ['read_draft', null, 'q1k7x-8mz42'],
    ]);
  });

  describe('snapshots', () => {
    it('keep what the call saw when the app mutates its record afterwards', () => {
      const { hooks, events } = capture('rdm_record');
      const record = rdmRecord();
      hooks.publish({ identity, record });
      record.metadata.title = 'Changed after the call';
      (record.parent as { id: string }).id = 'other-parent';
      (record as Record<string, unknown>)['custom_fields'] = {};

      const [event] = events;
      expect(event?.args).toEqual({ identity, record: rdmRecord() });
      expect(recordIn(event).metadata.title).toBe('A Romans Story');
    });

    it('keep the call-time record when the event waits for its unit of work', () => {
      const { hooks, events } = capture('rdm_record');
      const uow = createUnitOfWork();
      const record = rdmRecord();
      hooks.delete_record({ identity, record, data: { removal_reason: 'spam' }, uow });
      record.metadata.title = 'Changed before commit';
      uow.commit();

      expect(recordIn(events[0]).metadata.title).toBe('A Romans Story');
      expect(events[0]?.args).not.toHaveProperty('uow');
    });

    it('keep Dates, Maps and BigInts when the arguments are structured-cloneable', () => {
      const { hooks, events } = capture('rdm_record');
      const updated = new Date('2026-03-02T14:07:40Z');
      hooks.read({ identity, record: { ...rdmRecord(), updated, sizes: new Map([['a', 1]]), bytes: 10n } });
      const record = recordIn(events[0]);
      expect(record['updated']).toEqual(updated);
      expect(record['updated']).not.toBe(updated);
      expect(record['sizes']).toEqual(new Map([['a', 1]]));
      expect(record['bytes']).toBe(10n);
      expect(events[0]).not.toHaveProperty('snapshotError');
    });

    it('copy the value of getters and of records made by classes', () => {
      class RecordApi {
        readonly id = 'q1k7x-8mz42';
        get title(): string {
          return 'A Romans Story';
        }
      }
      const withGetter = Object.defineProperty({ ...rdmRecord() }, 'title', { enumerable: true, get: () => 'From a getter' });
      const { hooks, events } = capture('rdm_record');
      hooks.read({ identity, record: withGetter });
      hooks.read({ identity, record: new RecordApi() as never });
      expect(recordIn(events[0])['title']).toBe('From a getter');
      expect(Object.getOwnPropertyDescriptor(recordIn(events[0]), 'title')).toHaveProperty('value', 'From a getter');
      expect(recordIn(events[1])).toEqual({ id: 'q1k7x-8mz42' });
      expect(events[1]?.recordId).toBe('q1k7x-8mz42');
    });

    it('drop functions from records that carry them, without marking the event', () => {
      const { hooks, events } = capture('rdm_record');
      const record = { ...rdmRecord(), commit: () => undefined, created: new Date('2026-03-02T14:05:11Z') };
      hooks.publish({ identity, record });

      const [event] = events;
      const copied = recordIn(event);
      expect(copied).not.toHaveProperty('commit');
      expect(copied['created']).toBe('2026-03-02T14:05:11.000Z');
      expect(copied['metadata']).toEqual(rdmRecord().metadata);
      expect(event?.recordId).toBe('q1k7x-8mz42');
      expect(event).not.toHaveProperty('snapshotError');
    });

    it('mark the event when even the JSON-safe copy fails, naming paths but no values', () => {
      const { hooks, events } = capture('rdm_record');
      const record: Record<string, unknown> = { ...rdmRecord(), refresh: () => undefined, auth_token: 's3cret-token' };
      record['self'] = record;
      Object.defineProperty(record, 'broken', { enumerable: true, get: () => { throw new Error('s3cret-getter'); } });
      hooks.publish({ identity, record });

      const [event] = events;
      expect(event?.snapshotError).toBe(
        'Could not copy the hook arguments: args.record.self: circular reference to args.record; args.record.broken: reading it threw',
      );
      expect(event?.snapshotError).not.toContain('s3cret');
      const copied = recordIn(event);
      expect(copied['metadata']).toEqual(rdmRecord().metadata);
      expect(copied).not.toHaveProperty('self');
      expect(event?.args).toHaveProperty('identity', identity);
      expect(event?.recordId).toBe('q1k7x-8mz42');
    });

    it('mark the event when the arguments are not an object at all', () => {
      const { hooks, events } = capture('community');
      callHook(hooks, 'rename', 'roman-households');
      expect(events[0]).toMatchObject({ method: 'rename', args: {}, recordId: null, snapshotError: 'Expected the hook arguments to be an object, got string' });
    });
  });

  describe('never throw into the app', () => {
    it('reject the event, naming what is missing, when arguments are missing altogether', () => {
      const { hooks, events: emitted, rejections } = capture('rdm_record');
      expect(() => callHook(hooks, 'publish', undefined)).not.toThrow();
      expect(() => callHook(hooks, 'publish', null)).not.toThrow();
      expect(() => callHook(hooks, 'publish', {})).not.toThrow();
      expect(() => callHook(hooks, 'publish', { record: rdmRecord() })).not.toThrow();
      expect(() => callHook(hooks, 'delete_record', { identity })).not.toThrow();
      expect(emitted).toEqual([]);
      const events = rejections.map((rejection) => rejection.event);
      expect(events.map((event) => [event.method, event.recordId, event.args])).toEqual([
        ['publish', null, {}],
        ['publish', null, {}],
        ['publish', null, {}],
        ['publish', 'q1k7x-8mz42', { record: rdmRecord() }],
        ['delete_record', null, { identity }],
      ]);
      expect(events.every((event) => event.snapshotError === undefined)).toBe(true);
      expect(rejections.map((rejection) => `${rejection.kind}: ${rejection.error.message}`)).toEqual([
        'arguments: publish: expected args.identity, got undefined; expected args.record, got undefined',
        'arguments: publish: expected args.identity, got undefined; expected args.record, got undefined',
        'arguments: publish: expected args.identity, got undefined; expected args.record, got undefined',
        'arguments: publish: expected args.identity, got undefined',
        'arguments: delete_record: expected args.record, got undefined',
      ]);
    });

    it('survive an emit that throws', () => {
      const hooks = createHooks('rdm_record', () => {
        throw new Error('subscriber broke');
      });
      expect(() => hooks.publish({ identity, record: rdmRecord() })).not.toThrow();
    });

    it('survive option callbacks that throw', () => {
      const events: ServiceEvent[] = [];
      const throwing = (): never => {
        throw new Error('option broke');
      };
      const configuredThrows = createHooks('rdm_record', (event) => events.push(event), { isConfigured: throwing });
      expect(() => configuredThrows.publish({ identity, record: rdmRecord() })).not.toThrow();

      const closedThrows = createHooks('rdm_record', (event) => events.push(event), { isClosed: throwing });
      expect(() => closedThrows.publish({ identity, record: rdmRecord() })).not.toThrow();
      expect(events).toHaveLength(1);

      const rejectedThrows = createHooks('rdm_record', (event) => events.push(event), { isClosed: () => true, onRejected: throwing });
      expect(() => rejectedThrows.publish({ identity, record: rdmRecord() })).not.toThrow();
    });

    it('work when taken off their object', () => {
      const { hooks, events } = capture('community');
      const { rename } = hooks;
      rename({ identity, record: community(), old_slug: 'a', slug: 'b' });
      expect(events).toHaveLength(1);
      expect(Object.isFrozen(hooks)).toBe(true);
    });
  });

  describe('unconfigured methods', () => {
    it('emit nothing and do not even read the arguments', () => {
      const asked: string[] = [];
      const { hooks, events } = capture('rdm_record', {
        isConfigured: (method) => {
          asked.push(method);
          return method === 'publish';
        },
      });
      let reads = 0;
      const args = new Proxy({ identity, record: rdmRecord() }, {
        get: (target, key, receiver) => {
          reads += 1;
          return Reflect.get(target, key, receiver) as unknown;
        },
        ownKeys: (target) => {
          reads += 1;
          return Reflect.ownKeys(target);
        },
      });
      hooks.read(args);
      hooks.update_draft(args);
      expect(reads).toBe(0);
      expect(events).toEqual([]);

      hooks.publish({ identity, record: rdmRecord() });
      expect(events.map((event) => event.method)).toEqual(['publish']);
      expect(asked).toEqual(['read', 'update_draft', 'publish']);
    });
  });

  describe('after close', () => {
    it('hand the event to onRejected as closed instead of emitting it', () => {
      let closed = false;
      const { hooks, events, rejections } = capture('rdm_record', { isClosed: () => closed, newEventId: () => 'evt-late' });
      hooks.publish({ identity, record: rdmRecord() });
      closed = true;
      hooks.delete_record({ identity, record: rdmRecord() });

      expect(events.map((event) => event.method)).toEqual(['publish']);
      expect(rejections).toHaveLength(1);
      const [rejection] = rejections;
      expect(rejection?.kind).toBe('closed');
      expect(rejection?.event).toMatchObject({ method: 'delete_record', recordId: 'q1k7x-8mz42' });
      expect(rejection?.error).toBeInstanceOf(ClosedError);
      expect(rejection?.error.message).toBe('Expected an open provisioner to emit rdm_record.delete_record event evt-late, got a closed one');
    });

    it('reject an event whose unit of work commits after close, and say nothing of one that rolls back', () => {
      let closed = false;
      const { hooks, events, rejections } = capture('rdm_record', { isClosed: () => closed });
      const committing = createUnitOfWork();
      const rollingBack = createUnitOfWork();
      hooks.publish({ identity, record: rdmRecord(), uow: committing });
      hooks.publish({ identity, record: rdmRecord(), uow: rollingBack });
      closed = true;
      committing.commit();
      rollingBack.rollback();

      expect(events).toEqual([]);
      expect(rejections.map((rejection) => [rejection.kind, rejection.event.method])).toEqual([['closed', 'publish']]);
    });
  });

  describe('broken units of work', () => {
    it('reject the event when uow has no onCommit', () => {
      const { hooks, events, rejections } = capture('rdm_record');
      callHook(hooks, 'publish', { identity, record: rdmRecord(), uow: { commit: () => undefined } });
      expect(events).toEqual([]);
      expect(rejections.map((rejection) => [rejection.kind, rejection.error.message])).toEqual([
        ['unit-of-work', 'Expected `uow` of rdm_record.publish to have an onCommit function, got an object without it'],
      ]);
    });

    it('reject the event when uow.onCommit throws, e.g. on a unit already committed', () => {
      const { hooks, events, rejections } = capture('rdm_record');
      const uow = createUnitOfWork();
      uow.commit();
      expect(() => hooks.publish({ identity, record: rdmRecord(), uow })).not.toThrow();
      expect(events).toEqual([]);
      expect(rejections).toHaveLength(1);
      expect(rejections[0]?.kind).toBe('unit-of-work');
      expect(rejections[0]?.error).toBeInstanceOf(ProvisionerError);
      expect(rejections[0]?.error.message).toBe(
        "Expected `uow.onCommit` of rdm_record.publish to accept the event's commit callback, got an error: ProvisionerError: Expected an open unit of work to register an onCommit callback, got one already committed",
      );
    });

    it('reject the event of a hook called after its outbox unit of work committed, naming the call that refused it', () => {
      const { hooks, events, rejections } = capture('rdm_record');
      const uow = createExecutorUnitOfWork({ query: async () => ({ rows: [] }) });
      uow.committed();
      hooks.publish({ identity, record: rdmRecord(), uow });
      expect(events).toEqual([]);
      expect(rejections.map((rejection) => [rejection.kind, rejection.error.message])).toEqual([
        [
          'unit-of-work',
          "Expected `uow.inTransaction` of rdm_record.publish to accept the event's journaling callback, got an error: ProvisionerError: Expected an open unit of work to register an inTransaction callback, got one already committed",
        ],
      ]);
    });

    it('emit once even when the app calls the commit callback twice', () => {
      const { hooks, events } = capture('rdm_record');
      const callbacks: (() => void)[] = [];
      const uow: UnitOfWork = { onCommit: (callback) => callbacks.push(callback), onRollback: () => undefined };
      hooks.publish({ identity, record: rdmRecord(), uow });
      for (const callback of callbacks) callback();
      for (const callback of callbacks) callback();
      expect(events).toHaveLength(1);
    });
  });

  it('refuses an unknown service type when the hooks are made', () => {
    expect(() => createHooks('rdm_records' as 'rdm_record', () => undefined)).toThrow(
      'Expected the service type to be one of "rdm_record", "community", got "rdm_records"',
    );
  });
});
