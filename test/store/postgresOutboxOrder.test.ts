// What one move of the PostgreSQL store's outbox takes into pg-boss: pg-boss orders a lane's
// jobs of one insert by job id, so a row whose job would sort before its lane's previous one
// (written by another process, whose ids do not follow this one's counter) waits for the next
// move, and no row after it goes before it.
import { describe, expect, it } from 'vitest';
import { inLaneOrder } from '../../src/store/postgres/postgresOutbox.js';
import type { NewJob } from '../../src/store/postgres/postgresJob.js';

const job = (lane: string, id: string): NewJob =>
  ({ id, singletonKey: lane, group: { id: 'e' }, data: { v: 1, deliveryId: `${lane}/${id}`, endpoint: 'https://x.test/', key: lane, acceptedAt: 0, event: '' } }) as unknown as NewJob;

describe('postgres outbox, one move', () => {
  it('takes every row whose jobs keep their lanes in id order', () => {
    const rows = [[job('a', '10'), job('b', '11')], [job('a', '12')], [job('b', '13'), job('c', '01')]];
    const taken = inLaneOrder(rows);
    expect(taken.rows).toBe(3);
    expect(taken.jobs.map((j) => j.id)).toEqual(['10', '11', '12', '13', '01']);
  });

  it('stops before a row whose job would sort before its lane\'s previous one, and takes nothing after it', () => {
    const rows = [[job('a', '50')], [job('b', '20')], [job('a', '40')], [job('c', '60')]];
    const taken = inLaneOrder(rows);
    expect(taken.rows).toBe(2);
    expect(taken.jobs.map((j) => j.id)).toEqual(['50', '20']);
    // The next move starts from the row left: it goes first.
    expect(inLaneOrder(rows.slice(2)).rows).toBe(2);
  });

  it('always takes the first row', () => {
    expect(inLaneOrder([[job('a', '9'), job('a', '1')]]).rows).toBe(1);
    expect(inLaneOrder([]).rows).toBe(0);
  });
});
