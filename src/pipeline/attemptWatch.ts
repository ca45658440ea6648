/**
 * What the pipeline makes visible of each attempt and each settled delivery: the attempts$
 * stream, a debug line for a delivery's first retry, OpenTelemetry spans (one per delivery, the
 * child of the hook call's context, and one HTTP client span per attempt whose context the
 * receiver gets as `traceparent`) and metrics. One place, so that every store path reports
 * the same way.
 * @internal
 * @packageDocumentation
 */
import { Subject, type Observable } from 'rxjs';
import { createProvisionerMetrics, type CircuitSnapshot, type QueueSnapshot } from '../delivery/metrics.js';
import { UNTRACED_SPAN, endAttemptSpan, endDeliverySpan, startAttemptSpan, startDeliverySpan, tracingActive, type AttemptTrace, type DeliveryTrace } from '../delivery/tracing.js';
import type { DeliveryAttempt } from '../events/deliveryAttempt.js';
import type { DeliveryOutcome } from '../events/outcomes.js';
import type { RequestDescriptor } from '../events/request.js';
import type { AppRecord } from '../events/serviceEvent.js';
import type { AttemptInput, AttemptResult } from '../store/deliveryStore.js';
import { logger } from '../util/log.js';
import { redactUrl } from '../util/redact.js';

const log = logger('delivery');

/** Delivery spans still open, at most: past it the oldest is ended (a delivery settled elsewhere). */
const MAX_OPEN_DELIVERIES = 100_000;

/** The pipeline's reporting of attempts and outcomes. @internal */
export type AttemptWatch<R> = {
  readonly attempts$: Observable<DeliveryAttempt>;
  /** Attempts in flight in this process. */
  inFlight(): number;
  /** An attempt starts: its span, and the request to send (with the trace context). */
  started(input: AttemptInput<R>): AttemptTrace;
  /** The attempt ended with `result` after `durationMs`. */
  ended(input: AttemptInput<R>, trace: AttemptTrace, result: AttemptResult, durationMs: number): void;
  /** The attempt was abandoned (the store closed). */
  abandoned(trace: AttemptTrace): void;
  /** A delivery settled in this process. */
  settled(deliveryId: string | null, outcome: DeliveryOutcome<R>): void;
  close(): void;
};

/** Creates the watch of one provisioner; `queue` feeds the queue gauges. @internal */
export function createAttemptWatch<R = AppRecord>(store: string, queue: () => Promise<QueueSnapshot>, circuits?: () => Iterable<CircuitSnapshot>): AttemptWatch<R> {
  const attempts = new Subject<DeliveryAttempt>();
  const deliveries = new Map<string, DeliveryTrace>();
  let inFlight = 0;
  let lastQueue: QueueSnapshot = { pending: 0, oldestAgeMs: null };
  // Gauges are read synchronously: they show the snapshot taken at the previous collection.
  const metrics = createProvisionerMetrics(store, () => {
    queue().then(
      (snapshot) => {
        lastQueue = snapshot;
      },
      () => undefined,
    );
    return lastQueue;
  }, circuits);

  const deliveryTraceOf = (input: AttemptInput<R>): DeliveryTrace => {
    let trace = deliveries.get(input.deliveryId);
    if (trace === undefined) {
      trace = startDeliverySpan(subjectOf(input.request), input.event.traceContext, input.acceptedAt);
      if (deliveries.size >= MAX_OPEN_DELIVERIES) {
        const oldest = deliveries.keys().next().value;
        if (oldest !== undefined) {
          deliveries.get(oldest)?.span.end();
          deliveries.delete(oldest);
        }
      }
      deliveries.set(input.deliveryId, trace);
    }
    return trace;
  };

  return {
    attempts$: attempts.asObservable(),
    inFlight: () => inFlight,
    started(input) {
      inFlight += 1;
      // No provider and no propagator: no span would record, no header would be added.
      if (!tracingActive() && !deliveries.has(input.deliveryId)) return { span: UNTRACED_SPAN, request: input.request };
      return startAttemptSpan(deliveryTraceOf(input).context, input.request, input.attempt);
    },
    ended(input, trace, result, durationMs) {
      inFlight -= 1;
      const { request } = input;
      const response = result.response;
      const error = result.kind === 'delivered' ? null : result.error;
      if (trace.span !== UNTRACED_SPAN) endAttemptSpan(trace.span, { response, ...(error === null ? {} : { error }) });
      metrics.attempt(durationMs, request, response, error ?? undefined);
      if (result.kind === 'retry' && input.attempt === 1 && log.enabled) {
        log('delivery %s to %s: attempt 1 did not deliver (%s: %s), retrying in %d ms', request.deliveryId, redactUrl(request.endpoint), result.reason, result.error.message, Math.round(result.delayMs));
      }
      if (!attempts.observed) return;
      attempts.next({
        deliveryId: request.deliveryId,
        serviceType: request.serviceType,
        serviceMethod: request.serviceMethod,
        endpoint: request.endpoint,
        recordId: request.recordId,
        attempt: input.attempt,
        result: result.kind,
        status: response?.status ?? null,
        reason: result.kind === 'delivered' ? null : result.reason,
        error,
        nextDelayMs: result.kind === 'retry' ? result.delayMs : null,
        durationMs,
      });
    },
    abandoned(trace) {
      inFlight -= 1;
      endAttemptSpan(trace.span, { response: null, error: new Error('abandoned: the store closed') });
    },
    settled(deliveryId, outcome) {
      const reason = outcome.kind === 'delivered' ? undefined : outcome.reason;
      metrics.outcome(outcome.kind, reason);
      const open = deliveryId === null ? undefined : deliveries.get(deliveryId);
      if (open !== undefined) deliveries.delete(deliveryId as string);
      else if (!tracingActive()) return;
      // A delivery settled without an attempt (skipped, or failed while planned) gets a span too.
      const trace = open ?? startDeliverySpan(subjectOfOutcome(deliveryId, outcome), outcome.event.traceContext, outcome.acceptedAt);
      endDeliverySpan(trace, {
        kind: outcome.kind,
        ...(reason === undefined ? {} : { reason }),
        ...(outcome.kind === 'skipped' ? {} : { attempts: outcome.attempts }),
        ...(outcome.kind === 'failed' ? { message: outcome.error.message } : {}),
      });
    },
    close() {
      for (const trace of deliveries.values()) trace.span.end();
      deliveries.clear();
      metrics.close();
      attempts.complete();
    },
  };
}

function subjectOf(request: RequestDescriptor) {
  return { deliveryId: request.deliveryId, serviceType: request.serviceType, serviceMethod: request.serviceMethod, endpoint: request.endpoint, recordId: request.recordId };
}

function subjectOfOutcome<R>(deliveryId: string | null, outcome: DeliveryOutcome<R>) {
  return {
    deliveryId: deliveryId ?? '',
    serviceType: outcome.event.serviceType,
    serviceMethod: outcome.event.method,
    endpoint: outcome.endpoint,
    recordId: outcome.event.recordId,
  };
}
