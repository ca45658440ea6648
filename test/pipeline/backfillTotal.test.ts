// backfill's progress: once the source ends, a step carries the total, also when the last
// record settled while the source was still being read (the step of that record had none).
import { lastValueFrom, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { DeliveryOutcome } from '../../src/events/outcomes.js';
import { runBackfill } from '../../src/pipeline/backfill.js';

describe('runBackfill', () => {
  it('ends with a step that has the total when every record settled before the source said it was done', async () => {
    const outcomes = new Subject<DeliveryOutcome<string>>();
    let sourceMayEnd = (): void => undefined;
    const ended = new Promise<void>((resolve) => {
      sourceMayEnd = resolve;
    });
    async function* records(): AsyncGenerator<string> {
      yield 'a';
      yield 'b';
      // The source answers "done" only after both records settled.
      await ended;
    }
    const settle = (eventId: string): void => outcomes.next({ kind: 'delivered', event: { eventId } } as unknown as DeliveryOutcome<string>);
    const run = lastValueFrom(
      runBackfill<string>(records(), 4, undefined, {
        prepare: (record) => ({ eventId: record, expected: 1, emit: () => undefined }),
        outcomes$: outcomes,
      }).pipe(toArray()),
    );
    // Let the run read both records and ask for a third.
    for (let turn = 0; turn < 10; turn += 1) await Promise.resolve();
    settle('a');
    settle('b');
    sourceMayEnd();
    const progress = await run;
    expect(progress.at(-2)).toEqual({ done: 2, delivered: 2, failed: 0, skipped: 0, inFlight: 0 });
    expect(progress.at(-1)).toEqual({ done: 2, delivered: 2, failed: 0, skipped: 0, inFlight: 0, total: 2 });
  });
});
