/**
 * The attempt step behind its endpoint's gate: wait for leave (or expire), then send once.
 * @internal
 * @packageDocumentation
 */
import { Observable, Subscription } from 'rxjs';
import type { EndpointGate, EndpointPermit } from '../delivery/endpointGate.js';
import type { AttemptResult } from '../store/deliveryStore.js';

/**
 * Runs `send` when `gate` gives leave for `endpoint` (at once when nothing waits and the
 * endpoint allows it); emits `expired()` instead when the delivery is still waiting at
 * `deadline`. A `fresh` delivery (never sent) is preferred as the probe of an open circuit.
 * Unsubscribing abandons the send in flight, or leaves the queue and calls `waitAbandoned`.
 * @internal
 */
export function behindGate(
  gate: EndpointGate,
  endpoint: string,
  deliveryId: string,
  deadline: number,
  fresh: boolean,
  send: (permit: EndpointPermit) => Observable<AttemptResult>,
  expired: () => AttemptResult,
  waitAbandoned: () => void,
): Observable<AttemptResult> {
  const permit = gate.tryStart(endpoint, deliveryId);
  if (permit !== null) return send(permit);
  return new Observable<AttemptResult>((subscriber) => {
    const sending = new Subscription();
    let waited = false;
    const waiting = gate.wait(endpoint, deliveryId, deadline, fresh).subscribe((leave) => {
      waited = true;
      if (leave !== 'expired') {
        sending.add(send(leave).subscribe(subscriber));
        return;
      }
      subscriber.next(expired());
      subscriber.complete();
    });
    return () => {
      waiting.unsubscribe();
      sending.unsubscribe();
      // Cut short while it waited (a durable store's lock ran out): nothing was sent.
      if (!waited) waitAbandoned();
    };
  });
}
