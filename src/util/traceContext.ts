/**
 * The trace context of a hook call, kept with its event so that the delivery's spans are
 * children of the span that was active when the app called the hook: later, after a restart
 * (durable stores keep it with the journaled event) or in another instance.
 * @internal
 * @packageDocumentation
 */
import { ROOT_CONTEXT, context, propagation, type Context } from '@opentelemetry/api';
import type { TraceCarrier } from '../events/serviceEvent.js';

/**
 * The active context as a carrier, or `undefined` when there is nothing to carry (no SDK or
 * propagator registered, or no span active): the common case costs one `inject` into an
 * empty object.
 * @internal
 */
export function captureTraceContext(): TraceCarrier | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  for (const _ in carrier) return carrier;
  return undefined;
}

/**
 * The context a carrier describes (the root context without one).
 * @internal
 */
export function restoreTraceContext(carrier: TraceCarrier | undefined): Context {
  return carrier === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, carrier);
}
