/**
 * The attempt step behind its endpoint's gate: wait for leave (or expire), send, and when the
 * endpoint's circuit opened under the attempt, wait for leave again instead of spending a retry.
 * @internal
 * @packageDocumentation
 */
import { Observable, Subscription, type Observer } from 'rxjs';
import type { EndpointGate, EndpointPermit } from '../delivery/endpointGate.js';
import type { AttemptResult } from '../store/deliveryStore.js';

/** One send's result, and whether the delivery waits for its endpoint to send again. @internal */
export type GatedStep = { readonly result: AttemptResult; readonly hold: boolean };

/**
 * Runs `send` whenever `gate` gives leave for `endpoint`, until a step is not held; emits
 * `expired()` instead when the delivery is still waiting at `deadline`. Unsubscribing
 * abandons the send in flight or leaves the queue.
 * @internal
 */
export function behindGate(
  gate: EndpointGate,
  endpoint: string,
  deliveryId: string,
  deadline: number,
  send: (permit: EndpointPermit) => Observable<GatedStep>,
  expired: () => AttemptResult,
): Observable<AttemptResult> {
  return new Observable<AttemptResult>((subscriber) => {
    let current = new Subscription();
    // Each step replaces the last; a step that ends synchronously has already set its successor.
    const follow = <T>(source: Observable<T>, observer: Partial<Observer<T>>): void => {
      const step = new Subscription();
      current = step;
      step.add(source.subscribe(observer));
    };
    const finish = (result: AttemptResult): void => {
      subscriber.next(result);
      subscriber.complete();
    };
    const run = (permit: EndpointPermit): void =>
      follow(send(permit), {
        next: (step) => (step.hold ? queue() : finish(step.result)),
        error: (error: unknown) => subscriber.error(error),
      });
    const queue = (): void => {
      const permit = gate.tryStart(endpoint, deliveryId);
      if (permit !== null) {
        run(permit);
        return;
      }
      follow(gate.wait(endpoint, deliveryId, deadline), { next: (leave) => (leave === 'expired' ? finish(expired()) : run(leave)) });
    };
    queue();
    return () => current.unsubscribe();
  });
}
