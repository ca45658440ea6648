/**
 * Chaos runs: thousands of events through `createProvisioner` (signing on, short backoff set
 * through the public `http` options) against a receiver process that fails a configurable
 * share of requests in mixed ways. Every (event, endpoint) must end in exactly one outcome
 * that agrees with what the sender saw of each attempt and with what the receiver did, in
 * order, with stable delivery ids and valid signatures. The HTTP effect is the library's ky
 * effect, passed in only to watch each attempt's result on the sender's side.
 *
 * The same run, with the same counts and checks, goes through each store (chaos.memory,
 * chaos.sqlite, chaos.redis): every store keeps the order per (endpoint, record) across
 * retries, counts attempts the same way and ends each pair in one outcome.
 *
 * FAULTS_SHARE (0..1, default 0.3) and FAULTS_SEED change the run.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalize, tap } from 'rxjs';
import { createKyEffect, createProvisioner, defineConfig, type DeliveryOutcome, type HttpEffect } from 'remote-api-provisioner';
import { classifyFault, classifyStatus, mayHaveActed, type Fault, type FaultRule, type RecordedRequest, type WeightedFault } from './faultPlan.js';
import type { FaultReceiver } from './faultReceiver.js';
import { endSuite, startSuite, type FaultStore } from './stores.js';
import { countBy, printFigures, tallyOutcomes, withDeadline } from './suite.js';
import { recordAt, type TestRecord } from '../../helpers/factories.js';
import { collectAppRecords } from '../../helpers/outcomes.js';

const FAULT_SHARE = Number(process.env['FAULTS_SHARE'] ?? 0.3);
const SEED = Number(process.env['FAULTS_SEED'] ?? 20260302);
const RECORDS = 200;
const EVENTS_PER_RECORD = 10;
const RETRY_LIMIT = 3;
/**
 * The per-attempt timeout, 1 s with every store. The store's own work shares the sender's
 * event loop (SQLite's synchronous writes, Redis round trips for every job), and all the
 * suite's files run at once: with 300 ms, answers the receiver gave at once were read after
 * the deadline often enough on the 2-core machine to turn a scripted 410 or 307 into a
 * timeout and a retry. Hangs still time out, and the slow trickle (50 ms a byte, 2 s in all)
 * too.
 */
const TIMEOUT_MS = 1_000;
const MAX_RETRY_AFTER_MS = 50;
const MAX_RESPONSE_BYTES = 4_096;
/** Sent as `Authorization: Bearer`; durable stores never write it and add it back from the config on every attempt. */
const TOKEN = 'tok_fault_suite_chaos';
const SECRET = `whsec_${Buffer.from('fault-suite-signing-key-0123456789').toString('base64')}`;

/** The methods each record goes through, in event order (revision = index + 1). */
const LIFE = ['publish', 'mark_record', 'publish', 'delete_record', 'restore_record', 'publish', 'unmark_record', 'publish', 'delete_record', 'restore_record'] as const;
type LifeMethod = (typeof LIFE)[number];

const MIX: readonly WeightedFault[] = [
  { fault: { kind: 'status', status: 500 }, weight: 3 },
  { fault: { kind: 'status', status: 502 }, weight: 2 },
  { fault: { kind: 'status', status: 503 }, weight: 3 },
  { fault: { kind: 'status', status: 504 }, weight: 2 },
  { fault: { kind: 'retry-after', form: 'seconds', seconds: 1 }, weight: 1.5 },
  { fault: { kind: 'retry-after', form: 'http-date', seconds: 2 }, weight: 1 },
  { fault: { kind: 'status', status: 408 }, weight: 1 },
  { fault: { kind: 'status', status: 425 }, weight: 0.3 },
  { fault: { kind: 'status', status: 410 }, weight: 0.6 },
  { fault: { kind: 'status', status: 400 }, weight: 0.3 },
  { fault: { kind: 'status', status: 404 }, weight: 0.3 },
  { fault: { kind: 'status', status: 422 }, weight: 0.3 },
  { fault: { kind: 'redirect', status: 301 }, weight: 0.3 },
  { fault: { kind: 'redirect', status: 302 }, weight: 0.3 },
  { fault: { kind: 'redirect', status: 307 }, weight: 0.3 },
  { fault: { kind: 'reset-before-body' }, weight: 2 },
  { fault: { kind: 'reset-after-body' }, weight: 2 },
  { fault: { kind: 'hang' }, weight: 0.7 },
  { fault: { kind: 'slow', byteDelayMs: 2, bytes: 30 }, weight: 1 },
  { fault: { kind: 'slow', byteDelayMs: 50, bytes: 40 }, weight: 0.3 },
  { fault: { kind: 'non-json' }, weight: 1 },
  { fault: { kind: 'empty' }, weight: 1 },
  { fault: { kind: 'no-content' }, weight: 1 },
  { fault: { kind: 'oversize', bytes: 64 * 1024 }, weight: 1 },
  { fault: { kind: 'wrong-type' }, weight: 1 },
];

const recordId = (index: number): string => `rec-${String(index).padStart(4, '0')}`;

/** Faults scripted on the first event of a few records, so that every path is taken whatever the seed. */
const SCRIPTED: Readonly<Record<string, { readonly faults: readonly Fault[]; readonly repeat?: boolean }>> = {
  [recordId(0)]: { faults: [{ kind: 'status', status: 503 }], repeat: true },
  [recordId(1)]: { faults: [{ kind: 'reset-after-body' }, { kind: 'ok' }] },
  [recordId(2)]: { faults: [{ kind: 'hang' }, { kind: 'ok' }] },
  [recordId(3)]: { faults: [{ kind: 'status', status: 410 }] },
  [recordId(4)]: { faults: [{ kind: 'redirect', status: 307 }] },
  [recordId(5)]: { faults: [{ kind: 'reset-before-body' }], repeat: true },
  [recordId(6)]: { faults: [{ kind: 'hang' }], repeat: true },
  [recordId(7)]: {
    faults: [
      { kind: 'retry-after', form: 'seconds', seconds: 1 },
      { kind: 'retry-after', form: 'http-date', seconds: 2 },
      { kind: 'ok' },
    ],
  },
};

/** One attempt as the sender saw it. */
type SenderView = { readonly kind: 'response'; readonly status: number } | { readonly kind: 'error'; readonly name: string } | { readonly kind: 'aborted' };

function describeView(view: SenderView): string {
  return view.kind === 'response' ? String(view.status) : view.kind === 'error' ? view.name : 'aborted';
}

/** Retryable by the design: 408, 425, 429, 5xx, a network error or a timeout. */
function isRetryableView(view: SenderView): boolean {
  if (view.kind === 'response') return classifyStatus(view.status) === 'retryable';
  return view.kind === 'error' && (view.name === 'TimeoutError' || view.name === 'NetworkError');
}

/** The status a fault answers with, or `null` when it answers none. */
function faultStatus(fault: Fault): number | null {
  switch (fault.kind) {
    case 'ok':
      return fault.status ?? 200;
    case 'status':
    case 'redirect':
      return fault.status;
    case 'retry-after':
      return fault.status ?? 429;
    case 'no-content':
      return 204;
    case 'slow':
    case 'non-json':
    case 'empty':
    case 'oversize':
    case 'wrong-type':
      return 200;
    default:
      return null;
  }
}

/** Whether what the receiver did and what the sender saw of one attempt agree (or the sender had given up first). */
function agrees(r: RecordedRequest, view: SenderView): boolean {
  // (An oversize answer may end 'client-closed': the sender stops reading at its cap.)
  if (view.kind === 'response') return view.status === faultStatus(r.fault);
  if (view.kind === 'error' && view.name === 'TimeoutError') return true;
  return view.kind === 'error' && view.name === 'NetworkError' && (r.end === 'reset' || r.end === 'client-closed');
}

/**
 * Pairs the receiver's records of a delivery with the sender's attempts. They pair one to
 * one, except that an attempt can time out before its request reaches the receiver (a busy
 * machine can hold the sender's event loop past `timeoutMs` before the request is written):
 * such attempts, and only timeouts, may have no record. Among the ways to leave out that many
 * timeouts, the first whose pairs all agree is taken; without one, the attempts pair by index.
 */
function pairAttempts(
  seen: readonly RecordedRequest[],
  views: readonly SenderView[],
): { readonly pairs: readonly { readonly r: RecordedRequest; readonly view: SenderView | undefined }[]; readonly unreached: number } {
  const byIndex = { pairs: seen.map((r, i) => ({ r, view: views[i] })), unreached: 0 };
  const missing = views.length - seen.length;
  if (missing <= 0) return byIndex;
  const timeouts = views.flatMap((view, i) => (view.kind === 'error' && view.name === 'TimeoutError' ? [i] : []));
  const choose = (from: number, left: number): number[][] =>
    left === 0 ? [[]] : timeouts.slice(from).flatMap((index, k) => choose(from + k + 1, left - 1).map((rest) => [index, ...rest]));
  for (const dropped of choose(0, missing)) {
    const reached = views.filter((_, i) => !dropped.includes(i));
    if (seen.every((r, i) => agrees(r, reached[i] as SenderView))) return { pairs: seen.map((r, i) => ({ r, view: reached[i] })), unreached: missing };
  }
  return byIndex;
}

type ParsedPath = { readonly endpoint: string; readonly record: string; readonly revision: number };
function parsePath(path: string): ParsedPath | null {
  const match = /^\/(search|audit)\/([^/?]+)\?rev=(\d+)$/.exec(path);
  if (match === null) return null;
  return { endpoint: match[1] ?? '', record: decodeURIComponent(match[2] ?? ''), revision: Number(match[3]) };
}

/** The chaos run with `store` (chaos.<store>.test.ts). */
export function chaosSuite(store: FaultStore): void {
  describe.skipIf(store.unavailable !== null)(`chaos: faults at the receiver (${store.name} store)`, () => {
    let receiver: FaultReceiver;

    beforeAll(async () => {
      receiver = await startSuite(store);
    });
    afterAll(() => endSuite(store, receiver));

    it(`accounts for every event, keeps order and delivery ids, retries only what may be retried (${RECORDS * EVENTS_PER_RECORD} events, share ${FAULT_SHARE})`, async () => {
      const search = `${receiver.url}/search`;
      const audit = `${receiver.url}/audit`;
      const rules: FaultRule[] = Object.entries(SCRIPTED).map(([id, rule]) => ({
        path: `/search/${id}?rev=1`,
        faults: rule.faults,
        ...(rule.repeat === true ? { repeat: true } : {}),
      }));
      await receiver.setPlan({ seed: SEED, failShare: FAULT_SHARE, mix: MIX, rules, record: 'full' });

      type Args = { readonly record?: TestRecord | null };
      const body = (op: string) => (args: Args) => ({ id: args.record?.id ?? null, rev: args.record?.revision_id ?? null, op });
      const at = (base: string) => (record: TestRecord | null | undefined) =>
        `${base}/${encodeURIComponent(String(record?.id))}?rev=${String(record?.revision_id)}`;
      const events = defineConfig({
        rdm_record: {
          [search]: {
            publish: { http_method: 'POST', payload: body('publish'), url_factory: at(search), auth_token: TOKEN },
            mark_record: { http_method: 'PATCH', payload: body('mark'), url_factory: at(search), auth_token: TOKEN },
            unmark_record: { http_method: 'PATCH', payload: body('unmark'), url_factory: at(search), auth_token: TOKEN },
            delete_record: { http_method: 'DELETE', payload: body('delete'), url_factory: at(search), auth_token: TOKEN },
            restore_record: { http_method: 'PUT', payload: body('restore'), url_factory: at(search), auth_token: TOKEN },
          },
          [audit]: {
            publish: { http_method: 'PUT', payload: body('audit'), url_factory: at(audit) },
          },
        },
      } as never);

      // The default ky effect, watched: what the sender saw of each attempt is the truth the
      // retry rules are judged by (the receiver cannot tell an answer the sender got from one
      // that came after the sender had timed out).
      const kyEffect = createKyEffect({ timeoutMs: TIMEOUT_MS, maxResponseBytes: MAX_RESPONSE_BYTES });
      const seenBySender = new Map<string, SenderView[]>();
      const watched: HttpEffect = (request) => {
        const views = seenBySender.get(request.deliveryId) ?? [];
        seenBySender.set(request.deliveryId, views);
        let settled = false;
        return kyEffect(request).pipe(
          tap({
            next: (response) => {
              settled = true;
              views.push({ kind: 'response', status: response.status });
            },
            error: (error: unknown) => {
              settled = true;
              views.push({ kind: 'error', name: error instanceof Error ? error.name : String(error) });
            },
          }),
          finalize(() => {
            if (!settled) views.push({ kind: 'aborted' });
          }),
        );
      };
      const provisioner = createProvisioner({
        events,
        ...(await store.open('chaos')),
        signing: { secret: SECRET },
        http: {
          timeoutMs: TIMEOUT_MS,
          retry: { limit: RETRY_LIMIT, baseDelayMs: 2, maxDelayMs: 20, maxRetryAfterMs: MAX_RETRY_AFTER_MS },
          concurrency: 16,
          maxQueue: 20_000,
          maxResponseBytes: MAX_RESPONSE_BYTES,
          effect: watched,
        },
      });
      const collected = collectAppRecords(provisioner);
      // Retry-After answers pause their endpoint; runs of failures may open its circuit.
      const endpointStates: Record<string, number> = {};
      provisioner.endpoints$.subscribe(({ state }) => (endpointStates[state] = (endpointStates[state] ?? 0) + 1));
      const hooks = provisioner.hooks('rdm_record') as unknown as Record<LifeMethod, (args: unknown) => void>;
      const identity = { id: 7 };

      const started = performance.now();
      let emitted = 0;
      const expectedPairs = new Set<string>();
      for (let revision = 1; revision <= EVENTS_PER_RECORD; revision++) {
        const method = LIFE[revision - 1] as LifeMethod;
        for (let index = 0; index < RECORDS; index++) {
          const record = recordAt(recordId(index), revision);
          expect(() => hooks[method]({ identity, record })).not.toThrow();
          emitted += 1;
          expectedPairs.add(`search ${record.id} ${revision}`);
          if (method === 'publish') expectedPairs.add(`audit ${record.id} ${revision}`);
          // An app emits as its own requests come in, never hundreds in one tick.
          if (emitted % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      }
      await withDeadline(provisioner.drain(), 45_000, 'drain() to resolve');
      const elapsedMs = Math.round(performance.now() - started);
      const outcomes = [...collected.outcomes];
      const requests = await receiver.requests();
      await withDeadline(provisioner.close(), 10_000, 'close() to resolve');
      await kyEffect.close();
      collected.stop();

      // --- exactly one outcome per (event, endpoint), nothing lost
      const pairOf = (outcome: DeliveryOutcome): string => {
        const record = (outcome.event.args as { readonly record?: TestRecord }).record;
        const endpoint = outcome.endpoint === search ? 'search' : outcome.endpoint === audit ? 'audit' : outcome.endpoint;
        return `${endpoint} ${String(record?.id)} ${String(record?.revision_id)}`;
      };
      const outcomesByPair = new Map<string, DeliveryOutcome[]>();
      for (const outcome of outcomes) {
        const key = pairOf(outcome);
        outcomesByPair.set(key, [...(outcomesByPair.get(key) ?? []), outcome]);
      }
      const lost = [...expectedPairs].filter((pair) => !outcomesByPair.has(pair));
      const doubled = [...outcomesByPair].filter(([, list]) => list.length > 1).map(([pair]) => pair);
      const unexpected = [...outcomesByPair.keys()].filter((pair) => !expectedPairs.has(pair));

      // --- per delivery: what the receiver saw agrees with the outcome
      const byId = new Map<string, RecordedRequest[]>();
      for (const request of requests) {
        const id = request.webhookId ?? '(none)';
        byId.set(id, [...(byId.get(id) ?? []), request]);
      }
      const problems: string[] = [];
      const note = (problem: string): void => {
        if (problems.length < 25) problems.push(problem);
      };
      let retried = 0;
      let reachedLimit = 0;
      let duplicates = 0;
      let idMismatches = 0;
      let maxAttempts = 0;
      let answersTheSenderMissed = 0;
      let timedOutUnsent = 0;
      const outcomeIds = new Set<string>();
      for (const outcome of outcomes) {
        if (outcome.kind === 'skipped' || outcome.request === null) {
          note(`${pairOf(outcome)}: expected a request, got ${outcome.kind}${outcome.kind === 'failed' ? `:${outcome.reason}` : ''}`);
          continue;
        }
        const { request } = outcome;
        outcomeIds.add(request.deliveryId);
        const seen = byId.get(request.deliveryId) ?? [];
        const views = seenBySender.get(request.deliveryId) ?? [];
        const history = (): string =>
          `receiver ${seen.map((r) => `${r.faultName}/${r.end}/${r.endedAt === null ? '-' : r.endedAt - r.receivedAt}ms`).join(', ')}; ` +
          `sender ${views.map(describeView).join(', ')} → ${outcome.kind === 'delivered' ? 'delivered' : `failed:${outcome.reason}`} after ${outcome.attempts}`;
        maxAttempts = Math.max(maxAttempts, views.length);
        if (views.length > 1) retried += 1;
        if (views.length !== outcome.attempts) note(`${pairOf(outcome)}: outcome says ${outcome.attempts} attempts, the sender made ${views.length}: ${history()}`);
        const { pairs, unreached } = pairAttempts(seen, views);
        timedOutUnsent += unreached;
        if (seen.length + unreached !== views.length) note(`${pairOf(outcome)}: the receiver saw ${seen.length} attempts, the sender made ${views.length}: ${history()}`);

        // Every attempt kept the delivery id (Idempotency-Key and webhook-id), URL, method and body.
        const path = new URL(request.url).pathname + new URL(request.url).search;
        for (const r of seen) {
          if (r.idempotencyKey !== request.deliveryId || r.path !== path || r.method !== request.method || (r.body !== null && r.body !== request.body)) {
            idMismatches += 1;
            note(`${pairOf(outcome)}: attempt ${r.attempt} differs (id ${String(r.idempotencyKey)}, ${r.method} ${r.path})`);
          }
        }

        // What the receiver answered is what the sender saw, or the sender had given up first.
        pairs.forEach(({ r, view }, i) => {
          if (view === undefined) return;
          // An answer that came after the sender's deadline (a busy machine can delay either side).
          if (view.kind === 'error' && view.name === 'TimeoutError' && r.end === 'answered') answersTheSenderMissed += 1;
          if (!agrees(r, view)) note(`${pairOf(outcome)}: attempt ${i + 1}: the receiver did ${r.faultName}/${r.end}, the sender saw ${describeView(view)}: ${history()}`);
        });

        // Retried only after what the sender saw as worth retrying.
        views.slice(0, -1).forEach((view, i) => {
          if (!isRetryableView(view)) note(`${pairOf(outcome)}: retried after attempt ${i + 1} gave ${describeView(view)}: ${history()}`);
        });

        // Duplicates at the receiver only where the sender could not know the earlier result.
        const acted = pairs.filter(({ r }) => mayHaveActed(r));
        if (acted.length > 1) {
          duplicates += acted.length - 1;
          for (const { r, view } of acted.slice(0, -1)) {
            if (view?.kind !== 'error') note(`${pairOf(outcome)}: duplicate after the sender saw ${view === undefined ? 'nothing' : describeView(view)} (${r.faultName}): ${history()}`);
          }
        }

        // The outcome follows from the last attempt as the sender saw it.
        const last = views[views.length - 1];
        if (last === undefined) {
          note(`${pairOf(outcome)}: no attempt was made for delivery ${request.deliveryId}`);
          continue;
        }
        const expected =
          last.kind === 'response'
            ? last.status >= 200 && last.status < 300
              ? 'delivered'
              : last.status >= 300 && last.status < 400
                ? 'failed:redirect'
                : 'failed:http-status'
            : last.kind === 'error' && last.name === 'TimeoutError'
              ? 'failed:timeout'
              : 'failed:network';
        const actual = outcome.kind === 'delivered' ? 'delivered' : `failed:${outcome.reason}`;
        if (actual !== expected) note(`${pairOf(outcome)}: expected ${expected}, got ${actual}: ${history()}`);
        if (outcome.kind === 'failed' && isRetryableView(last)) {
          reachedLimit += 1;
          if (outcome.attempts !== RETRY_LIMIT + 1) note(`${pairOf(outcome)}: gave up after ${outcome.attempts} attempts, expected ${RETRY_LIMIT + 1}: ${history()}`);
        }
      }
      const strangerIds = [...byId.keys()].filter((id) => !outcomeIds.has(id));

      // --- order at the receiver, per (endpoint, record)
      let orderViolations = 0;
      let overtakes = 0;
      const lanes = new Map<string, { lastSuccess: number; lastSeen: number }>();
      for (const r of requests) {
        const parsed = parsePath(r.path);
        if (parsed === null) {
          note(`unexpected path at the receiver: ${r.path}`);
          continue;
        }
        const lane = lanes.get(`${parsed.endpoint} ${parsed.record}`) ?? { lastSuccess: 0, lastSeen: 0 };
        if (parsed.revision < lane.lastSeen) overtakes += 1;
        lane.lastSeen = Math.max(lane.lastSeen, parsed.revision);
        if (classifyFault(r.fault, r.end) === 'success' && r.end === 'answered') {
          // The same revision again is a duplicate (counted above), not a reordering.
          if (parsed.revision < lane.lastSuccess) orderViolations += 1;
          lane.lastSuccess = parsed.revision;
        }
        lanes.set(`${parsed.endpoint} ${parsed.record}`, lane);
      }
      // The outcomes of one (endpoint, record) come out in event order too.
      let outcomeOrderViolations = 0;
      const outcomeLanes = new Map<string, number>();
      for (const outcome of outcomes) {
        const [endpoint, id, rev] = pairOf(outcome).split(' ');
        const key = `${String(endpoint)} ${String(id)}`;
        if (Number(rev) <= (outcomeLanes.get(key) ?? 0)) outcomeOrderViolations += 1;
        outcomeLanes.set(key, Number(rev));
      }

      // --- signatures
      const webhook = new Webhook(SECRET);
      let verified = 0;
      let badSignatures = 0;
      let withoutBody = 0;
      let withoutToken = 0;
      for (const r of requests) {
        if (r.path.startsWith('/search/') && r.headers !== null && r.headers['authorization'] !== `Bearer ${TOKEN}`) {
          withoutToken += 1;
          note(`request ${r.seq} (${r.path}, attempt ${r.attempt}) came without the endpoint's bearer token`);
        }
        if (r.headers === null || r.body === null) {
          withoutBody += 1;
          if (r.headers?.['webhook-signature'] === undefined) badSignatures += 1;
          continue;
        }
        try {
          webhook.verify(r.body, r.headers);
          verified += 1;
        } catch (error) {
          badSignatures += 1;
          note(`signature of request ${r.seq} (${r.path}) did not verify: ${(error as Error).message}`);
        }
      }

      // --- the scripted records took the paths they were scripted for
      const firstOf = (id: string): DeliveryOutcome | undefined => outcomesByPair.get(`search ${id} 1`)?.[0];
      const scripted = {
        limit503: firstOf(recordId(0)),
        resetAfterBody: firstOf(recordId(1)),
        hangThenOk: firstOf(recordId(2)),
        gone410: firstOf(recordId(3)),
        redirect307: firstOf(recordId(4)),
        resetBeforeBody: firstOf(recordId(5)),
        hangAlways: firstOf(recordId(6)),
        retryAfter: firstOf(recordId(7)),
      };
      const retryAfterSeen = byId.get(scripted.retryAfter?.kind === 'delivered' ? scripted.retryAfter.request.deliveryId : '') ?? [];

      printFigures(`chaos run, ${store.name} store (${RECORDS * EVENTS_PER_RECORD} events over ${RECORDS} records, 2 endpoints)`, {
        'fault share / seed': `${FAULT_SHARE} / ${SEED}`,
        'events emitted': emitted,
        '(event, endpoint) pairs': expectedPairs.size,
        outcomes: outcomes.length,
        'outcomes by kind:reason': tallyOutcomes(outcomes),
        lost: lost.length,
        'doubled outcomes': doubled.length,
        'requests at the receiver': requests.length,
        'answers by fault': countBy(requests, (r) => r.faultName),
        'retried deliveries': retried,
        'gave up at the retry limit': `${reachedLimit} (limit ${RETRY_LIMIT}, max attempts ${maxAttempts})`,
        'answers the sender had timed out on': answersTheSenderMissed,
        'attempts timed out before reaching the receiver': timedOutUnsent,
        'duplicates at the receiver (same id, after an unknown result)': duplicates,
        'attempts with a changed id/path/body': idMismatches,
        'requests with an id no outcome has': strangerIds.length,
        'order violations (first successes per record)': orderViolations,
        'overtakes (older event after a newer one)': overtakes,
        'outcome order violations': outcomeOrderViolations,
        'signatures verified': `${verified} of ${requests.length - withoutBody} with a body (${withoutBody} reset before the body was read)`,
        'bad signatures': badSignatures,
        'search requests without the bearer token': withoutToken,
        'drain time (ms)': elapsedMs,
        'endpoint state changes': endpointStates,
        problems: problems.length === 0 ? 'none' : problems,
      });

      expect(lost).toEqual([]);
      expect(doubled).toEqual([]);
      expect(unexpected).toEqual([]);
      expect(outcomes).toHaveLength(expectedPairs.size);
      expect(problems).toEqual([]);
      expect(strangerIds).toEqual([]);
      expect(idMismatches).toBe(0);
      expect(orderViolations).toBe(0);
      expect(overtakes).toBe(0);
      expect(outcomeOrderViolations).toBe(0);
      expect(badSignatures).toBe(0);
      expect(withoutToken).toBe(0);
      expect(verified).toBeGreaterThan(0);

      expect(scripted.limit503).toMatchObject({ kind: 'failed', reason: 'http-status', attempts: RETRY_LIMIT + 1 });
      expect(scripted.resetAfterBody).toMatchObject({ kind: 'delivered', attempts: 2 });
      expect(scripted.hangThenOk).toMatchObject({ kind: 'delivered', attempts: 2 });
      expect(scripted.gone410).toMatchObject({ kind: 'failed', reason: 'http-status', attempts: 1 });
      expect(scripted.redirect307).toMatchObject({ kind: 'failed', reason: 'redirect', attempts: 1 });
      expect(scripted.resetBeforeBody).toMatchObject({ kind: 'failed', reason: 'network', attempts: RETRY_LIMIT + 1 });
      expect(scripted.hangAlways).toMatchObject({ kind: 'failed', reason: 'timeout', attempts: RETRY_LIMIT + 1 });
      expect(scripted.retryAfter).toMatchObject({ kind: 'delivered', attempts: 3 });
      // Retry-After (1 s, and an HTTP-date 2 s ahead) was honoured up to maxRetryAfterMs: the
      // retries came no sooner than that cap (a lower bound only).
      expect(retryAfterSeen).toHaveLength(3);
      for (let i = 1; i < retryAfterSeen.length; i++) {
        const gap = (retryAfterSeen[i]?.receivedAt ?? 0) - (retryAfterSeen[i - 1]?.receivedAt ?? 0);
        expect(gap).toBeGreaterThanOrEqual(MAX_RETRY_AFTER_MS - 10);
      }
      expect(duplicates).toBeGreaterThanOrEqual(2);
    }, 60_000);
  });
}
