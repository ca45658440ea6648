// OneAtATime: the PostgreSQL store's outbox moves and outcome reads run one at a time, and the
// requests made during a run are answered by one more run, not one each.
import { describe, expect, it } from 'vitest';
import { OneAtATime } from '../../src/store/oneAtATime.js';

/** A task whose runs the test ends by hand, in order. */
function heldTask() {
  const ends: (() => void)[] = [];
  let runs = 0;
  const task = (): Promise<void> => {
    runs += 1;
    return new Promise<void>((resolve) => ends.push(resolve));
  };
  return {
    task,
    runs: () => runs,
    endRun: async () => {
      ends.shift()?.();
      // Let the loop see the end and start what comes next.
      for (let turn = 0; turn < 5; turn += 1) await Promise.resolve();
    },
  };
}

describe('OneAtATime', () => {
  it('answers the requests made during a run with one more run, and each request only once a run that started after it is over', async () => {
    const held = heldTask();
    const errors: unknown[] = [];
    const once = new OneAtATime(held.task, { onError: (error) => errors.push(error) });
    const answered: string[] = [];
    const first = once.run().then(() => answered.push('first'));
    expect(held.runs()).toBe(1);
    const second = once.run().then(() => answered.push('second'));
    const third = once.run().then(() => answered.push('third'));
    expect(once.running).toBe(true);
    await held.endRun();
    // The first run is over, but the second and third asked after it started: one more run, for both.
    expect(held.runs()).toBe(2);
    expect(answered).toEqual([]);
    await held.endRun();
    await Promise.all([first, second, third]);
    expect(held.runs()).toBe(2);
    expect(once.running).toBe(false);
    expect(errors).toEqual([]);
  });

  it('runs at once again after a run without requests during it', async () => {
    const held = heldTask();
    const once = new OneAtATime(held.task, { onError: () => undefined });
    const first = once.run();
    await held.endRun();
    await first;
    expect(held.runs()).toBe(1);
    const next = once.run();
    expect(held.runs()).toBe(2);
    await held.endRun();
    await next;
  });

  it('counts a request made while beforeEach waits as answered by the run that follows', async () => {
    const held = heldTask();
    let pace = (): void => undefined;
    const once = new OneAtATime(held.task, {
      onError: () => undefined,
      beforeEach: () => new Promise<void>((resolve) => (pace = resolve)),
    });
    const first = once.run();
    const duringPace = once.run();
    expect(held.runs()).toBe(0);
    pace();
    await Promise.resolve();
    await Promise.resolve();
    expect(held.runs()).toBe(1);
    await held.endRun();
    await Promise.all([first, duringPace]);
    expect(held.runs()).toBe(1);
  });

  it('stops running again once goOn says no', async () => {
    const held = heldTask();
    let open = true;
    const once = new OneAtATime(held.task, { onError: () => undefined, goOn: () => open });
    const first = once.run();
    void once.run();
    open = false;
    await held.endRun();
    await first;
    expect(held.runs()).toBe(1);
  });

  it('hands what a run throws to onError, resolves the requests, and runs again at the next one', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const once = new OneAtATime(
      async () => {
        runs += 1;
        if (runs === 1) throw new Error('database went away');
      },
      { onError: (error) => errors.push(error) },
    );
    await expect(once.run()).resolves.toBeUndefined();
    expect(errors.map((error) => (error as Error).message)).toEqual(['database went away']);
    await once.run();
    expect(runs).toBe(2);
    expect(errors).toHaveLength(1);
  });
});
