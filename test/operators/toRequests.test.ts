import { firstValueFrom, from, lastValueFrom, map, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { toRequests } from '../../src/operators/toRequests.js';
import {
  PayloadError,
  SYSTEM_IDENTITY,
  SYSTEM_OWNER,
  type JsonObject,
  type Owner,
  type ProvisionerConfig,
  type RequestDescriptor,
  type RequestPlan,
  type ServiceEvent,
} from '../../src/index.js';
import { community, identity, rdmRecord, serviceEvent } from '../helpers/factories.js';

const SEARCH = 'https://search.example.org/api/v1/documents';
const AUDIT = 'https://audit.example.org/hooks';
const GROUPS = 'https://search.example.org/api/v1/groups';

const testScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

type Metadata = { readonly title: string };
const titleOf = (record: unknown): string => ((record as { metadata: Metadata }).metadata).title;
const remoteIdOf = (record: unknown): string | undefined =>
  (record as { custom_fields?: Record<string, string> } | null)?.custom_fields?.['kcr:commons_search_recid'];

const config = {
  rdm_record: {
    [SEARCH]: {
      publish: {
        http_method: 'POST',
        payload: ({ record }) => ({ title: titleOf(record) }),
        auth_token: 'search-token',
        headers: { 'X-Source': 'works', authorization: 'Basic overridden', 'idempotency-key': 'overridden' },
      },
      delete_record: {
        http_method: 'DELETE',
        payload: null,
        url_factory: (record) => `${SEARCH}/${encodeURIComponent(String(record?.id))}`,
      },
    },
    [AUDIT]: {
      publish: { http_method: 'POST', payload: { audit: true } },
    },
  },
  community: {
    [GROUPS]: {
      update: { http_method: 'PUT', payload: ({ record }) => ({ slug: String(record?.['slug']) }) },
    },
  },
} satisfies ProvisionerConfig;

/** A plan in one line: what a marble diagram can compare. */
function summary(plan: RequestPlan): string {
  if (plan.kind === 'request') return `${plan.request.method} ${plan.request.url}`;
  return `${plan.kind} ${plan.reason} ${plan.endpoint}`;
}

async function plansOf(events: readonly ServiceEvent[], planConfig: ProvisionerConfig, options: Parameters<typeof toRequests>[1] = {}): Promise<RequestPlan[]> {
  return lastValueFrom(from(events).pipe(toRequests(planConfig, options), toArray()));
}

async function onlyPlan(event: ServiceEvent, planConfig: ProvisionerConfig, options: Parameters<typeof toRequests>[1] = {}): Promise<RequestPlan> {
  const plans = await plansOf([event], planConfig, options);
  expect(plans).toHaveLength(1);
  return plans[0]!;
}

function requestOf(plan: RequestPlan): RequestDescriptor {
  if (plan.kind !== 'request') throw new Error(`Expected a request plan, got ${plan.kind}: ${plan.kind === 'failed' ? plan.error.message : plan.reason}`);
  return plan.request;
}

function failureOf(plan: RequestPlan): { reason: string; message: string } {
  if (plan.kind !== 'failed') throw new Error(`Expected a failed plan, got ${plan.kind}`);
  return { reason: plan.reason, message: plan.error.message };
}

describe('toRequests', () => {
  it('plans one request per configured endpoint, in config order, and nothing for unconfigured methods', () => {
    const record = rdmRecord();
    testScheduler().run(({ cold, expectObservable }) => {
      const events = cold('-p-r-d-|', {
        p: serviceEvent({ method: 'publish', record }),
        r: serviceEvent({ method: 'read', record }),
        d: serviceEvent({ method: 'delete_record', record }),
      });
      expectObservable(events.pipe(toRequests(config), map(summary))).toBe('-(pa)d-|', {
        p: `POST ${SEARCH}`,
        a: `POST ${AUDIT}`,
        d: `DELETE ${SEARCH}/q1k7x-8mz42`,
      });
    });
  });

  it('builds the request: payload serialized once, Bearer token, JSON content type, Idempotency-Key = delivery id', async () => {
    const event = serviceEvent({ method: 'publish' });
    const [search, audit] = (await plansOf([event], config)).map(requestOf);
    expect(search).toMatchObject({
      eventId: event.eventId,
      serviceType: 'rdm_record',
      serviceMethod: 'publish',
      endpoint: SEARCH,
      url: SEARCH,
      method: 'POST',
      payload: { title: 'A Romans Story' },
      body: '{"title":"A Romans Story"}',
      recordId: 'q1k7x-8mz42',
      draftId: null,
    });
    expect(search!.headers).toEqual({
      'X-Source': 'works',
      Authorization: 'Bearer search-token',
      'Content-Type': 'application/json',
      'Idempotency-Key': search!.deliveryId,
    });
    expect(audit!.headers).toEqual({ 'Content-Type': 'application/json', 'Idempotency-Key': audit!.deliveryId });
    expect(audit!.deliveryId).not.toBe(search!.deliveryId);
  });

  it('gives the same delivery ids when the same event is planned again, and new ones for a new event', async () => {
    const event = serviceEvent({ method: 'publish' });
    const first = (await plansOf([event], config)).map((plan) => requestOf(plan).deliveryId);
    const again = (await plansOf([event], config)).map((plan) => requestOf(plan).deliveryId);
    const other = (await plansOf([serviceEvent({ method: 'publish' })], config)).map((plan) => requestOf(plan).deliveryId);
    expect(again).toEqual(first);
    expect(other.filter((id) => first.includes(id))).toEqual([]);
  });

  it('sends no body and no Content-Type for a null payload', async () => {
    const request = requestOf(await onlyPlan(serviceEvent({ method: 'delete_record' }), config));
    expect(request).toMatchObject({ method: 'DELETE', payload: null, body: null });
    expect(Object.keys(request.headers)).toEqual(['Idempotency-Key']);
  });

  it('keeps a Content-Type given in headers', async () => {
    const plan = await onlyPlan(serviceEvent({ method: 'publish' }), {
      rdm_record: { [AUDIT]: { publish: { http_method: 'POST', payload: { a: 1 }, headers: { 'content-type': 'application/vnd.api+json' } } } },
    });
    expect(requestOf(plan).headers).toEqual({ 'content-type': 'application/vnd.api+json', 'Idempotency-Key': requestOf(plan).deliveryId });
  });

  it('calls an async payload function with the method arguments, keeping per-record event order while other records go ahead', async () => {
    const slow = rdmRecord({ id: 'slow-record' });
    const fast = rdmRecord({ id: 'fast-record' });
    const seen: string[] = [];
    const asyncConfig: ProvisionerConfig = {
      rdm_record: {
        [SEARCH]: {
          publish: {
            http_method: 'POST',
            payload: async ({ record, identity }) => {
              seen.push(`${String(record?.id)} by ${String(identity.id)}`);
              if (record?.id === 'slow-record') await new Promise((resolve) => setTimeout(resolve, 40));
              return { id: String(record?.id) };
            },
          },
          delete_record: { http_method: 'DELETE', payload: null, url_factory: (record) => `${SEARCH}/${String(record?.id)}` },
        },
      },
    };
    const plans = await plansOf(
      [serviceEvent({ method: 'publish', record: slow }), serviceEvent({ method: 'delete_record', record: slow }), serviceEvent({ method: 'publish', record: fast })],
      asyncConfig,
    );
    expect(plans.map((plan) => `${requestOf(plan).method} ${requestOf(plan).recordId}`)).toEqual([
      'POST fast-record',
      'POST slow-record',
      'DELETE slow-record',
    ]);
    expect(seen).toEqual(['slow-record by 7', 'fast-record by 7']);
  });

  describe('owner', () => {
    const ownerConfig: ProvisionerConfig = {
      rdm_record: {
        [SEARCH]: {
          publish: {
            http_method: 'POST',
            with_record_owner: true,
            payload: ({ owner }) => ({ owner: owner === undefined ? null : owner.username }),
          },
        },
        [AUDIT]: {
          publish: { http_method: 'POST', with_record_owner: true, payload: ({ owner }) => ({ owner: String(owner?.id) }) },
        },
      },
    };
    const troy: Owner = { id: 1, email: 'troy@example.org', username: 'troy' };

    it('passes the owner from resolveOwner, asked once per event', () => {
      const asked: unknown[] = [];
      const record = rdmRecord();
      testScheduler().run(({ cold, expectObservable }) => {
        const event = serviceEvent({ method: 'publish', record });
        const plans = cold('-e----|', { e: event }).pipe(
          toRequests(ownerConfig, {
            resolveOwner: (input) => {
              asked.push(input);
              return troy;
            },
          }),
          map((plan) => requestOf(plan).payload),
        );
        expectObservable(plans).toBe('-(ab)-|', { a: { owner: 'troy' }, b: { owner: '1' } });
        expect(asked).toEqual([]);
      });
      expect(asked).toHaveLength(1);
      expect(asked[0]).toMatchObject({ identity, record });
    });

    it('gives the system identity the system owner without asking resolveOwner', async () => {
      const plans = await plansOf([serviceEvent({ method: 'publish', args: { identity: SYSTEM_IDENTITY } })], ownerConfig, {
        resolveOwner: () => {
          throw new Error('not to be called');
        },
      });
      expect(plans.map((plan) => requestOf(plan).payload)).toEqual([{ owner: SYSTEM_OWNER.username }, { owner: 'system' }]);
    });

    it('awaits an async resolveOwner', async () => {
      const plans = await plansOf([serviceEvent({ method: 'publish' })], ownerConfig, { resolveOwner: async () => troy });
      expect(plans.map((plan) => requestOf(plan).payload)).toEqual([{ owner: 'troy' }, { owner: '1' }]);
    });

    it('fails with reason owner when resolveOwner throws, rejects, returns no owner or is missing', async () => {
      const event = serviceEvent({ method: 'publish' });
      const cases = [
        { resolveOwner: () => { throw new Error('user store down'); } },
        { resolveOwner: () => Promise.reject(new Error('user store down')) },
        { resolveOwner: () => undefined as unknown as Owner },
        {},
      ];
      for (const options of cases) {
        const failures = (await plansOf([event], ownerConfig, options)).map(failureOf);
        expect(failures.map((f) => f.reason)).toEqual(['owner', 'owner']);
        expect(failures[0]!.message).toContain('q1k7x-8mz42');
        expect(failures[0]!.message).toContain(`rdm_record["${SEARCH}"].publish`);
        expect(failures[1]!.message).toContain(`rdm_record["${AUDIT}"].publish`);
      }
    });

    it('fails with reason owner when resolveOwner does not settle within ownerTimeoutMs', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const plans = cold('-e|', { e: serviceEvent({ method: 'publish' }) }).pipe(
          toRequests(ownerConfig, { resolveOwner: () => new Promise<Owner>(() => undefined), ownerTimeoutMs: 100 }),
          map((plan) => `${plan.kind} ${plan.kind === 'failed' ? plan.reason : ''}`),
        );
        expectObservable(plans).toBe('- 100ms (ab|)', { a: 'failed owner', b: 'failed owner' });
      });
    });
  });

  it('uses http_method and url_factory functions of the arguments: PUT to the stored remote id', async () => {
    const putConfig: ProvisionerConfig = {
      rdm_record: {
        [SEARCH]: {
          publish: {
            http_method: ({ record }) => (remoteIdOf(record) === undefined ? 'POST' : 'PUT'),
            payload: ({ record }) => ({ title: titleOf(record) }),
            url_factory: (record) => {
              const remoteId = remoteIdOf(record);
              return remoteId === undefined ? SEARCH : `${SEARCH}/${encodeURIComponent(remoteId)}`;
            },
          },
        },
      },
    };
    const stored = requestOf(await onlyPlan(serviceEvent({ method: 'publish' }), putConfig));
    expect(`${stored.method} ${stored.url}`).toBe(`PUT ${SEARCH}/2E9SqY0Bdd2QL-HGeUuA`);
    const fresh = requestOf(await onlyPlan(serviceEvent({ method: 'publish', record: rdmRecord({ custom_fields: {} }) }), putConfig));
    expect(`${fresh.method} ${fresh.url}`).toBe(`POST ${SEARCH}`);
  });

  describe('restricted records', () => {
    it('skips records and communities whose access is not public', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const events = cold('-r-c-o|', {
          r: serviceEvent({ method: 'delete_record', record: rdmRecord({ access: { record: 'restricted' } }) }),
          c: serviceEvent({ serviceType: 'community', method: 'update', record: community({ access: { visibility: 'restricted' } }) }),
          o: serviceEvent({ serviceType: 'community', method: 'update', record: community() }),
        });
        expectObservable(events.pipe(toRequests(config), map(summary))).toBe('-r-c-o|', {
          r: `skipped restricted ${SEARCH}`,
          c: `skipped restricted ${GROUPS}`,
          o: `PUT ${GROUPS}`,
        });
      });
    });

    it('sends them when the event config opts in with include_restricted', async () => {
      const plan = await onlyPlan(serviceEvent({ method: 'publish', record: rdmRecord({ access: { record: 'restricted' } }) }), {
        rdm_record: { [AUDIT]: { publish: { http_method: 'POST', payload: { a: 1 }, include_restricted: true } } },
      });
      expect(summary(plan)).toBe(`POST ${AUDIT}`);
    });
  });

  it('skips an event caused by an endpoint\'s own callback for that endpoint only', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const event = serviceEvent({
        method: 'publish',
        causedBy: { deliveryId: 'earlier', serviceType: 'rdm_record', serviceMethod: 'publish', endpoint: SEARCH },
      });
      expectObservable(cold('-e-----|', { e: event }).pipe(toRequests(config), map(summary))).toBe('-(sa)--|', {
        s: `skipped feedback-loop ${SEARCH}`,
        a: `POST ${AUDIT}`,
      });
    });
  });

  describe('payload failures', () => {
    const failing = (payload: unknown): ProvisionerConfig => ({
      rdm_record: { [SEARCH]: { publish: { http_method: 'POST', payload: payload as JsonObject } } },
    });
    const circular: Record<string, unknown> = { a: 1 };
    circular['self'] = circular;
    const cases: readonly [string, unknown, string][] = [
      ['throws', () => { throw new Error('no title'); }, 'threw'],
      ['rejects', () => Promise.reject(new Error('no title')), 'threw'],
      ['returns an array', () => [1, 2], 'got an array'],
      ['returns a string', () => 'doc', 'got a string ("doc")'],
      ['returns undefined', () => undefined, 'got undefined'],
      ['returns internal_error', () => ({ internal_error: 'no owner found' }), 'reported an internal error for record q1k7x-8mz42: "no owner found"'],
      ['returns a BigInt', () => ({ size: 10n }), 'JSON-serializable'],
      ['returns a cycle', () => circular, 'JSON-serializable'],
      ['is a static array', [1], 'got an array'],
    ];

    it.each(cases)('fails with reason payload when the payload function %s, naming the config path and record', async (_name, payload, expected) => {
      const plan = await onlyPlan(serviceEvent({ method: 'publish' }), failing(payload));
      expect(plan).toMatchObject({ kind: 'failed', reason: 'payload', request: null, attempts: 0, endpoint: SEARCH });
      expect(plan.kind === 'failed' && plan.error).toBeInstanceOf(PayloadError);
      const { message } = failureOf(plan);
      expect(message).toContain(`rdm_record["${SEARCH}"].publish`);
      expect(message).toContain('q1k7x-8mz42');
      expect(message).toContain(expected);
    });

    it('goes on with the next event after a failure', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        let calls = 0;
        const flaky = failing(() => {
          calls += 1;
          if (calls === 1) throw new Error('first fails');
          return { ok: true };
        });
        const events = cold('-a-b|', { a: serviceEvent({ method: 'publish' }), b: serviceEvent({ method: 'publish' }) });
        expectObservable(events.pipe(toRequests(flaky), map(summary))).toBe('-a-b|', { a: `failed payload ${SEARCH}`, b: `POST ${SEARCH}` });
      });
    });

    it('fails with reason payload when an async payload function does not settle within payloadTimeoutMs', () => {
      testScheduler().run(({ cold, expectObservable }) => {
        const plans = cold('e|', { e: serviceEvent({ method: 'publish' }) }).pipe(
          toRequests(failing(() => new Promise(() => undefined)), { payloadTimeoutMs: 50 }),
          map(summary),
        );
        expectObservable(plans).toBe('50ms (f|)', { f: `failed payload ${SEARCH}` });
      });
    });

    it('fails with reason payload when the event arguments could not be copied', async () => {
      const plan = await onlyPlan(serviceEvent({ method: 'publish', snapshotError: 'args.record.metadata: a cycle' }), failing({ a: 1 }));
      expect(failureOf(plan)).toEqual({ reason: 'payload', message: expect.stringContaining('args.record.metadata: a cycle') as unknown });
    });

    it('fails with reason payload when http_method gives no HTTP method', async () => {
      const plan = await onlyPlan(serviceEvent({ method: 'publish' }), {
        rdm_record: { [SEARCH]: { publish: { http_method: () => 'PUTT' as 'PUT', payload: null } } },
      });
      expect(failureOf(plan)).toEqual({ reason: 'payload', message: expect.stringContaining('got a string ("PUTT")') as unknown });
    });
  });

  it('never shows a token of the endpoint URL or the auth_token in a failure message', async () => {
    const endpoint = 'https://user:hunter2@search.example.org/api/v1/documents?api_key=k3y-s3cret';
    const plans = await plansOf([serviceEvent({ method: 'publish' })], {
      rdm_record: {
        [endpoint]: {
          publish: {
            http_method: 'POST',
            auth_token: 't0ken-s3cret',
            payload: () => {
              throw new Error('no title');
            },
          },
        },
      },
    });
    const { message } = failureOf(plans[0]!);
    expect(message).toContain('search.example.org/api/v1/documents');
    for (const secret of ['hunter2', 'k3y-s3cret', 't0ken-s3cret']) expect(message).not.toContain(secret);
  });

  describe('URL failures', () => {
    const withFactory = (url_factory: () => string, allowed_origins?: true | readonly string[]): ProvisionerConfig => ({
      rdm_record: {
        [SEARCH]: { delete_record: { http_method: 'DELETE', payload: null, url_factory, ...(allowed_origins === undefined ? {} : { allowed_origins }) } },
      },
    });
    const cases: readonly [string, () => string, string][] = [
      ['throws', () => { throw new Error('no id'); }, 'threw'],
      ['returns a relative URL', () => '/documents/1', 'absolute http(s) URL'],
      ['returns a non-http URL', () => 'ftp://search.example.org/documents/1', 'absolute http(s) URL'],
      ['leaves the endpoint origin', () => 'https://evil.example.net/documents/1', 'https://evil.example.net'],
      ['changes the port', () => 'https://search.example.org:8443/documents/1', 'https://search.example.org:8443'],
    ];

    it.each(cases)('fails with reason url when url_factory %s', async (_name, factory, expected) => {
      const { reason, message } = failureOf(await onlyPlan(serviceEvent({ method: 'delete_record' }), withFactory(factory)));
      expect(reason).toBe('url');
      expect(message).toContain(`rdm_record["${SEARCH}"].delete_record`);
      expect(message).toContain(expected);
    });

    it('allows another origin listed in allowed_origins, or any with true', async () => {
      const other = 'https://mirror.example.net/documents/1';
      expect(summary(await onlyPlan(serviceEvent({ method: 'delete_record' }), withFactory(() => other, ['https://mirror.example.net'])))).toBe(`DELETE ${other}`);
      expect(summary(await onlyPlan(serviceEvent({ method: 'delete_record' }), withFactory(() => other, true)))).toBe(`DELETE ${other}`);
      expect(failureOf(await onlyPlan(serviceEvent({ method: 'delete_record' }), withFactory(() => other, ['https://other.example.net']))).reason).toBe('url');
    });

    it('fails with reason url for an endpoint key that is not an absolute http(s) URL', async () => {
      const plan = await onlyPlan(serviceEvent({ method: 'publish' }), { rdm_record: { 'mailto:search@example.org': { publish: { http_method: 'POST', payload: null } } } });
      expect(failureOf(plan).reason).toBe('url');
    });
  });

  it('completes after the last plan of the last event', async () => {
    const done = await firstValueFrom(from([serviceEvent({ method: 'publish' })]).pipe(toRequests(config), toArray()));
    expect(done).toHaveLength(2);
  });
});
