import { filter, map, share, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  createHooks,
  defineConfig,
  deliver,
  ofMethod,
  ofService,
  recordUrl,
  runCallbacks,
  toRequests,
  type CallbackOutcome,
  type DeliveryOutcome,
  type HttpEffect,
  type ProvisionerResponse,
  type ServiceEvent,
} from 'remote-api-provisioner';

// --- the pipeline under test -------------------------------------------------------------

type Work = {
  readonly id: string;
  readonly access: { readonly record: 'public' | 'restricted' };
  readonly metadata: { readonly title: string };
  readonly communities: readonly string[];
};

const DOCUMENTS = 'https://history.example.org/api/documents';

const config = defineConfig<Work>({
  rdm_record: {
    [DOCUMENTS]: {
      publish: {
        http_method: 'POST',
        payload: ({ record }) => ({ id: record?.id ?? null, title: record?.metadata.title ?? '' }),
        callback: (response) => (response.body as { _id: string })._id,
      },
      delete_record: { http_method: 'DELETE', payload: null, url_factory: (record) => recordUrl(DOCUMENTS, record.id) },
    },
  },
});

/** Sends the publishes and deletes of the records of the "history" community, and nothing else. */
export function historyIndex(effect: HttpEffect) {
  return (events$: Observable<ServiceEvent<Work>>) => {
    const outcomes$: Observable<DeliveryOutcome<Work>> = events$.pipe(
      ofService('rdm_record'),
      ofMethod('publish', 'delete_record'),
      filter((event) => event.args.record?.communities.includes('history') === true),
      toRequests(config),
      deliver(effect, { retry: { limit: 2, baseDelayMs: 10 }, random: () => 1 }),
      share(),
    );
    const callbacks$: Observable<CallbackOutcome<Work>> = outcomes$.pipe(runCallbacks(config));
    return { outcomes$, callbacks$ };
  };
}

// --- its marble test ---------------------------------------------------------------------

/** Real events, made by real hooks: what the app's services would emit. */
function sampleEvents() {
  const emitted: ServiceEvent<Work>[] = [];
  const hooks = createHooks<'rdm_record', Work>('rdm_record', (event) => emitted.push(event));
  const identity = { id: 1 };
  const roman: Work = { id: 'rec-1', access: { record: 'public' }, metadata: { title: 'Roman homes' }, communities: ['history'] };
  const poem: Work = { id: 'rec-2', access: { record: 'public' }, metadata: { title: 'A poem' }, communities: ['poetry'] };
  hooks.publish({ identity, record: roman, draft: roman });
  hooks.delete_record({ identity, record: roman, data: { note: 'duplicate' } });
  hooks.publish({ identity, record: poem, draft: poem });
  const [p, d, x] = emitted;
  if (p === undefined || d === undefined || x === undefined) throw new Error(`Expected 3 events, got ${emitted.length}`);
  return { p, d, x };
}

const respond = (status: number, body: unknown = null): ProvisionerResponse => ({ status, headers: {}, body, url: DOCUMENTS });

describe('a pipeline of your own (docs/pipelines.md)', () => {
  it('retries the publish, keeps the delete behind it, and leaves other communities alone', () => {
    const testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const events = sampleEvents();
      // The endpoint, scripted per attempt: the POST fails once with 503, then succeeds.
      const answers: Record<string, Observable<ProvisionerResponse>[]> = {
        POST: [cold('-(r|)', { r: respond(503) }), cold('-(r|)', { r: respond(201, { _id: 'doc-1' }) })],
        DELETE: [cold('-(r|)', { r: respond(204) })],
      };
      const effect: HttpEffect = (request) => answers[request.method]?.shift() ?? cold('#');

      const events$ = hot('-p-d-x-|', events);
      const { outcomes$, callbacks$ } = historyIndex(effect)(events$);

      // POST: 503 at frame 2, backoff 1 × 10 ms, second attempt answers at 13. The DELETE
      // of the same record waits for it and answers at 14. The poem (x) is filtered out.
      const summary = (outcome: DeliveryOutcome<Work>) =>
        `${outcome.kind} ${outcome.kind === 'skipped' ? outcome.reason : `${outcome.request?.method} ×${outcome.attempts}`}`;
      expectObservable(outcomes$.pipe(map(summary))).toBe('-------------a(b|)', {
        a: 'delivered POST ×2',
        b: 'delivered DELETE ×1',
      });
      expectObservable(callbacks$.pipe(map((outcome) => `${outcome.kind} ${String(outcome.kind === 'ok' ? outcome.value : outcome.error)}`))).toBe(
        '-------------a|',
        { a: 'ok doc-1' },
      );
    });
  });
});
