// Minimal plan and attempt handlers for the store tests (phase 2 plugs in toRequests and the
// HttpEffect with the retry policy): the plan POSTs the record's id and revision to the
// endpoint; one attempt is one fetch; 2xx delivered, 5xx and network errors retried after
// `retryDelayMs` until `limit` retries are used, other statuses fail at once.
import {
  HttpStatusError,
  NetworkError,
  type ProvisionerResponse,
  type RequestDescriptor,
  type RequestPlan,
  type ServiceEvent,
} from '../../../src/index.js';
import type { AttemptInput, AttemptResult, DeliveryHandlers, StoredDelivery } from '../../../src/store/deliveryStore.js';
import { deliveryIdOf } from '../../../src/events/deliveryId.js';
import { revisionOf } from '../../helpers/factories.js';

export const TEST_TOKEN = 'Bearer store-test-token';

/** The request the test pipeline plans for an event and endpoint. */
export function plannedRequest(event: ServiceEvent, endpoint: string): RequestDescriptor {
  const deliveryId = deliveryIdOf(event.eventId, endpoint);
  const { recordId, revision } = revisionOf(event);
  const payload = { id: recordId, revision_id: revision };
  const body = JSON.stringify(payload);
  return {
    deliveryId,
    eventId: event.eventId,
    serviceType: event.serviceType,
    serviceMethod: event.method,
    endpoint,
    url: endpoint,
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': deliveryId, Authorization: TEST_TOKEN },
    payload,
    body,
    recordId: event.recordId,
    draftId: event.draftId,
  };
}

export type TestHandlerOptions = {
  readonly limit?: number;
  readonly retryDelayMs?: number;
  readonly timeoutMs?: number;
  /** Replaces the plan (to fail or skip some). */
  readonly plan?: (delivery: StoredDelivery) => Promise<RequestPlan>;
  readonly concurrency?: number;
};

export type TestHandlers = DeliveryHandlers & {
  /** How many times each delivery was planned. */
  readonly plans: Map<string, number>;
  /** The attempt numbers each delivery was tried with. */
  readonly attempts: Map<string, number[]>;
};

export function testHandlers(options: TestHandlerOptions = {}): TestHandlers {
  const plans = new Map<string, number>();
  const attempts = new Map<string, number[]>();
  const limit = options.limit ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 20;
  return {
    plans,
    attempts,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    restoreSecrets: (_request, names) => (names.some((name) => name.toLowerCase() === 'authorization') ? { Authorization: TEST_TOKEN } : {}),
    plan: async (delivery) => {
      plans.set(delivery.deliveryId, (plans.get(delivery.deliveryId) ?? 0) + 1);
      if (options.plan !== undefined) return options.plan(delivery);
      return { kind: 'request', event: delivery.event, request: plannedRequest(delivery.event, delivery.endpoint), acceptedAt: delivery.acceptedAt };
    },
    attempt: async (input: AttemptInput): Promise<AttemptResult> => {
      attempts.set(input.deliveryId, [...(attempts.get(input.deliveryId) ?? []), input.attempt]);
      return sendOnce(input, { limit, retryDelayMs, timeoutMs: options.timeoutMs ?? 5_000 });
    },
  };
}

/** One fetch of the request, classified. */
export async function sendOnce(
  input: { readonly request: RequestDescriptor; readonly attempt: number; readonly signal: AbortSignal },
  policy: { readonly limit: number; readonly retryDelayMs: number; readonly timeoutMs: number },
): Promise<AttemptResult> {
  const { request, attempt } = input;
  const canRetry = attempt <= policy.limit;
  let response: ProvisionerResponse;
  try {
    const answer = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === null ? {} : { body: request.body }),
      signal: AbortSignal.any([input.signal, AbortSignal.timeout(policy.timeoutMs)]),
    });
    const text = await answer.text();
    response = { status: answer.status, headers: Object.fromEntries(answer.headers), body: text === '' ? null : (JSON.parse(text) as unknown), url: request.url };
  } catch (error) {
    const networkError = new NetworkError(`Expected a response from ${request.url}, got ${error instanceof Error ? error.message : String(error)}`);
    return canRetry
      ? { kind: 'retry', delayMs: policy.retryDelayMs, reason: 'network', error: networkError, response: null }
      : { kind: 'failed', reason: 'network', error: networkError, response: null };
  }
  if (response.status >= 200 && response.status < 300) return { kind: 'delivered', response };
  const error = new HttpStatusError(`Expected a 2xx response from POST ${request.url}, got ${response.status}`, response);
  if (response.status >= 500 && canRetry) return { kind: 'retry', delayMs: policy.retryDelayMs, reason: 'http-status', error, response };
  return { kind: 'failed', reason: 'http-status', error, response };
}
