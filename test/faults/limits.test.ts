/**
 * The bounds under pressure: past `maxQueue` new work fails with reason `overflow` (never an
 * unbounded buffer), and `close()` with a deadline fails what is still pending with reason
 * `closed`. Either way every (event, endpoint) still ends in exactly one outcome.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createProvisioner, defineConfig, type DeliveryOutcome } from 'remote-api-provisioner';
import { startFaultReceiver, type FaultReceiver } from './helpers/faultReceiver.js';
import { collect, printFigures, recordFor, tallyOutcomes, withDeadline, type TestRecord } from './helpers/suite.js';

type Args = { readonly record?: TestRecord | null };
const identity = { id: 7 };

describe('limits: queue bound and close deadline', () => {
  let receiver: FaultReceiver;

  beforeAll(async () => {
    receiver = await startFaultReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });
  beforeEach(async () => {
    await receiver.reset();
  });

  function configFor(endpoint: string) {
    return defineConfig({
      rdm_record: {
        [endpoint]: {
          publish: {
            http_method: 'PUT',
            payload: ({ record }: Args) => ({ id: record?.id ?? null, rev: record?.revision_id ?? null }),
            url_factory: (record: TestRecord | null | undefined) => `${endpoint}/${String(record?.id)}?rev=${String(record?.revision_id)}`,
          },
        },
      },
    } as never);
  }

  const revisionOf = (outcome: DeliveryOutcome): number => (outcome.event.args as Args).record?.revision_id ?? 0;
  const recordOf = (outcome: DeliveryOutcome): string => String((outcome.event.args as Args).record?.id);

  it('past maxQueue, new work fails with reason overflow; nothing is lost and what is sent keeps its order', async () => {
    await receiver.setPlan({ default: { kind: 'slow', byteDelayMs: 2, bytes: 20 } });
    const endpoint = `${receiver.url}/docs`;
    const provisioner = createProvisioner({ events: configFor(endpoint), http: { maxQueue: 10, concurrency: 2, timeoutMs: 5_000 } });
    const collected = collect(provisioner);
    const hooks = provisioner.hooks('rdm_record') as unknown as { publish: (args: unknown) => void };
    const EVENTS = 60;
    for (let i = 0; i < EVENTS; i++) hooks.publish({ identity, record: recordFor(`rec-${i % 5}`, Math.floor(i / 5) + 1) });
    await withDeadline(provisioner.drain(), 20_000, 'drain() to resolve');
    await provisioner.close();
    collected.stop();

    const tally = tallyOutcomes(collected.outcomes);
    const overflowed = collected.outcomes.filter((o) => o.kind === 'failed' && o.reason === 'overflow');
    const delivered = collected.outcomes.filter((o) => o.kind === 'delivered');
    const requests = await receiver.requests();
    let orderViolations = 0;
    const last = new Map<string, number>();
    for (const outcome of delivered) {
      if (revisionOf(outcome) <= (last.get(recordOf(outcome)) ?? 0)) orderViolations += 1;
      last.set(recordOf(outcome), revisionOf(outcome));
    }
    printFigures('queue bound (maxQueue 10, concurrency 2, 60 events at once, slow receiver)', {
      outcomes: collected.outcomes.length,
      'outcomes by kind:reason': tally,
      'requests at the receiver': requests.length,
      'order violations': orderViolations,
      'overflow message': overflowed[0]?.kind === 'failed' ? overflowed[0].error.message : 'none',
    });

    expect(collected.outcomes).toHaveLength(EVENTS);
    expect(overflowed.length).toBeGreaterThan(0);
    expect(delivered.length + overflowed.length).toBe(EVENTS);
    expect(requests).toHaveLength(delivered.length);
    expect(orderViolations).toBe(0);
    for (const outcome of overflowed) {
      if (outcome.kind !== 'failed') continue;
      expect(outcome.error.name).toBe('OverflowError');
      expect(outcome.attempts).toBe(0);
    }
  });

  it('odd 2xx answers are delivered: non-JSON as text, empty and 204 as null, wrong content type as text, oversize cut at maxResponseBytes', async () => {
    await receiver.setPlan({
      script: [{ kind: 'non-json' }, { kind: 'empty' }, { kind: 'no-content' }, { kind: 'wrong-type' }, { kind: 'oversize', bytes: 50_000 }, { kind: 'slow', byteDelayMs: 1, bytes: 24 }],
    });
    const endpoint = `${receiver.url}/docs`;
    const provisioner = createProvisioner({ events: configFor(endpoint), http: { maxResponseBytes: 1_024, concurrency: 1 } });
    const collected = collect(provisioner);
    const hooks = provisioner.hooks('rdm_record') as unknown as { publish: (args: unknown) => void };
    for (let revision = 1; revision <= 6; revision++) hooks.publish({ identity, record: recordFor('rec-odd', revision) });
    await withDeadline(provisioner.drain(), 10_000, 'drain() to resolve');
    await provisioner.close();
    collected.stop();
    const responses = collected.outcomes.map((o) => (o.kind === 'delivered' ? o.response : o.kind));
    expect(responses).toHaveLength(6);
    const [nonJson, empty, noContent, wrongType, oversize, slow] = responses as { status: number; body: unknown; bodyTruncated?: boolean }[];
    expect(nonJson).toMatchObject({ status: 200, body: '<<this is not json>>' });
    expect(empty).toMatchObject({ status: 200, body: null });
    expect(noContent).toMatchObject({ status: 204, body: null });
    expect(wrongType).toMatchObject({ status: 200, body: expect.stringContaining('<!doctype html>') });
    expect(oversize).toMatchObject({ status: 200, bodyTruncated: true });
    expect(String(oversize?.body).length).toBeLessThanOrEqual(1_024);
    expect(slow).toMatchObject({ status: 200, body: { ok: true } });
    expect(collected.outcomes.every((o) => o.kind === 'delivered' && o.attempts === 1)).toBe(true);
  });

  it('close() with a deadline fails what is still pending with reason closed, and resolves', async () => {
    await receiver.setPlan({ default: { kind: 'hang' } });
    const endpoint = `${receiver.url}/docs`;
    const provisioner = createProvisioner({ events: configFor(endpoint), http: { concurrency: 4, timeoutMs: 10_000 } });
    const collected = collect(provisioner);
    const hooks = provisioner.hooks('rdm_record') as unknown as { publish: (args: unknown) => void };
    const EVENTS = 20;
    for (let i = 0; i < EVENTS; i++) hooks.publish({ identity, record: recordFor(`rec-${i % 10}`, Math.floor(i / 10) + 1) });
    await expect.poll(async () => (await receiver.stats()).requests).toBe(4);
    const started = performance.now();
    await withDeadline(provisioner.close({ timeoutMs: 200 }), 5_000, 'close({ timeoutMs: 200 }) to resolve');
    const closeMs = Math.round(performance.now() - started);
    collected.stop();
    await expect.poll(async () => (await receiver.stats()).open).toBe(0);

    const tally = tallyOutcomes(collected.outcomes);
    printFigures('close deadline (receiver never answers, close({ timeoutMs: 200 }))', {
      outcomes: collected.outcomes.length,
      'outcomes by kind:reason': tally,
      'requests at the receiver (all aborted)': (await receiver.stats()).requests,
      'close() took (ms)': closeMs,
    });
    expect(tally).toEqual({ 'failed:closed': EVENTS });
    const keys = new Set(collected.outcomes.map((o) => o.event.eventId));
    expect(keys.size).toBe(EVENTS);
  });
});
