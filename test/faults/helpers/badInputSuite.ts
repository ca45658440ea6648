/**
 * Bad input from the app, through the public API only: payload functions, url factories,
 * owner lookups and callbacks that misbehave, odd records and odd hook calls. None of it may
 * throw into the app or stop the pipeline: each yields its documented outcome, with a
 * message naming the config path (service, endpoint, method) and the record id, and a good
 * event right after it is delivered.
 *
 * The same cases run with each store (badInput.memory, badInput.sqlite, badInput.redis): bad
 * input fails the same way whether the event is journaled or not.
 */
import { Observable, NEVER, throwError } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createProvisioner,
  defineConfig,
  recordUrl,
  type CallbackOutcome,
  type DeliveryOutcome,
  type FailureReason,
} from 'remote-api-provisioner';
import type { FaultReceiver } from './faultReceiver.js';
import { endSuite, startSuite, type FaultStore } from './stores.js';
import { printFigures, tallyOutcomes, withDeadline } from './suite.js';
import { recordAt, type TestRecord } from '../../helpers/factories.js';
import { collectAppRecords } from '../../helpers/outcomes.js';

type Args = { readonly record?: TestRecord | null; readonly owner?: unknown };
type LooseEventConfig = Readonly<Record<string, unknown>>;
type Provisioner = ReturnType<typeof createProvisioner>;
type PublishHooks = { readonly publish: (args?: unknown) => void; readonly delete_record: (args?: unknown) => void };

const identity = { id: 7 };
const OWNER_TIMEOUT_MS = 150;
const CALLBACK_TIMEOUT_MS = 150;
const isBad = (args: Args): boolean => String(args.record?.id ?? '').startsWith('bad');
const goodPayload = (args: Args) => ({ id: args.record?.id ?? null, rev: args.record?.revision_id ?? null });

/** The bad-input cases with `store` (badInput.<store>.test.ts). */
export function badInputSuite(store: FaultStore): void {
  /** Every figure of the bad-input cases, printed once at the end. */
  const figures: Record<string, string> = {};
  let opened = 0;

  describe.skipIf(store.unavailable !== null)(`bad input never throws into the app and never stops the pipeline (${store.name} store)`, () => {
    let receiver: FaultReceiver;
    let bad: string;
    let good: string;

    beforeAll(async () => {
      receiver = await startSuite(store);
      bad = `${receiver.url}/bad`;
      good = `${receiver.url}/good`;
    });
    afterAll(async () => {
      printFigures(`bad input, ${store.name} store (each case: bad event, then a good one, to a bad and a good endpoint)`, figures);
      await endSuite(store, receiver);
    });
    beforeEach(async () => {
      await receiver.reset();
    });

    /** A provisioner whose `bad` endpoint has `eventConfig` for publish, and whose `good` endpoint is plain. */
    async function provisionerWith(eventConfig: LooseEventConfig, options: Readonly<Record<string, unknown>> = {}): Promise<Provisioner> {
      const events = defineConfig({
        rdm_record: {
          [bad]: { publish: { http_method: 'POST', payload: goodPayload, ...eventConfig } },
          [good]: { publish: { http_method: 'POST', payload: goodPayload } },
        },
      } as never);
      opened += 1;
      return createProvisioner({
        events,
        // Two partitions are enough for two records at a time, and cheap to start for every case.
        ...(await store.open(`bad-input-${opened}`, { partitions: 2 })),
        resolveOwner: () => ({ id: 1, email: 'owner@example.org', username: 'owner' }),
        ownerTimeoutMs: OWNER_TIMEOUT_MS,
        callbackTimeoutMs: CALLBACK_TIMEOUT_MS,
        http: { timeoutMs: 2_000, retry: { limit: 1, baseDelayMs: 1, maxDelayMs: 5 } },
        ...options,
      } as never);
    }

    /** Sends a bad record then a good one; returns the outcomes keyed `endpoint record`. */
    async function run(
      provisioner: Provisioner,
      badRecord: unknown = recordAt('bad-1', 1),
    ): Promise<{ readonly byKey: Map<string, DeliveryOutcome>; readonly outcomes: readonly DeliveryOutcome[]; readonly callbacks: readonly CallbackOutcome[] }> {
      const collected = collectAppRecords(provisioner);
      const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
      expect(() => hooks.publish({ identity, record: badRecord })).not.toThrow();
      expect(() => hooks.publish({ identity, record: recordAt('good-1', 1) })).not.toThrow();
      await withDeadline(provisioner.drain(), 10_000, 'drain() to resolve');
      await withDeadline(provisioner.close(), 10_000, 'close() to resolve');
      collected.stop();
      const byKey = new Map<string, DeliveryOutcome>();
      for (const outcome of collected.outcomes) {
        const endpoint = outcome.endpoint === bad ? 'bad' : outcome.endpoint === good ? 'good' : outcome.endpoint;
        const record = (outcome.event.args as Args).record;
        const key = `${endpoint} ${String(record?.id ?? '(none)')}`;
        expect(byKey.has(key), `one outcome for ${key}`).toBe(false);
        byKey.set(key, outcome);
      }
      return { byKey, outcomes: collected.outcomes, callbacks: collected.callbacks };
    }

    /** The bad event failed at the bad endpoint with `reason`, with a message naming path and record; everything else was delivered. */
    async function expectFailureThenRecovery(name: string, provisioner: Provisioner, reason: FailureReason, badId = 'bad-1'): Promise<void> {
      const { byKey, outcomes } = await run(provisioner, recordAt(badId, 1));
      const failed = byKey.get(`bad ${badId}`);
      expect(failed, `${name}: outcome of the bad event`).toMatchObject({ kind: 'failed', reason, request: null, attempts: 0 });
      if (failed?.kind === 'failed') {
        expect(failed.error.message).toContain('rdm_record');
        expect(failed.error.message).toContain(bad);
        expect(failed.error.message).toContain('publish');
        expect(failed.error.message).toContain(badId);
        figures[name] = `failed:${failed.reason}: ${failed.error.message}`;
      }
      expect(byKey.get(`good ${badId}`), `${name}: the same event at another endpoint`).toMatchObject({ kind: 'delivered' });
      expect(byKey.get('bad good-1'), `${name}: the next event at the same endpoint`).toMatchObject({ kind: 'delivered' });
      expect(byKey.get('good good-1')).toMatchObject({ kind: 'delivered' });
      expect(outcomes).toHaveLength(4);
      const paths = (await receiver.requests()).map((r) => r.path);
      expect(paths.filter((p) => p.startsWith('/bad'))).toHaveLength(1);
    }

    describe('payload functions', () => {
      const circular = (): Record<string, unknown> => {
        const value: Record<string, unknown> = { name: 'loop' };
        value['self'] = value;
        return value;
      };
      const cases: readonly [string, (args: Args) => unknown][] = [
        ['payload that throws', () => {
          throw new Error('payload exploded');
        }],
        ['payload that rejects', () => Promise.reject(new Error('payload rejected'))],
        ['payload returning a string', () => 'not an object'],
        ['payload returning a number', () => 42],
        ['payload returning an array', () => [1, 2, 3]],
        ['payload returning undefined', () => undefined],
        ['payload with a BigInt', () => ({ count: 10n })],
        ['payload that is circular', circular],
        ['payload with a Map', () => ({ tags: new Map([['open', true]]) })],
        ['payload with a Set', () => ({ tags: new Set(['open']) })],
        ['payload with a function', () => ({ render: () => 'x' })],
        ['payload with NaN', () => ({ score: Number.NaN })],
        ['payload returning { internal_error }', () => ({ internal_error: 'database unavailable' })],
        ['payload resolving to a string', () => Promise.resolve('not an object')],
      ];
      for (const [name, badPayload] of cases) {
        it(`${name}: fails with reason payload`, async () => {
          const payload = (args: Args): unknown => (isBad(args) ? badPayload(args) : goodPayload(args));
          await expectFailureThenRecovery(name, await provisionerWith({ payload }), 'payload');
        });
      }

      it('an http_method function returning garbage fails with reason payload', async () => {
        const http_method = (args: Args): unknown => (isBad(args) ? 'TELEPORT' : 'POST');
        await expectFailureThenRecovery('http_method returning garbage', await provisionerWith({ http_method }), 'payload');
      });
    });

    describe('url_factory', () => {
      const cases: readonly [string, (base: string) => unknown][] = [
        ['url_factory returning garbage', () => 'not a url at all'],
        ['url_factory returning a relative URL', () => '/bad/relative'],
        ['url_factory returning another origin', () => 'http://127.0.0.1:1/elsewhere'],
        ['url_factory returning a non-http scheme', () => 'ftp://127.0.0.1/file'],
        ['url_factory returning javascript:', () => 'javascript:alert(1)'],
        ['url_factory returning a number', () => 42],
        ['url_factory that throws', () => {
          throw new Error('factory exploded');
        }],
      ];
      for (const [name, badFactory] of cases) {
        it(`${name}: fails with reason url, sends nothing there`, async () => {
          const url_factory = (record: TestRecord | null | undefined): unknown =>
            String(record?.id ?? '').startsWith('bad') ? badFactory(bad) : `${bad}/${String(record?.id)}`;
          await expectFailureThenRecovery(name, await provisionerWith({ url_factory }), 'url');
        });
      }
    });

    describe('resolveOwner', () => {
      const cases: readonly [string, () => unknown][] = [
        ['resolveOwner that throws', () => {
          throw new Error('directory down');
        }],
        ['resolveOwner that rejects', () => Promise.reject(new Error('directory down'))],
        ['resolveOwner that never settles (bounded by ownerTimeoutMs)', () => new Promise(() => undefined)],
        ['resolveOwner returning null', () => null],
      ];
      for (const [name, badResolver] of cases) {
        it(`${name}: fails with reason owner`, async () => {
          const resolveOwner = ({ record }: { readonly record: TestRecord | null }): unknown =>
            String(record?.id ?? '').startsWith('bad') ? badResolver() : { id: 1, email: 'owner@example.org', username: 'owner' };
          await expectFailureThenRecovery(name, await provisionerWith({ with_record_owner: true }, { resolveOwner }), 'owner');
        });
      }
    });

    describe('callbacks', () => {
      const cases: readonly [string, () => unknown][] = [
        ['callback that throws', () => {
          throw new Error('write-back failed');
        }],
        ['callback that rejects', () => Promise.reject(new Error('write-back rejected'))],
        ['callback whose Observable errors', () => throwError(() => new Error('write-back errored'))],
        ['callback whose Observable never completes (bounded by callbackTimeoutMs)', () => NEVER],
        ['callback whose Promise never settles (bounded by callbackTimeoutMs)', () => new Promise(() => undefined)],
        ['callback whose Observable emits then never completes', () => new Observable((subscriber) => subscriber.next('partial'))],
      ];
      for (const [name, badCallback] of cases) {
        it(`${name}: the delivery stands, the callback outcome is an error`, async () => {
          const callback = (_response: unknown, meta: { readonly record_id: string | null }): unknown =>
            String(meta.record_id).startsWith('bad') ? badCallback() : 'stored';
          const { byKey, callbacks } = await run(await provisionerWith({ callback }));
          expect(byKey.get('bad bad-1')).toMatchObject({ kind: 'delivered' });
          expect(byKey.get('bad good-1')).toMatchObject({ kind: 'delivered' });
          expect(callbacks).toHaveLength(2);
          const failedCallback = callbacks.find((c) => c.delivery.request.recordId === 'bad-1');
          const goodCallback = callbacks.find((c) => c.delivery.request.recordId === 'good-1');
          expect(failedCallback).toMatchObject({ kind: 'error' });
          expect(goodCallback).toMatchObject({ kind: 'ok', value: 'stored' });
          if (failedCallback?.kind === 'error') {
            expect(failedCallback.error.name).toBe('CallbackError');
            expect(failedCallback.error.message).toContain('rdm_record');
            expect(failedCallback.error.message).toContain(bad);
            expect(failedCallback.error.message).toContain('publish');
            expect(failedCallback.error.message).toContain('bad-1');
            figures[name] = `callback error: ${failedCallback.error.message}`;
          }
        });
      }
    });

    describe('odd records', () => {
      it('a record without an id is still delivered to a plain endpoint (record id null)', async () => {
        const { byKey } = await run(await provisionerWith({}), recordAt('x', 1, { id: undefined }));
        const outcome = byKey.get('bad (none)');
        expect(outcome).toMatchObject({ kind: 'delivered' });
        if (outcome?.kind === 'delivered') expect(outcome.request.recordId).toBeNull();
        expect(byKey.get('good good-1')).toMatchObject({ kind: 'delivered' });
        figures['record without an id'] = outcome?.kind ?? 'none';
      });

      // structuredClone keeps BigInts and cycles, so such records reach the payload function:
      // one that picks fields sends them; one that sends the record itself fails with reason payload.
      const wholeRecord = (args: Args): unknown => (isBad(args) ? args.record : goodPayload(args));
      for (const [name, oddRecord] of [
        ['a record holding a BigInt', (): unknown => recordAt('bad-bigint', 1, { size: 12n })],
        ['a circular record', (): unknown => {
          const record = recordAt('bad-circular', 1) as Record<string, unknown>;
          record['self'] = record;
          return record;
        }],
      ] as const) {
        it(`${name}: a payload that picks fields is delivered, one that sends the whole record fails with reason payload`, async () => {
          const id = (oddRecord() as TestRecord).id;
          const picked = await run(await provisionerWith({}), oddRecord());
          expect(picked.byKey.get(`bad ${id}`)).toMatchObject({ kind: 'delivered' });
          await receiver.reset();
          const whole = await run(await provisionerWith({ payload: wholeRecord }), oddRecord());
          const failed = whole.byKey.get(`bad ${id}`);
          expect(failed).toMatchObject({ kind: 'failed', reason: 'payload' });
          if (failed?.kind === 'failed') {
            expect(failed.error.message).toContain(id);
            expect(failed.error.message).toContain(bad);
            figures[`${name}, sent whole`] = `failed:${failed.reason}: ${failed.error.message.split('\n')[0] ?? ''}`;
          }
          expect(whole.byKey.get('bad good-1')).toMatchObject({ kind: 'delivered' });
        });
      }

      it('a record that cannot be copied (a cycle through an object holding a function) fails with reason payload, and the pipeline goes on', async () => {
        const record = recordAt('bad-uncopyable', 1) as Record<string, unknown>;
        record['helpers'] = { format: () => 'x', owner: record };
        const { byKey } = await run(await provisionerWith({}), record);
        const failed = byKey.get('bad bad-uncopyable');
        expect(failed).toMatchObject({ kind: 'failed', reason: 'payload' });
        if (failed?.kind === 'failed') {
          expect(failed.error.message).toContain('bad-uncopyable');
          expect(failed.error.message).toContain(bad);
          expect(failed.error.message).toContain('publish');
          figures['record that cannot be copied'] = `failed:${failed.reason}: ${failed.error.message}`;
        }
        expect(byKey.get('bad good-1')).toMatchObject({ kind: 'delivered' });
      });

      const oddIds = ['a/b', 'a?b=c', 'a#frag', '../../etc', 'x/../../y', 'ünï-cødé-記録', 'space id', '%2F', '.hidden'];
      it('ids with / ? # .. and unicode stay one path segment with recordUrl; a bare ".." id is refused with reason url', async () => {
        const url_factory = (record: TestRecord | null | undefined): string => recordUrl(bad, String(record?.id));
        const provisioner = await provisionerWith({ url_factory });
        const collected = collectAppRecords(provisioner);
        const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
        for (const id of [...oddIds, '..']) expect(() => hooks.publish({ identity, record: recordAt(id, 1) })).not.toThrow();
        hooks.publish({ identity, record: recordAt('good-1', 1) });
        await withDeadline(provisioner.drain(), 10_000, 'drain() to resolve');
        await provisioner.close();
        collected.stop();
        const atBad = collected.outcomes.filter((o) => o.endpoint === bad);
        const dotDot = atBad.find((o) => (o.event.args as Args).record?.id === '..');
        expect(dotDot).toMatchObject({ kind: 'failed', reason: 'url' });
        if (dotDot?.kind === 'failed') {
          expect(dotDot.error.message).toContain(bad);
          expect(dotDot.error.message).toContain('publish');
          figures['record id ".." with recordUrl'] = `failed:${dotDot.reason}: ${dotDot.error.message}`;
        }
        expect(tallyOutcomes(atBad)).toEqual({ delivered: oddIds.length + 1, 'failed:url': 1 });
        const seen = (await receiver.requests()).filter((r) => r.path.startsWith('/bad'));
        const ids = seen.map((r) => {
          const match = /^\/bad\/([^/?#]+)$/.exec(r.path);
          expect(match, `path ${r.path} stays one segment under /bad`).not.toBeNull();
          return decodeURIComponent(match?.[1] ?? '');
        });
        expect(ids.sort()).toEqual([...oddIds, 'good-1'].sort());
        figures['odd ids (/ ? # .. unicode) with recordUrl'] = `${seen.length} delivered, paths: ${seen.map((r) => r.path).join(' ')}`;
      });
    });

    describe('the same record', () => {
      it('failures of one event, whatever their kind, do not hold up the next events of the same record and endpoint', async () => {
        await receiver.setPlan({ rules: [{ path: '/bad/same?rev=2', faults: [{ kind: 'status', status: 410 }] }] });
        const payload = (args: Args): unknown => {
          const revision = args.record?.revision_id;
          if (revision === 1) throw new Error('payload exploded');
          if (revision === 3) return Promise.reject(new Error('payload rejected'));
          return goodPayload(args);
        };
        const url_factory = (record: TestRecord | null | undefined): string =>
          record?.revision_id === 4 ? 'http://127.0.0.1:1/elsewhere' : `${bad}/${String(record?.id)}?rev=${String(record?.revision_id)}`;
        const provisioner = await provisionerWith({ payload, url_factory });
        const collected = collectAppRecords(provisioner);
        const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
        for (let revision = 1; revision <= 6; revision++) hooks.publish({ identity, record: recordAt('same', revision) });
        await withDeadline(provisioner.drain(), 10_000, 'drain() to resolve');
        await provisioner.close();
        collected.stop();
        const atBad = collected.outcomes
          .filter((o) => o.endpoint === bad)
          .map((o) => `${String((o.event.args as Args).record?.revision_id)}:${o.kind === 'failed' ? `failed:${o.reason}` : o.kind}`);
        const inEventOrder = ['1:failed:payload', '2:failed:http-status', '3:failed:payload', '4:failed:url', '5:delivered', '6:delivered'];
        // The requests went out in event order (below). Every store (the default memory store
        // too) plans each delivery in its record's lane, so the outcomes come in event order.
        expect(atBad).toEqual(inEventOrder);
        figures['same record: outcome order at one endpoint'] = atBad.join(' ');
        expect((await receiver.requests()).filter((r) => r.path.startsWith('/bad')).map((r) => r.path)).toEqual([
          '/bad/same?rev=2',
          '/bad/same?rev=5',
          '/bad/same?rev=6',
        ]);
        await receiver.setPlan({});
      });
    });

    describe('odd hook calls', () => {
      it('hook calls with missing or wrong arguments do not throw, and each call is accounted for', async () => {
        const provisioner = await provisionerWith({});
        const collected = collectAppRecords(provisioner);
        const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
        const calls: readonly unknown[][] = [[], [undefined], [null], [{}], [{ record: recordAt('no-identity', 1) }], ['a string'], [{ identity, record: null }]];
        for (const args of calls) expect(() => (hooks.publish as (...a: unknown[]) => void)(...args)).not.toThrow();
        hooks.publish({ identity, record: recordAt('good-1', 1) });
        await withDeadline(provisioner.drain(), 10_000, 'drain() to resolve');
        await provisioner.close();
        collected.stop();
        const good = collected.outcomes.filter((o) => (o.event.args as Args).record?.id === 'good-1');
        expect(good.map((o) => o.kind)).toEqual(['delivered', 'delivered']);
        for (const outcome of collected.outcomes) {
          if (outcome.kind === 'failed') expect(outcome.error.message).toContain('publish');
        }
        figures['hook calls with missing arguments'] = JSON.stringify(tallyOutcomes(collected.outcomes));
      });

      it('hooks called after close() do not throw and send nothing', async () => {
        const provisioner = await provisionerWith({});
        const collected = collectAppRecords(provisioner);
        const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
        hooks.publish({ identity, record: recordAt('good-1', 1) });
        await provisioner.close();
        expect(() => hooks.publish({ identity, record: recordAt('late-1', 1) })).not.toThrow();
        expect(() => provisioner.hooks('rdm_record')).not.toThrow();
        await withDeadline(provisioner.drain(), 5_000, 'drain() after close() to resolve');
        await withDeadline(provisioner.close(), 5_000, 'a second close() to resolve');
        collected.stop();
        await new Promise((resolve) => setTimeout(resolve, 50));
        const paths = (await receiver.requests()).map((r) => r.path);
        expect(paths.filter((p) => p.includes('late'))).toEqual([]);
        expect(collected.outcomes.filter((o) => (o.event.args as Args).record?.id === 'good-1').map((o) => o.kind)).toEqual(['delivered', 'delivered']);
        figures['hooks after close()'] = `no throw, ${paths.length} requests (only the event before close)`;
      });

      it('a hook called while close() runs is delivered or fails with reason closed, never lost', async () => {
        const provisioner = await provisionerWith({});
        const collected = collectAppRecords(provisioner);
        const hooks = provisioner.hooks('rdm_record') as unknown as PublishHooks;
        hooks.publish({ identity, record: recordAt('good-1', 1) });
        const closing = provisioner.close();
        expect(() => hooks.publish({ identity, record: recordAt('during-close', 1) })).not.toThrow();
        await withDeadline(closing, 10_000, 'close() to resolve');
        collected.stop();
        const during = collected.outcomes.filter((o) => (o.event.args as Args).record?.id === 'during-close');
        for (const outcome of during) {
          expect(outcome.kind === 'delivered' || (outcome.kind === 'failed' && outcome.reason === 'closed')).toBe(true);
        }
        figures['hook during close()'] = during.length === 0 ? 'no outcome (rejected by the hook)' : JSON.stringify(tallyOutcomes(during));
      });
    });
  });
}
