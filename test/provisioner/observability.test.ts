import { format } from 'node:util';
import createDebug from 'debug';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createProvisioner, defineConfig, type DeliveryAttempt, type DeliveryOutcome } from '../../src/index.js';
import { answerJson, startReceiver, type Receiver } from '../helpers/receiver.js';
import { identity, rdmRecord, type RdmRecord } from '../helpers/factories.js';

type Fixture = RdmRecord;
const fixture = rdmRecord();
const recordNo = (n: number): Fixture => ({ ...fixture, id: `rec-${n}` });

let server: Receiver;
/** Answers per path: `/flaky` 503 twice per record then 201; `/gone` always 410; `/hold` waits until released. */
const calls = new Map<string, number>();
let releaseHeld: (() => void)[] = [];

beforeAll(async () => {
  server = await startReceiver((request, response) => {
    const record = (JSON.parse(request.body || '{}') as { id?: string }).id ?? '';
    const count = (calls.get(`${request.path} ${record}`) ?? 0) + 1;
    calls.set(`${request.path} ${record}`, count);
    if (request.path === '/flaky') return answerJson(response, count <= 2 ? 503 : 201, { count });
    if (request.path === '/gone') return answerJson(response, 410, { gone: true });
    if (request.path === '/hold') return void releaseHeld.push(() => answerJson(response, 200, { ok: true }));
    answerJson(response, 200, { ok: true });
  });
});

beforeEach(() => {
  calls.clear();
  releaseHeld = [];
});

afterAll(async () => {
  await server.close();
});

const configFor = (path: string, extra: object = {}) =>
  defineConfig<Fixture>({
    rdm_record: { [server.url(path)]: { publish: { http_method: 'POST', payload: ({ record }) => ({ id: record.id }), ...extra } } },
  });

describe('attempts$', () => {
  it('reports every attempt as it ends, with the delay before the next one, before the outcome', async () => {
    const provisioner = createProvisioner<Fixture>({ events: configFor('/flaky'), http: { retry: { baseDelayMs: 20, maxDelayMs: 40 } } });
    const seen: (DeliveryAttempt | DeliveryOutcome<Fixture>)[] = [];
    provisioner.attempts$.subscribe((attempt) => seen.push(attempt));
    provisioner.outcomes$.subscribe((outcome) => seen.push(outcome));
    provisioner.hooks('rdm_record').publish({ identity, record: recordNo(1) });
    await provisioner.drain();
    await provisioner.close();

    const attempts = seen.filter((item): item is DeliveryAttempt => 'attempt' in item && 'result' in item);
    expect(attempts.map(({ attempt, result, status, reason }) => ({ attempt, result, status, reason }))).toEqual([
      { attempt: 1, result: 'retry', status: 503, reason: 'http-status' },
      { attempt: 2, result: 'retry', status: 503, reason: 'http-status' },
      { attempt: 3, result: 'delivered', status: 201, reason: null },
    ]);
    for (const retry of attempts.slice(0, 2)) {
      expect(retry.nextDelayMs).toBeGreaterThanOrEqual(0);
      expect(retry.nextDelayMs).toBeLessThanOrEqual(40);
      expect(retry.error?.name).toBe('HttpStatusError');
    }
    expect(attempts[2]?.nextDelayMs).toBeNull();
    expect(new Set(attempts.map((attempt) => attempt.deliveryId)).size).toBe(1);
    expect(attempts[0]).toMatchObject({ serviceType: 'rdm_record', serviceMethod: 'publish', endpoint: server.url('/flaky'), recordId: 'rec-1' });
    // The outcome comes after its last attempt.
    expect(seen.at(-1)).toMatchObject({ kind: 'delivered', attempts: 3 });
  });

  it('logs the first retry of a delivery at debug, with its reason', async () => {
    const lines: string[] = [];
    const previousLog = createDebug.log;
    const previousNamespaces = createDebug.disable();
    createDebug.enable('remote-api-provisioner:delivery');
    createDebug.log = (...args: unknown[]) => lines.push(format(...args));
    try {
      const provisioner = createProvisioner<Fixture>({ events: configFor('/flaky'), http: { retry: { baseDelayMs: 5, maxDelayMs: 10 } } });
      provisioner.hooks('rdm_record').publish({ identity, record: recordNo(2) });
      await provisioner.drain();
      await provisioner.close();
    } finally {
      createDebug.log = previousLog;
      createDebug.enable(previousNamespaces);
    }
    const retries = lines.filter((line) => line.includes('did not deliver'));
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatch(/attempt 1 did not deliver \(http-status: .*503.*\), retrying in \d+ ms/);
  });
});

describe('stats()', () => {
  it('shows what is pending, in flight and how old, and the dead letters', async () => {
    const provisioner = createProvisioner<Fixture>({
      events: defineConfig<Fixture>({
        rdm_record: {
          [server.url('/hold')]: { publish: { http_method: 'POST', payload: ({ record }) => ({ id: record.id }) } },
          [server.url('/gone')]: { publish: { http_method: 'POST', payload: ({ record }) => ({ id: record.id }) } },
        },
      }),
      http: { concurrency: 4 },
    });
    expect(await provisioner.stats()).toEqual({ store: 'memory', pending: 0, inFlight: 0, oldestPendingAgeMs: null, deadLetters: 0, callbacksPending: 0 });
    provisioner.hooks('rdm_record').publish({ identity, record: recordNo(3) });
    provisioner.hooks('rdm_record').publish({ identity, record: recordNo(3) });
    // Two deliveries per event; /gone fails at once, /hold waits at the receiver, the second /hold waits in its lane.
    await expect.poll(() => releaseHeld.length).toBe(1);
    await expect.poll(async () => (await provisioner.stats()).deadLetters).toBe(2);
    const busy = await provisioner.stats();
    expect(busy).toMatchObject({ pending: 2, inFlight: 1, deadLetters: 2 });
    expect(busy.oldestPendingAgeMs).toBeGreaterThanOrEqual(0);
    releaseHeld.shift()?.();
    await expect.poll(() => releaseHeld.length).toBe(1);
    releaseHeld.shift()?.();
    await provisioner.drain();
    expect(await provisioner.stats()).toEqual({ store: 'memory', pending: 0, inFlight: 0, oldestPendingAgeMs: null, deadLetters: 2, callbacksPending: 0 });
    await provisioner.close();
  });
});

describe('outcomes', () => {
  it('show the request without the values of its secret headers, which the receiver got', async () => {
    const provisioner = createProvisioner<Fixture>({
      events: configFor('/ok', { auth_token: 'tok-abc123', headers: { 'X-Access-Key': 'key-xyz789', 'X-Tenant': 'library-a' } }),
    });
    const outcomes: DeliveryOutcome<Fixture>[] = [];
    provisioner.outcomes$.subscribe((outcome) => outcomes.push(outcome));
    provisioner.hooks('rdm_record').publish({ identity, record: recordNo(4) });
    await provisioner.drain();
    await provisioner.close();
    const received = server.requests.find((request) => request.path === '/ok');
    expect(received?.headers['authorization']).toBe('Bearer tok-abc123');
    expect(received?.headers['x-access-key']).toBe('key-xyz789');
    const [outcome] = outcomes;
    expect(outcome?.kind).toBe('delivered');
    const headers = outcome?.kind === 'delivered' ? outcome.request.headers : {};
    expect(headers['Authorization']).toBe('[redacted]');
    expect(headers['X-Access-Key']).toBe('[redacted]');
    expect(headers['X-Tenant']).toBe('library-a');
    expect(JSON.stringify(outcomes)).not.toMatch(/tok-abc123|key-xyz789/);
  });
});
