import { describe, expect, it } from 'vitest';
import { ProvisionerError, createHooks, createUnitOfWork, isUnitOfWork } from '../../src/index.js';
import type { ServiceEvent, UnitOfWork } from '../../src/index.js';
import { community, identity, rdmRecord } from '../helpers/factories.js';

/** Hooks of both services emitting into one list, as one provisioner's hooks do. */
function appHooks() {
  const events: ServiceEvent[] = [];
  const emit = (event: ServiceEvent): void => {
    events.push(event);
  };
  return { rdm: createHooks('rdm_record', emit), communities: createHooks('community', emit), events };
}

const label = (event: ServiceEvent): string => {
  const args = event.args as { data?: { label?: string } | null };
  return args.data?.label ?? `${event.method}`;
};

describe('createUnitOfWork', () => {
  it('runs commit callbacks once, in registration order, and moves to committed', () => {
    const uow = createUnitOfWork();
    const ran: string[] = [];
    uow.onCommit(() => ran.push('first'));
    uow.onRollback(() => ran.push('rollback'));
    uow.onCommit(() => ran.push('second'));
    expect(uow.state).toBe('open');
    expect(ran).toEqual([]);

    uow.commit();

    expect(ran).toEqual(['first', 'second']);
    expect(uow.state).toBe('committed');
  });

  it('runs rollback callbacks once, in registration order, and moves to rolled-back', () => {
    const uow = createUnitOfWork();
    const ran: string[] = [];
    uow.onRollback(() => ran.push('first'));
    uow.onCommit(() => ran.push('commit'));
    uow.onRollback(() => ran.push('second'));

    uow.rollback();

    expect(ran).toEqual(['first', 'second']);
    expect(uow.state).toBe('rolled-back');
  });

  it('throws a clear error when committed twice, after a rollback, or registered on once settled', () => {
    const committed = createUnitOfWork();
    committed.commit();
    expect(() => committed.commit()).toThrow(new ProvisionerError('Expected an open unit of work to commit, got one already committed'));
    expect(() => committed.rollback()).toThrow('Expected an open unit of work to roll back, got one already committed');
    expect(() => committed.onCommit(() => undefined)).toThrow(
      'Expected an open unit of work to register an onCommit callback, got one already committed',
    );

    const rolledBack = createUnitOfWork();
    rolledBack.rollback();
    expect(() => rolledBack.commit()).toThrow('Expected an open unit of work to commit, got one already rolled-back');
    expect(() => rolledBack.onRollback(() => undefined)).toThrow(
      'Expected an open unit of work to register an onRollback callback, got one already rolled-back',
    );
    expect(() => createUnitOfWork().onCommit('later' as unknown as () => void)).toThrow(
      'Expected onCommit to receive a function, got string',
    );
  });

  it('runs every callback even when one throws, then reports the errors together', () => {
    const uow = createUnitOfWork();
    const ran: string[] = [];
    const failure = new Error('app callback broke');
    uow.onCommit(() => ran.push('first'));
    uow.onCommit(() => {
      throw failure;
    });
    uow.onCommit(() => ran.push('third'));

    let thrown: unknown;
    try {
      uow.commit();
    } catch (error) {
      thrown = error;
    }

    expect(ran).toEqual(['first', 'third']);
    expect(thrown).toBeInstanceOf(AggregateError);
    expect((thrown as AggregateError).errors).toEqual([failure]);
    expect((thrown as AggregateError).message).toBe('1 of 3 commit callbacks of the unit of work threw (all ran)');
    expect(uow.state).toBe('committed');
  });

  it('is recognised by isUnitOfWork, like any app object with onCommit', () => {
    expect(isUnitOfWork(createUnitOfWork())).toBe(true);
    expect(isUnitOfWork({ onCommit: () => undefined, onRollback: () => undefined })).toBe(true);
    expect(isUnitOfWork({ commit: () => undefined })).toBe(false);
    expect(isUnitOfWork(null)).toBe(false);
  });
});

describe('hooks with a unit of work', () => {
  it('emit nothing until the unit commits, then every event of it in call order', () => {
    const { rdm, events } = appHooks();
    const uow = createUnitOfWork();
    rdm.update_draft({ identity, record: rdmRecord(), data: { label: 'one' }, uow });
    rdm.publish({ identity, record: rdmRecord(), uow });
    rdm.delete_record({ identity, record: rdmRecord(), data: { label: 'three' }, uow });
    expect(events).toEqual([]);

    uow.commit();

    expect(events.map(label)).toEqual(['one', 'publish', 'three']);
  });

  it('never emit the events of a unit that rolls back', () => {
    const { rdm, events } = appHooks();
    const uow = createUnitOfWork();
    rdm.publish({ identity, record: rdmRecord(), uow });
    rdm.delete_record({ identity, record: rdmRecord(), uow });

    uow.rollback();

    expect(events).toEqual([]);
    expect(() => uow.commit()).toThrow(ProvisionerError);
    expect(events).toEqual([]);
  });

  it('keep each unit\'s call order when two units interleave and commit in the other order', () => {
    const { rdm, communities, events } = appHooks();
    const first = createUnitOfWork();
    const second = createUnitOfWork();
    rdm.update_draft({ identity, record: rdmRecord(), data: { label: 'A1' }, uow: first });
    communities.update({ identity, record: community(), data: { label: 'B1' }, uow: second });
    rdm.update_draft({ identity, record: rdmRecord(), data: { label: 'A2' }, uow: first });
    rdm.update_draft({ identity, record: rdmRecord(), data: { label: 'now' } });
    communities.update({ identity, record: community(), data: { label: 'B2' }, uow: second });
    rdm.update_draft({ identity, record: rdmRecord(), data: { label: 'A3' }, uow: first });

    expect(events.map(label)).toEqual(['now']);
    second.commit();
    expect(events.map(label)).toEqual(['now', 'B1', 'B2']);
    first.commit();
    expect(events.map(label)).toEqual(['now', 'B1', 'B2', 'A1', 'A2', 'A3']);
  });

  it('emit the committed unit\'s events and none of the rolled-back one\'s when units interleave', () => {
    const { rdm, events } = appHooks();
    const kept = createUnitOfWork();
    const dropped = createUnitOfWork();
    rdm.update_draft({ identity, record: rdmRecord(), data: { label: 'kept-1' }, uow: kept });
    rdm.update_draft({ identity, record: rdmRecord(), data: { label: 'dropped-1' }, uow: dropped });
    rdm.update_draft({ identity, record: rdmRecord(), data: { label: 'kept-2' }, uow: kept });

    dropped.rollback();
    kept.commit();

    expect(events.map(label)).toEqual(['kept-1', 'kept-2']);
  });

  it('work with the app\'s own unit-of-work object', () => {
    const { rdm, events } = appHooks();
    const commits: (() => void)[] = [];
    const rollbacks: (() => void)[] = [];
    const transaction: UnitOfWork = { onCommit: (callback) => commits.push(callback), onRollback: (callback) => rollbacks.push(callback) };
    rdm.publish({ identity, record: rdmRecord(), uow: transaction });
    rdm.new_version({ identity, record: rdmRecord(), uow: transaction });
    expect(events).toEqual([]);
    expect(rollbacks).toEqual([]);

    for (const callback of commits) callback();

    expect(events.map((event) => event.method)).toEqual(['publish', 'new_version']);
  });

  it('still run the app\'s other commit callbacks when emitting throws', () => {
    const uow = createUnitOfWork();
    const hooks = createHooks('rdm_record', () => {
      throw new Error('subscriber broke');
    });
    const ran: string[] = [];
    hooks.publish({ identity, record: rdmRecord(), uow });
    uow.onCommit(() => ran.push('app'));

    expect(() => uow.commit()).not.toThrow();
    expect(ran).toEqual(['app']);
  });
});
