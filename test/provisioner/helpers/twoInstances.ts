// The two-instance check through createProvisioner, one body for every store that
// instances share: two app processes on one store each call the publish hook for half of
// the records (each record's events come from one process, in order); both deliver, and one
// is SIGKILLed when half the events have arrived at the receiver (once both have journaled
// theirs). The survivor takes the killed one's deliveries over once their lock expires and
// drains: 0 lost, per-record order kept at the receiver, repeats only under their own
// delivery id, and the survivor's outcomes$ saw the deliveries of both.
import { expect, it } from 'vitest';
import { forkCountingApp, type CountingApp } from '../../helpers/appProcess.js';
import { expectEveryDeliveryOnceInOrder, journaledDeliveries } from '../../helpers/arrivals.js';
import { startReceiver } from '../../helpers/receiver.js';

/** An app's report of the events it journaled: their ids and numbers, and figures. */
export type JournalMessage = { readonly type: string; readonly count: number; readonly eventIds: readonly string[]; readonly indices: readonly number[] } & Readonly<Record<string, unknown>>;

/** What the app processes report (helpers/storeApp.ts, store/helpers/postgresApp.ts). */
type AppMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly callbacks: number }
  | JournalMessage
  | { readonly type: 'drained'; readonly delivered: number; readonly callbacks: number };

export type TwoInstancesCase = {
  /** The test's name. */
  readonly title: string;
  /** For the figures: 'redis', 'postgres'. */
  readonly store: string;
  readonly app: string;
  readonly events: number;
  readonly records: number;
  /** The app's environment but for RECEIVER_URL, RECORDS and SHARE. */
  readonly env: Readonly<Record<string, string>>;
  /** The message in which an app reports the events it journaled, with their ids and numbers. */
  readonly journaled: string;
  /** Requests that may be sent twice: those in flight in the killed instance. */
  readonly maxDuplicates: number;
  /** The fewest outcomes the survivor's outcomes$ must have seen (at most `events`). */
  readonly minOutcomesSeen: number;
  /** More checks once both instances have ended (the app's own tables, say). */
  readonly afterExit?: () => Promise<void>;
  /** Figures of the journal step, from the apps' journal messages, for PRINT_FIGURES. */
  readonly journalFigures: (messages: readonly JournalMessage[]) => Readonly<Record<string, unknown>>;
  readonly timeoutMs: number;
};

/** Declares the two-instance test of one store. */
export function twoInstancesTest(test: TwoInstancesCase): void {
  type App = CountingApp<AppMessage>;
  const isJournal = (m: AppMessage): boolean => m.type === test.journaled;
  it(test.title, async () => {
    const apps: App[] = [];
    // The instance that has delivered more by then is killed: a lane or partition stays with the instance that runs it while it has work, so one of the two may hold most of them.
    const kill: { victim: { index: number; deliveredBefore: number; arrivedBefore: number; journaled: boolean } | null } = { victim: null };
    // Halfway through the deliveries, once both instances have journaled all their hook calls.
    const killIfDue = (): void => {
      if (kill.victim !== null || receiver.requests.length < test.events / 2 || !apps.every((app) => app.messages.some(isJournal))) return;
      const delivered = apps.map((app) => app.delivered());
      const index = (delivered[1] ?? 0) > (delivered[0] ?? 0) ? 1 : 0;
      kill.victim = { index, deliveredBefore: delivered[index] ?? 0, arrivedBefore: receiver.requests.length, journaled: apps[index]?.messages.some(isJournal) ?? false };
      apps[index]?.child.kill('SIGKILL');
    };
    const receiver = await startReceiver({ delayMs: 2, onRequest: killIfDue });
    const env = { ...test.env, RECEIVER_URL: receiver.url(), RECORDS: String(test.records), WAIT_FOR_GO: '1' };
    try {
      const started = Date.now();
      apps.push(forkCountingApp<AppMessage>(test.app, { ...env, SHARE: '0/2' }), forkCountingApp<AppMessage>(test.app, { ...env, SHARE: '1/2' }));
      for (const app of apps) app.child.on('message', () => setImmediate(killIfDue));
      // Both listen on the outcome channel before either calls a hook.
      await Promise.all(apps.map((app) => app.waitFor('ready', 30_000)));
      for (const app of apps) app.child.send({ type: 'go' });
      const exits = await Promise.all(apps.map((app) => app.exited));
      const killed = kill.victim;
      if (killed === null) throw new Error(`Expected an instance to be killed at the arrival ${test.events / 2}, got ${receiver.requests.length} arrivals`);
      const survivor = apps[1 - killed.index] as App;
      expect(exits[killed.index]).toBe('SIGKILL');
      expect(exits[1 - killed.index]).toBe(0);
      // Its events were all in the store before it died: what it took with it were deliveries in flight.
      expect(killed.journaled).toBe(true);

      const journals = apps.flatMap((app) => app.messages.filter(isJournal) as JournalMessage[]);
      const expected = new Map(journals.flatMap(({ eventIds, indices }) => [...journaledDeliveries(receiver.url(), test.records, eventIds, indices)]));
      expect(expected.size).toBe(test.events);
      await test.afterExit?.();
      const check = expectEveryDeliveryOnceInOrder(receiver.requests, expected, test.maxDuplicates);

      const drained = await survivor.waitFor('drained');
      // Both delivered: the killed instance before it died, the survivor (whose callbacks run for its own deliveries only) the rest.
      expect(killed.deliveredBefore).toBeGreaterThan(0);
      expect(drained.callbacks).toBeGreaterThan(0);
      expect(drained.callbacks).toBeLessThan(test.events);
      expect(drained.delivered).toBeGreaterThanOrEqual(test.minOutcomesSeen);
      expect(drained.delivered).toBeLessThanOrEqual(test.events);
      if (process.env['PRINT_FIGURES'] !== undefined) {
        console.info(
          JSON.stringify({
            test: `${test.store} two instances through createProvisioner`,
            events: test.events,
            records: test.records,
            arrivedBeforeKill: killed.arrivedBefore,
            ...test.journalFigures(journals),
            deliveredByKilledBeforeKill: killed.deliveredBefore,
            deliveredBySurvivor: drained.callbacks,
            outcomesSeenBySurvivor: drained.delivered,
            duplicates: check.duplicates,
            lost: check.missing.length,
            totalMs: Date.now() - started,
          }),
        );
      }
    } finally {
      for (const app of apps) app.child.kill('SIGKILL');
      await receiver.close();
    }
  }, test.timeoutMs);
}
