/**
 * Collecting what a provisioner reports, and naming outcomes for assertions, shared by the
 * provisioner tests and the fault suite.
 *
 * @internal test helper
 */
import type { Observable, Subscription } from 'rxjs';
import type { AppRecord, CallbackOutcome, DeliveryOutcome } from '../../src/index.js';

/** Everything a provisioner reported, collected as it comes. */
export type Collected<R> = {
  readonly outcomes: DeliveryOutcome<R>[];
  readonly callbacks: CallbackOutcome<R>[];
  /** Whether `outcomes$` and `callbacks$` completed. */
  readonly completed: { outcomes: boolean; callbacks: boolean };
  /** Stops collecting. */
  stop(): void;
};

/** What a provisioner reports on. */
export type Reporting<R> = { readonly outcomes$: Observable<DeliveryOutcome<R>>; readonly callbacks$: Observable<CallbackOutcome<R>> };

/** Subscribes to a provisioner's `outcomes$` and `callbacks$` and keeps what they emit. */
export function collect<R>(provisioner: Reporting<R>): Collected<R> {
  const outcomes: DeliveryOutcome<R>[] = [];
  const callbacks: CallbackOutcome<R>[] = [];
  const completed = { outcomes: false, callbacks: false };
  const subscriptions: Subscription[] = [
    provisioner.outcomes$.subscribe({ next: (outcome) => outcomes.push(outcome), complete: () => (completed.outcomes = true) }),
    provisioner.callbacks$.subscribe({ next: (outcome) => callbacks.push(outcome), complete: () => (completed.callbacks = true) }),
  ];
  return { outcomes, callbacks, completed, stop: () => subscriptions.forEach((subscription) => subscription.unsubscribe()) };
}

/** {@link collect} for the fault suite, which reads every record as an `AppRecord` whatever the provisioner's record type. */
export function collectAppRecords(provisioner: Reporting<unknown>): Collected<AppRecord> {
  return collect(provisioner) as Collected<unknown> as Collected<AppRecord>;
}

/** `kind` or `kind reason` of an outcome. */
export function kindOf(outcome: DeliveryOutcome<unknown>): string {
  return outcome.kind === 'delivered' ? 'delivered' : `${outcome.kind} ${outcome.reason}`;
}

/** How many outcomes of each `kindOf`. */
export function tally(outcomes: readonly DeliveryOutcome<unknown>[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[kindOf(outcome)] = (counts[kindOf(outcome)] ?? 0) + 1;
  return counts;
}
