import { afterEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  createProvisioner,
  defineConfig,
  type AppRecord,
  type DeliveryOutcome,
} from '../../src/index.js';
import { rdmRecord } from '../helpers/factories.js';
import { collect, kindOf, tally } from '../helpers/outcomes.js';
import { answerJson, type Receiver, refusingOrigin, startReceiver } from '../helpers/receiver.js';

const identity = { id: 7 };
const servers: Receiver[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(handler: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(handler);
  servers.push(started);
  return started;
}

const record = (id: string, patch: Partial<AppRecord> = {}): AppRecord => rdmRecord({ id, ...patch });
const payload = ({ record: subject }: { readonly record?: AppRecord | null | undefined }) => ({ id: String(subject?.id) });
const FAST_RETRY = { limit: 1, baseDelayMs: 1, maxDelayMs: 5 };

describe('createProvisioner outcomes', () => {
  it('ends every (event, matching endpoint) pair in exactly one outcome, for mixed success and failure', async () => {
    const remote = await server((request, response) => {
      if (request.path === '/gone') answerJson(response, 404, { error: 'no such index' });
      else if (request.path === '/empty') answerJson(response, 204);
      else answerJson(response, 201, { _id: `remote-${request.path}` });
    });
    const provisioner = createProvisioner({
      events: defineConfig({
        rdm_record: {
          [remote.url('/documents')]: {
            publish: { http_method: 'POST', payload },
            delete_record: { http_method: 'DELETE', payload: null },
          },
          [remote.url('/gone')]: { publish: { http_method: 'POST', payload } },
          [remote.url('/empty')]: { publish: { http_method: 'PUT', payload } },
        },
      }),
      http: { retry: FAST_RETRY },
    });
    cleanups.push(() => provisioner.close());
    const { outcomes } = collect(provisioner);
    const hooks = provisioner.hooks('rdm_record');

    const N = 20;
    for (let index = 0; index < N; index += 1) hooks.publish({ identity, record: record(`r${index}`) });
    for (let index = 0; index < 5; index += 1) hooks.delete_record({ identity, record: record(`r${index}`) });
    hooks.read({ identity, record: record('r0') }); // not configured: no outcome
    await provisioner.drain();

    expect(outcomes).toHaveLength(N * 3 + 5);
    expect(tally(outcomes)).toEqual({ delivered: N * 2 + 5, 'failed http-status': N });
    const pairs = new Set(outcomes.map((outcome) => `${outcome.event.eventId} ${outcome.endpoint}`));
    expect(pairs.size).toBe(outcomes.length);
    expect(remote.requests).toHaveLength(N * 3 + 5); // a 404 is not retried
    expect(outcomes.filter((outcome) => outcome.kind === 'delivered').map((outcome) => outcome.response.status).sort()).toEqual(
      [...Array<number>(N + 5).fill(201), ...Array<number>(N).fill(204)].sort(),
    );
  });

  it('sends each request once to the server with its Idempotency-Key, Bearer token and JSON body', async () => {
    const remote = await server((_request, response) => answerJson(response, 201, { _id: 'x' }));
    const provisioner = createProvisioner({
      events: defineConfig({
        rdm_record: { [remote.url('/documents')]: { publish: { http_method: 'POST', payload, auth_token: 's3cret', headers: { 'X-Source': 'works' } } } },
      }),
    });
    cleanups.push(() => provisioner.close());
    const { outcomes } = collect(provisioner);
    provisioner.hooks('rdm_record').publish({ identity, record: record('q1k7x-8mz42') });
    await provisioner.drain();

    const [outcome] = outcomes;
    expect(outcome?.kind).toBe('delivered');
    const [received] = remote.requests;
    expect(received).toMatchObject({ method: 'POST', path: '/documents', body: '{"id":"q1k7x-8mz42"}' });
    expect(received?.headers).toMatchObject({
      authorization: 'Bearer s3cret',
      'content-type': 'application/json',
      'x-source': 'works',
      'idempotency-key': outcome?.kind === 'delivered' ? outcome.request.deliveryId : '',
    });
    expect(outcome?.kind === 'delivered' && outcome.settledAt >= outcome.acceptedAt).toBe(true);
  });

  describe('reaches every failure reason and skip reason', () => {
    type Case = {
      readonly name: string;
      readonly expected: string;
      readonly run: () => Promise<DeliveryOutcome>;
    };

    /** One publish of `subject` through a provisioner of one endpoint; its only outcome. */
    async function publishOnce(
      endpoint: string,
      eventConfig: Record<string, unknown>,
      extra: Record<string, unknown> = {},
      subject: AppRecord = record('q1k7x-8mz42'),
    ): Promise<DeliveryOutcome> {
      const provisioner = createProvisioner({
        events: defineConfig({ rdm_record: { [endpoint]: { publish: { http_method: 'POST', payload, ...eventConfig } } } } as never),
        http: { retry: { limit: 0 }, timeoutMs: 2_000 },
        ...extra,
      } as never);
      cleanups.push(() => provisioner.close());
      const { outcomes } = collect(provisioner);
      provisioner.hooks('rdm_record').publish({ identity, record: subject });
      await provisioner.drain();
      expect(outcomes).toHaveLength(1);
      return outcomes[0]!;
    }

    const cases: readonly Case[] = [
      {
        name: '500 after its retries',
        expected: 'failed http-status',
        run: async () => {
          const remote = await server((_request, response) => answerJson(response, 500, { error: 'down' }));
          const outcome = await publishOnce(remote.url('/documents'), {}, { http: { retry: FAST_RETRY } });
          expect(outcome).toMatchObject({ attempts: 2, response: { status: 500, body: { error: 'down' } } });
          expect(remote.requests).toHaveLength(2);
          expect(new Set(remote.requests.map((request) => request.headers['idempotency-key'])).size).toBe(1);
          return outcome;
        },
      },
      {
        name: '301, not followed',
        expected: 'failed redirect',
        run: async () => {
          const remote = await server((request, response) =>
            request.path === '/documents' ? answerJson(response, 301, undefined, { location: '/moved' }) : answerJson(response, 201, {}),
          );
          const outcome = await publishOnce(remote.url('/documents'), {});
          expect(remote.requests.map((request) => request.path)).toEqual(['/documents']);
          return outcome;
        },
      },
      { name: 'a refused connection', expected: 'failed network', run: async () => publishOnce(`${await refusingOrigin()}/documents`, {}) },
      {
        name: 'a server that does not answer in time',
        expected: 'failed timeout',
        run: async () => {
          const remote = await server(() => undefined);
          return publishOnce(remote.url('/documents'), {}, { http: { retry: { limit: 0 }, timeoutMs: 100 } });
        },
      },
      {
        name: 'a throwing payload function',
        expected: 'failed payload',
        run: async () =>
          publishOnce('http://127.0.0.1:9/documents', {
            payload: () => {
              throw new Error('no title');
            },
          }),
      },
      {
        name: 'a url_factory leaving the endpoint origin',
        expected: 'failed url',
        run: async () => publishOnce('http://127.0.0.1:9/documents', { url_factory: () => 'http://127.0.0.2:9/documents' }),
      },
      {
        name: 'a rejecting resolveOwner',
        expected: 'failed owner',
        run: async () =>
          publishOnce('http://127.0.0.1:9/documents', { with_record_owner: true }, { resolveOwner: () => Promise.reject(new Error('user store down')) }),
      },
      {
        name: 'a restricted record',
        expected: 'skipped restricted',
        run: async () => publishOnce('http://127.0.0.1:9/documents', {}, {}, record('hidden', { access: { record: 'restricted' } })),
      },
    ];

    it.each(cases)('$expected: $name', async ({ run, expected }) => {
      expect(kindOf(await run())).toBe(expected);
    });

    it('failed overflow: past maxQueue while the endpoint is slow', async () => {
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      const remote = await server(async (_request, response) => {
        await released;
        answerJson(response, 201, {});
      });
      const provisioner = createProvisioner({
        events: defineConfig({ rdm_record: { [remote.url('/documents')]: { publish: { http_method: 'POST', payload } } } }),
        http: { concurrency: 1, maxQueue: 2 },
      });
      cleanups.push(() => provisioner.close());
      const { outcomes } = collect(provisioner);
      const hooks = provisioner.hooks('rdm_record');
      for (const id of ['a', 'b', 'c', 'd']) hooks.publish({ identity, record: record(id) });
      expect(outcomes.map((outcome) => `${kindOf(outcome)} ${String(outcome.event.recordId)}`)).toEqual(['failed overflow c', 'failed overflow d']);
      release();
      await provisioner.drain();
      expect(tally(outcomes)).toEqual({ 'failed overflow': 2, delivered: 2 });
    });

    it('failed closed: a hook called while close() runs, without an exception in the app', async () => {
      const remote = await server(() => undefined);
      const provisioner = createProvisioner({
        events: defineConfig({ rdm_record: { [remote.url('/documents')]: { publish: { http_method: 'POST', payload } } } }),
        http: { retry: { limit: 0 } },
      });
      const { outcomes } = collect(provisioner);
      const hooks = provisioner.hooks('rdm_record');
      hooks.publish({ identity, record: record('before') });
      const closing = provisioner.close({ timeoutMs: 200 });
      expect(() => hooks.publish({ identity, record: record('during') })).not.toThrow();
      expect(outcomes.map((outcome) => `${kindOf(outcome)} ${String(outcome.event.recordId)}`)).toEqual(['failed closed during']);
      await closing;
      expect(outcomes.map((outcome) => `${kindOf(outcome)} ${String(outcome.event.recordId)}`)).toEqual(['failed closed during', 'failed closed before']);
      const last = outcomes[1];
      expect(last?.kind === 'failed' && last.error).toBeInstanceOf(ClosedError);
      expect(last?.kind === 'failed' && last.request?.url).toBe(remote.url('/documents'));
    });
  });
});
