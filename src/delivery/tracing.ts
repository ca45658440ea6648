/**
 * OpenTelemetry spans of a delivery: one span per delivery, the child of the context that was
 * active when the app called the hook (carried with the event, see `util/traceContext.ts`),
 * and one HTTP client span per attempt under it, whose context the receiver gets as
 * `traceparent` (through the app's configured propagator). Everything here goes through
 * `@opentelemetry/api` only: without an SDK the spans are no-ops and no header is added.
 * @internal
 * @packageDocumentation
 */
import { INVALID_SPAN_CONTEXT, ProxyTracerProvider, SpanKind, SpanStatusCode, propagation, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { ProvisionerResponse, RequestDescriptor } from '../events/request.js';
import { redactUrl } from '../util/redact.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../util/packageInfo.js';
import type { TraceCarrier } from '../events/serviceEvent.js';
import { restoreTraceContext } from '../util/traceContext.js';

/** Attribute names of our own (OpenTelemetry's HTTP conventions name the rest). @internal */
export const ATTRIBUTES = {
  deliveryId: 'remote_api_provisioner.delivery.id',
  serviceType: 'remote_api_provisioner.service.type',
  serviceMethod: 'remote_api_provisioner.service.method',
  endpoint: 'remote_api_provisioner.endpoint',
  recordId: 'remote_api_provisioner.record.id',
  outcome: 'remote_api_provisioner.outcome',
  reason: 'remote_api_provisioner.reason',
  attempts: 'remote_api_provisioner.attempts',
  store: 'remote_api_provisioner.store',
} as const;

let cachedTracer: Tracer | undefined;
/** The package's tracer; a proxy until the app registers a provider, which it then follows. */
function tracer(): Tracer {
  cachedTracer ??= trace.getTracer(PACKAGE_NAME, PACKAGE_VERSION);
  return cachedTracer;
}

/** The delegate of `trace`'s proxy provider while the app has registered none (the API's own no-op provider). */
const NO_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a delivery's spans would be recorded or its context sent: not while the app has
 * registered neither a tracer provider nor a propagator (the spans would be no-ops, no header
 * would be added), so the pipeline skips them. Read per delivery: an app may register later.
 * @internal
 */
export function tracingActive(): boolean {
  const provider = trace.getTracerProvider();
  if (!(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NO_PROVIDER) return true;
  return propagation.fields().length > 0;
}

/** The span of an attempt that is not traced (see {@link tracingActive}). @internal */
export const UNTRACED_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** What a delivery span is about. @internal */
export type DeliverySubject = {
  readonly deliveryId: string;
  readonly serviceType: string;
  readonly serviceMethod: string;
  readonly endpoint: string;
  readonly recordId: string | null;
};

/** A delivery's span and the context its attempts start in. @internal */
export type DeliveryTrace = { readonly span: Span; readonly context: Context };

/**
 * Starts the span of one delivery, the child of the hook call's context (`carrier`).
 * @internal
 */
export function startDeliverySpan(subject: DeliverySubject, carrier: TraceCarrier | undefined, startTime?: number): DeliveryTrace {
  const parent = restoreTraceContext(carrier);
  const span = tracer().startSpan(
    `deliver ${subject.serviceType}.${subject.serviceMethod}`,
    { kind: SpanKind.PRODUCER, ...(startTime === undefined ? {} : { startTime }) },
    parent,
  );
  if (span.isRecording()) {
    const attributes: Attributes = {
      [ATTRIBUTES.deliveryId]: subject.deliveryId,
      [ATTRIBUTES.serviceType]: subject.serviceType,
      [ATTRIBUTES.serviceMethod]: subject.serviceMethod,
      [ATTRIBUTES.endpoint]: redactUrl(subject.endpoint),
    };
    if (subject.recordId !== null) attributes[ATTRIBUTES.recordId] = subject.recordId;
    span.setAttributes(attributes);
  }
  return { span, context: trace.setSpan(parent, span) };
}

/** How a delivery ended, for its span. @internal */
export type DeliveryEnd = { readonly kind: 'delivered' | 'failed' | 'skipped'; readonly reason?: string; readonly attempts?: number; readonly message?: string };

/**
 * Ends a delivery span with its outcome.
 * @internal
 */
export function endDeliverySpan(deliveryTrace: DeliveryTrace, end: DeliveryEnd): void {
  const { span } = deliveryTrace;
  span.setAttribute(ATTRIBUTES.outcome, end.kind);
  if (end.reason !== undefined) span.setAttribute(ATTRIBUTES.reason, end.reason);
  if (end.attempts !== undefined) span.setAttribute(ATTRIBUTES.attempts, end.attempts);
  if (end.kind === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, ...(end.message === undefined ? {} : { message: end.message }) });
  span.end();
}

/** One attempt's client span and the request to send (with `traceparent` when a propagator is set). @internal */
export type AttemptTrace = { readonly span: Span; readonly request: RequestDescriptor };

/**
 * Starts the HTTP client span of one attempt (number `attempt`, 1 for the first) under the
 * delivery's context, and puts its context into the request's headers through the app's
 * propagator. The URL is redacted (no credentials or secret query values in attributes).
 * @internal
 */
export function startAttemptSpan(parent: Context, request: RequestDescriptor, attempt: number): AttemptTrace {
  const span = tracer().startSpan(request.method, { kind: SpanKind.CLIENT }, parent);
  // Attributes only for a span that records: without an SDK an attempt costs no URL parsing.
  if (span.isRecording()) span.setAttributes(attemptAttributes(request, attempt));
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), carrier);
  for (const _ in carrier) return { span, request: { ...request, headers: { ...request.headers, ...carrier } } };
  return { span, request };
}

/**
 * Ends an attempt span with the response (any status) or the error it ended with.
 * `error.type` is the status code for 4xx/5xx and 3xx (not followed here), the error's name
 * otherwise, as OpenTelemetry's HTTP conventions ask.
 * @internal
 */
export function endAttemptSpan(span: Span, result: { readonly response: ProvisionerResponse | null; readonly error?: unknown }): void {
  const status = result.response?.status;
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  let errorType: string | undefined;
  if (status !== undefined && (status >= 300 || status < 200)) errorType = String(status);
  else if (result.error !== undefined) errorType = result.error instanceof Error ? result.error.name : '_OTHER';
  if (errorType !== undefined) {
    span.setAttribute('error.type', errorType);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

function attemptAttributes(request: RequestDescriptor, attempt: number): Attributes {
  const attributes: Attributes = { 'http.request.method': request.method, 'url.full': redactUrl(request.url) };
  const server = serverOf(request.url);
  if (server !== undefined) {
    attributes['server.address'] = server.address;
    attributes['server.port'] = server.port;
  }
  if (attempt > 1) attributes['http.request.resend_count'] = attempt - 1;
  return attributes;
}

/** Host and port of a request URL (cached: deliveries go to few URLs). @internal */
export function serverOf(url: string): { readonly address: string; readonly port: number } | undefined {
  const cached = servers.get(url);
  if (cached !== undefined || servers.has(url)) return cached;
  let server: { readonly address: string; readonly port: number } | undefined;
  try {
    const parsed = new URL(url);
    server = { address: parsed.hostname, port: parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port) };
  } catch {
    server = undefined;
  }
  if (servers.size >= MAX_CACHED_SERVERS) servers.clear();
  servers.set(url, server);
  return server;
}

const servers = new Map<string, { readonly address: string; readonly port: number } | undefined>();
const MAX_CACHED_SERVERS = 256;
