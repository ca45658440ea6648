/**
 * The messages of the Redis store's outcome stream: an outcome as another instance reads it
 * (event, request without secrets, response, error), and the announcement of new endpoints.
 * @internal
 * @packageDocumentation
 */
import type { DeliveryOutcome } from '../events/outcomes.js';
import { loadOutcome, storeOutcome, type StoredOutcome } from './storedOutcome.js';

/** An outcome as appended to the outcome stream for the other instances. @internal */
export type WireOutcome = { readonly type: 'outcome'; readonly instance: string; readonly deliveryId: string } & StoredOutcome;

/** Appended when an instance records an endpoint no instance had: the others start its workers. @internal */
export type WireEndpoints = { readonly type: 'endpoints'; readonly instance: string };

/** A message of the outcome stream. @internal */
export type WireMessage = WireOutcome | WireEndpoints;

/**
 * An outcome as the stream carries it; `event` is the job's encoded event, `request` its
 * stored request when the caller has it (see `storeOutcome`).
 *
 * @example
 * ```ts
 * await stream.append(JSON.stringify(wireOutcome(instance, deliveryId, outcome, job.data.event)));
 * ```
 * @internal
 */
export function wireOutcome<R>(instance: string, deliveryId: string, outcome: DeliveryOutcome<R>, event: string, request?: string): WireOutcome {
  return { type: 'outcome', instance, deliveryId, ...storeOutcome(outcome, event, request) };
}

/**
 * The outcome another instance appended; throws when it cannot be read.
 *
 * @example
 * ```ts
 * outcomes.next({ deliveryId: wire.deliveryId, outcome: outcomeOfWire(wire), local: false });
 * ```
 * @internal
 */
export function outcomeOfWire<R>(wire: WireOutcome): DeliveryOutcome<R> {
  return loadOutcome(wire);
}

/** A message read from the outcome stream, or `null` when it is not JSON. @internal */
export function parseWire(message: string): WireMessage | null {
  try {
    return JSON.parse(message) as WireMessage;
  } catch {
    return null;
  }
}
