// The pg-boss job id of a delivery: the same for the same delivery in every version (journaling
// a delivery again inserts it once, also across an upgrade), growing with the hooks' counter
// within one process, different for another endpoint.
import { describe, expect, it } from 'vitest';
import { jobIdOf } from '../../src/store/postgres/jobId.js';

const endpoint = 'https://search.example.org/api/v1/documents';

describe('postgres job ids', () => {
  it('are the ids earlier versions wrote for the same deliveries', () => {
    expect(jobIdOf('q3X9fKa0Lm2Z-1f', endpoint)).toBe('90db9f0f-0000-0000-0000-00334160cc9f');
    expect(jobIdOf('q3X9fKa0Lm2Z-zzzzzzzzzz', 'https://a/')).toBe('90db9f0f-000c-fd41-b90f-ffffab986404');
    expect(jobIdOf('not counted!', 'https://a/')).toBe('b521903f-c1a7-6ed7-1bf8-0bcdc78b93ba');
  });

  it('grow with the counter of one process, in text order too, and differ by endpoint', () => {
    const ids = ['p-1', 'p-2', 'p-a', 'p-10', 'p-zz'].map((eventId) => jobIdOf(eventId, endpoint));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(jobIdOf('p-1', 'https://other.example.org/')).not.toBe(ids[0]);
    expect(jobIdOf('p-1', endpoint)).toBe(ids[0]);
  });
});
