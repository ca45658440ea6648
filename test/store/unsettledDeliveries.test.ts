// What the shared stores keep of the deliveries journaled in this instance: their ids (bounded
// by maxQueue, except those an app's transaction committed) and their events, at most maxQueue
// of them, let go when the delivery settles.
import { describe, expect, it } from 'vitest';
import { UnsettledDeliveries } from '../../src/store/journaledDeliveries.js';
import { publishEvent } from '../helpers/factories.js';

const delivery = (n: number) => ({ deliveryId: `d-${n}`, event: publishEvent(`rec-${n}`, 1) });

describe('UnsettledDeliveries', () => {
  it('keeps the events of admitted deliveries until they settle', () => {
    const unsettled = new UnsettledDeliveries('test', 10);
    const [one, two] = [delivery(1), delivery(2)];
    expect(unsettled.admit([one, two], 2)).toEqual({ kind: 'journaled', deliveryIds: ['d-1', 'd-2'] });
    expect(unsettled.eventOf('d-1')).toBe(one.event);
    unsettled.settled('d-1');
    expect(unsettled.eventOf('d-1')).toBeUndefined();
    expect(unsettled.eventOf('d-2')).toBe(two.event);
    expect(unsettled.pending([])).toBe(1);
  });

  it('refuses a journal past maxQueue and keeps nothing of it', () => {
    const unsettled = new UnsettledDeliveries('test', 2);
    unsettled.admit([delivery(1), delivery(2)], 2);
    const answer = unsettled.admit([delivery(3)], 1);
    expect(answer.kind).toBe('overflow');
    expect(answer.kind === 'overflow' && answer.error.message).toBe(
      'Expected fewer than 2 deliveries pending in the test store (maxQueue), found 2; 1 deliveries of 1 event(s) were not accepted',
    );
    expect(unsettled.eventOf('d-3')).toBeUndefined();
    expect(unsettled.has('d-3')).toBe(false);
  });

  it('counts every committed delivery pending but keeps at most maxQueue events (the rest are read from their jobs)', () => {
    const unsettled = new UnsettledDeliveries('test', 2);
    const committed = [1, 2, 3].map(delivery);
    unsettled.committed(committed);
    expect(unsettled.pending([])).toBe(3);
    expect(committed.map((d) => unsettled.eventOf(d.deliveryId))).toEqual([committed[0]?.event, committed[1]?.event, undefined]);
    unsettled.committed([{ deliveryId: 'd-4', event: undefined }]);
    expect(unsettled.has('d-4')).toBe(true);
    for (const d of committed) unsettled.settled(d.deliveryId);
    expect(unsettled.eventOf('d-1')).toBeUndefined();
    expect(unsettled.pending(['d-4', 'elsewhere'])).toBe(2);
  });
});
