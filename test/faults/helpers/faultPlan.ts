/**
 * The fault-injecting receiver's vocabulary, shared by the receiver process and the tests:
 * which faults it can answer with, how a plan chooses among them (scripted per request or by
 * a seeded probability), what it records of every request, and what each fault means for the
 * sender (success, retryable, permanent, redirect, result unknown).
 *
 * @internal test helper
 */

/** One way the receiver can answer (or not answer) a request. */
export type Fault =
  /** A 2xx with a small JSON body (`{"ok":true,"id":"…"}`). */
  | { readonly kind: 'ok'; readonly status?: 200 | 201 | 202 }
  /** Any status with a small JSON error body: 500/502/503/504 bursts, 408, 410, 400, 404, 422… */
  | { readonly kind: 'status'; readonly status: number }
  /** 429 (or 503) with `Retry-After` as delay-seconds or as an HTTP-date that many seconds ahead. */
  | { readonly kind: 'retry-after'; readonly form: 'seconds' | 'http-date'; readonly seconds: number; readonly status?: 429 | 503 }
  /** A redirect that must not be followed. */
  | { readonly kind: 'redirect'; readonly status: 301 | 302 | 303 | 307 | 308; readonly location?: string }
  /** The connection is reset as soon as the request head arrives, before its body is read. */
  | { readonly kind: 'reset-before-body' }
  /** The body is read in full (the receiver may have acted on it), then the connection is reset. */
  | { readonly kind: 'reset-after-body' }
  /** The body is read, then nothing is ever answered: the sender must time out. */
  | { readonly kind: 'hang' }
  /** A 200 JSON answer written one byte at a time, `byteDelayMs` apart. */
  | { readonly kind: 'slow'; readonly byteDelayMs: number; readonly bytes?: number }
  /** A 200 whose body claims to be JSON and is not. */
  | { readonly kind: 'non-json' }
  /** A 200 with an empty body. */
  | { readonly kind: 'empty' }
  /** A 204 No Content. */
  | { readonly kind: 'no-content' }
  /** A 200 JSON body of `bytes` bytes, meant to exceed the sender's response cap. */
  | { readonly kind: 'oversize'; readonly bytes: number }
  /** A 200 whose content type is `text/html` (the body is an HTML page). */
  | { readonly kind: 'wrong-type' };

/** The kinds of {@link Fault}. */
export type FaultKind = Fault['kind'];

/** A weighted choice for the probabilistic part of a plan. */
export type WeightedFault = { readonly fault: Fault; readonly weight: number };

/** A rule answering matching requests with a scripted sequence of faults. */
export type FaultRule = {
  /** Exact `pathname + search` of the request. */
  readonly path?: string;
  /** Prefix of `pathname + search`. */
  readonly pathPrefix?: string;
  readonly method?: string;
  /** Faults for the 1st, 2nd… matching request; once used up the rule no longer matches. */
  readonly faults: readonly Fault[];
  /** Start over when used up instead of no longer matching. @default false */
  readonly repeat?: boolean;
};

/** What the receiver answers with. Scripted parts win over the probabilistic part. */
export type ReceiverPlan = {
  /** Seed of the probabilistic choice. @default 1 */
  readonly seed?: number;
  /** Faults for the next requests, whatever their path, in arrival order. */
  readonly script?: readonly Fault[];
  /** Per-path scripted faults; the first matching rule with faults left answers. */
  readonly rules?: readonly FaultRule[];
  /** Share of the other requests (0..1) answered with a fault drawn from `mix`. @default 0 */
  readonly failShare?: number;
  readonly mix?: readonly WeightedFault[];
  /**
   * At most this many faults for one delivery (counted by `webhook-id`); later attempts get
   * the default. Lets a chaos run choose how many deliveries can reach the retry limit.
   */
  readonly maxFaultsPerDelivery?: number;
  /** The answer when nothing else applies. @default { kind: 'ok' } */
  readonly default?: Fault;
  /** `full` keeps headers and bodies of every request; `light` only ids, path and fault. @default 'full' */
  readonly record?: 'full' | 'light';
};

/** How the receiver's side of a request ended. */
export type RequestEnd =
  /** The response was written in full. */
  | 'answered'
  /** The receiver reset the connection. */
  | 'reset'
  /** The client went away before the response was complete (timeout, abort, body cap). */
  | 'client-closed'
  /** Still open (only while the request is in flight). */
  | 'open';

/** What the receiver recorded of one request. */
export type RecordedRequest = {
  /** Arrival order, from 1. */
  readonly seq: number;
  readonly receivedAt: number;
  readonly method: string;
  /** `pathname + search`, as the request line had it. */
  readonly path: string;
  /** Lower-cased header names (only with `record: 'full'`). */
  readonly headers: Readonly<Record<string, string>> | null;
  /** The raw body, when it was read (not after `reset-before-body`; only with `record: 'full'`). */
  readonly body: string | null;
  readonly webhookId: string | null;
  readonly idempotencyKey: string | null;
  /** 0 for the first request with this delivery id, 1 for the second… */
  readonly attempt: number;
  readonly fault: Fault;
  readonly faultName: string;
  end: RequestEnd;
  /** When the response was written in full, the connection reset, or the client went away. */
  endedAt: number | null;
};

/** Counters kept whatever the record mode. */
export type ReceiverStats = {
  readonly requests: number;
  readonly byFault: Readonly<Record<string, number>>;
  readonly distinctDeliveryIds: number;
  readonly open: number;
};

/** A short stable name of a fault, for tallies: `status-503`, `retry-after-http-date`, `redirect-307`… */
export function faultName(fault: Fault): string {
  switch (fault.kind) {
    case 'ok':
      return fault.status === undefined || fault.status === 200 ? 'ok' : `ok-${fault.status}`;
    case 'status':
      return `status-${fault.status}`;
    case 'retry-after':
      return `retry-after-${fault.form}`;
    case 'redirect':
      return `redirect-${fault.status}`;
    default:
      return fault.kind;
  }
}

/**
 * What a fault means to a sender that follows the design's retry rules:
 * - `success`: a 2xx was answered (delivered);
 * - `retryable`: 408/425/429/5xx, or a reset before the body was read (nothing was done);
 * - `unknown`: the receiver read the body and the sender cannot know whether it acted
 *   (reset after the body, no answer): retried, and a duplicate at the receiver is allowed;
 * - `permanent`: another 4xx, not retried;
 * - `redirect`: 3xx, not followed, not retried.
 */
export type FaultClass = 'success' | 'retryable' | 'unknown' | 'permanent' | 'redirect';

/** The {@link FaultClass} of a fault. A `slow` answer that the sender gave up on is `unknown`: pass `end`. */
export function classifyFault(fault: Fault, end?: RequestEnd): FaultClass {
  switch (fault.kind) {
    case 'ok':
    case 'non-json':
    case 'empty':
    case 'no-content':
    case 'oversize':
    case 'wrong-type':
      return 'success';
    case 'slow':
      return end === 'client-closed' ? 'unknown' : 'success';
    case 'hang':
    case 'reset-after-body':
      return 'unknown';
    case 'reset-before-body':
      return 'retryable';
    case 'retry-after':
      return 'retryable';
    case 'redirect':
      return 'redirect';
    case 'status':
      return classifyStatus(fault.status);
  }
}

/** The class of a bare status, by the design's retry rules. */
export function classifyStatus(status: number): FaultClass {
  if (status >= 200 && status < 300) return 'success';
  if (status >= 300 && status < 400) return 'redirect';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retryable';
  return 'permanent';
}

/** Whether the receiver may have acted on the request (it read the whole body and did not refuse it). */
export function mayHaveActed(request: Pick<RecordedRequest, 'fault' | 'end'>): boolean {
  const cls = classifyFault(request.fault, request.end);
  return cls === 'success' || cls === 'unknown';
}

/** A 32-bit string hash (FNV-1a), the seed of the per-request choice. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** mulberry32: a small seeded PRNG giving floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Chooses the probabilistic fault of one request. The choice depends only on the seed, the
 * method, the path and the attempt number of the request's delivery, never on arrival order
 * across records, so a run with the same seed and the same requests gets the same faults
 * however the sender interleaves them.
 */
export function chooseByChance(
  plan: ReceiverPlan,
  request: { readonly method: string; readonly path: string; readonly attempt: number },
): Fault | null {
  const share = plan.failShare ?? 0;
  const mix = plan.mix ?? [];
  if (share <= 0 || mix.length === 0) return null;
  const random = seededRandom(hashString(`${plan.seed ?? 1}|${request.method}|${request.path}|${request.attempt}`));
  if (random() >= share) return null;
  const total = mix.reduce((sum, entry) => sum + entry.weight, 0);
  let pick = random() * total;
  for (const entry of mix) {
    pick -= entry.weight;
    if (pick < 0) return entry.fault;
  }
  return mix[mix.length - 1]?.fault ?? null;
}

/** Whether a rule matches a request. */
export function ruleMatches(rule: FaultRule, request: { readonly method: string; readonly path: string }): boolean {
  if (rule.method !== undefined && rule.method.toUpperCase() !== request.method.toUpperCase()) return false;
  if (rule.path !== undefined && rule.path !== request.path) return false;
  if (rule.pathPrefix !== undefined && !request.path.startsWith(rule.pathPrefix)) return false;
  return true;
}
