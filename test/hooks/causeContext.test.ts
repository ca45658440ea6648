import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createHooks, createUnitOfWork } from '../../src/index.js';
import { currentCause, runWithCause } from '../../src/hooks/causeContext.js';
import type { EventCause, ServiceEvent } from '../../src/index.js';
import { identity, rdmRecord } from '../helpers/factories.js';

const cause: EventCause = {
  deliveryId: 'evt-1:search',
  serviceType: 'rdm_record',
  serviceMethod: 'publish',
  endpoint: 'https://search.example.org/api/v1/documents',
};

function capture() {
  const events: ServiceEvent[] = [];
  return { hooks: createHooks('rdm_record', (event) => events.push(event)), events };
}

describe('cause context', () => {
  it('has no cause outside runWithCause', () => {
    expect(currentCause()).toBeNull();
    const { hooks, events } = capture();
    hooks.update_draft({ identity, record: rdmRecord() });
    expect(events[0]?.causedBy).toBeNull();
  });

  it('stamps events of hooks called inside runWithCause with the cause', () => {
    const { hooks, events } = capture();
    const returned = runWithCause(cause, () => {
      hooks.update_draft({ identity, record: rdmRecord() });
      return 'result';
    });
    hooks.publish({ identity, record: rdmRecord() });

    expect(returned).toBe('result');
    expect(events.map((event) => [event.method, event.causedBy])).toEqual([
      ['update_draft', cause],
      ['publish', null],
    ]);
  });

  it('keeps the cause across awaits and timers inside the callback', async () => {
    const { hooks, events } = capture();
    const running = runWithCause(cause, async () => {
      await Promise.resolve();
      await sleep(1);
      hooks.update_draft({ identity, record: rdmRecord() });
      expect(currentCause()).toBe(cause);
    });
    hooks.publish({ identity, record: rdmRecord() });
    await running;

    expect(currentCause()).toBeNull();
    expect(events.map((event) => [event.method, event.causedBy])).toEqual([
      ['publish', null],
      ['update_draft', cause],
    ]);
  });

  it('keeps apart the causes of callbacks running at the same time', async () => {
    const { hooks, events } = capture();
    const other: EventCause = { ...cause, deliveryId: 'evt-2:search' };
    await Promise.all([
      runWithCause(cause, async () => {
        await sleep(2);
        hooks.update_draft({ identity, record: { id: 'first' } });
      }),
      runWithCause(other, async () => {
        await sleep(1);
        hooks.update_draft({ identity, record: { id: 'second' } });
      }),
    ]);
    expect(Object.fromEntries(events.map((event) => [event.recordId, event.causedBy?.deliveryId]))).toEqual({
      first: 'evt-1:search',
      second: 'evt-2:search',
    });
  });

  it('takes the cause at call time, even when the unit of work commits outside it', () => {
    const { hooks, events } = capture();
    const uow = createUnitOfWork();
    runWithCause(cause, () => hooks.update_draft({ identity, record: rdmRecord(), uow }));
    uow.commit();
    expect(events[0]?.causedBy).toEqual(cause);
  });
});
