// The local stores' lane scheduler on its own, in virtual time: one item at a time per key in
// the order added, keys concurrently up to the bound, a waiting head (a retry's backoff) that
// holds its lane but not a slot, new lanes started after the caller's turn, stop.
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../src/index.js';
import { LaneScheduler } from '../../src/store/laneScheduler.js';

type Item = { readonly key: string; readonly name: string; dueAt: number };

const item = (key: string, name: string): Item => ({ key, name, dueAt: 0 });

/** Runs `script` on a scheduler whose items take `work` frames each; returns "name@frame" starts. */
function runLanes(concurrency: number, work: number, script: (lanes: LaneScheduler<Item>, scheduler: TestScheduler, started: string[]) => void): string[] {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const started: string[] = [];
  scheduler.run(() => {
    const lanes: LaneScheduler<Item> = new LaneScheduler<Item>({
      run: (running) => {
        started.push(`${running.name}@${scheduler.now()}`);
        scheduler.schedule(() => lanes.done(running), work);
      },
    });
    lanes.start(concurrency, scheduler);
    script(lanes, scheduler, started);
  });
  return started;
}

describe('LaneScheduler', () => {
  it('runs one item at a time per key, in the order added, and keys side by side up to the bound', () => {
    const started = runLanes(2, 10, (lanes) => {
      for (const added of [item('a', 'a1'), item('a', 'a2'), item('b', 'b1'), item('c', 'c1'), item('b', 'b2')]) lanes.add(added);
    });
    // a1 and b1 take the two slots; c1 waits for a slot (and was ready first), a2 for a1, b2 for b1 and a slot.
    expect(started).toEqual(['a1@0', 'b1@0', 'c1@10', 'a2@10', 'b2@20']);
  });

  it('retries a head at its due time, ahead of the rest of its lane, without holding a slot meanwhile', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const started: string[] = [];
    scheduler.run(() => {
      let a1Runs = 0;
      const lanes: LaneScheduler<Item> = new LaneScheduler<Item>({
        run: (running) => {
          started.push(`${running.name}@${scheduler.now()}`);
          if (running.name === 'a1' && (a1Runs += 1) === 1) {
            // The first attempt of a1 fails at frame 5; it runs again at 100.
            scheduler.schedule(() => lanes.later(running, 100), 5);
          } else {
            scheduler.schedule(() => lanes.done(running), 5);
          }
        },
      });
      lanes.start(1, scheduler);
      lanes.add(item('a', 'a1'));
      lanes.add(item('a', 'a2'));
      lanes.add(item('b', 'b1'));
    });
    // b1 takes the only slot while a1 waits; a2 stays behind a1.
    expect(started).toEqual(['a1@0', 'b1@5', 'a1@100', 'a2@105']);
  });

  it('starts a new lane after the caller has returned, not inside add()', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const started: string[] = [];
    scheduler.run(() => {
      const lanes = new LaneScheduler<Item>({ run: (running) => started.push(running.name) });
      lanes.start(4, scheduler);
      lanes.add(item('a', 'a1'));
      expect(started).toEqual([]);
    });
    expect(started).toEqual(['a1']);
  });

  it('never runs more items at once than the bound, however many lanes are ready', () => {
    let busy = 0;
    let most = 0;
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(() => {
      const lanes: LaneScheduler<Item> = new LaneScheduler<Item>({
        run: (running) => {
          busy += 1;
          most = Math.max(most, busy, lanes.running);
          scheduler.schedule(() => {
            busy -= 1;
            lanes.done(running);
          }, 3);
        },
      });
      lanes.start(3, scheduler);
      for (let n = 0; n < 20; n += 1) lanes.add(item(`k${n % 10}`, `i${n}`));
    });
    expect(most).toBe(3);
  });

  it('stops: nothing more runs, a waiting head is not retried, and the items stay held', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const started: string[] = [];
    let held: string[] = [];
    let size = -1;
    scheduler.run(() => {
      const lanes: LaneScheduler<Item> = new LaneScheduler<Item>({
        run: (running) => {
          started.push(`${running.name}@${scheduler.now()}`);
          // a1 fails and waits until 100; b1 runs until 10.
          if (running.name === 'a1') scheduler.schedule(() => lanes.later(running, 100), 2);
          else scheduler.schedule(() => lanes.done(running), 10);
        },
      });
      lanes.start(1, scheduler);
      for (const added of [item('a', 'a1'), item('b', 'b1'), item('c', 'c1')]) lanes.add(added);
      scheduler.schedule(() => lanes.stop(), 5);
      scheduler.schedule(() => {
        held = [...lanes.items()].map((kept) => kept.name);
        size = lanes.size;
      }, 200);
    });
    // b1 was running when stop() came and finishes; c1 never starts, a1 is never retried.
    expect(started).toEqual(['a1@0', 'b1@2']);
    expect(held.sort()).toEqual(['a1', 'c1']);
    expect(size).toBe(2);
  });

  it('rejects a bound below 1 with a ConfigError that says what it got', () => {
    const lanes = new LaneScheduler<Item>({ run: () => undefined });
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      let thrown: unknown;
      try {
        lanes.start(bad);
      } catch (error) {
        thrown = error;
      }
      expect(isConfigError(thrown)).toBe(true);
      expect(String(thrown)).toContain(`concurrency: expected an integer >= 1, got ${String(bad)}`);
    }
  });
});
