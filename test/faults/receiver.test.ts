import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseByChance, classifyFault, faultName, type Fault, type ReceiverPlan } from './helpers/faultPlan.js';
import { startFaultReceiver, type FaultReceiver } from './helpers/faultReceiver.js';

type RawAnswer =
  | { readonly kind: 'response'; readonly status: number; readonly headers: Record<string, string>; readonly body: string; readonly chunks: number }
  | { readonly kind: 'error'; readonly code: string };

/** A bare node:http client, independent of the library, to see exactly what the receiver does. */
function send(
  base: string,
  path: string,
  options: { readonly method?: string; readonly body?: string; readonly headers?: Record<string, string>; readonly timeoutMs?: number } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const body = options.body ?? '{"hello":"world"}';
    const req = httpRequest(
      `${base}${path}`,
      {
        method: options.method ?? 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            kind: 'response',
            status: res.statusCode ?? 0,
            headers: Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
            body: Buffer.concat(chunks).toString('utf8'),
            chunks: chunks.length,
          }),
        );
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ kind: 'error', code: error.code ?? error.message }));
      },
    );
    req.setTimeout(options.timeoutMs ?? 2_000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ kind: 'error', code: error.code ?? error.message }));
    req.end(body);
  });
}

describe('fault-injecting receiver', () => {
  let receiver: FaultReceiver;

  beforeAll(async () => {
    receiver = await startFaultReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('runs in a separate process and answers 200 JSON by default', async () => {
    expect(receiver.pid).not.toBe(process.pid);
    await receiver.reset();
    const answer = await send(receiver.url, '/documents', { headers: { 'webhook-id': 'msg_1', 'idempotency-key': 'msg_1' } });
    expect(answer).toMatchObject({ kind: 'response', status: 200 });
    if (answer.kind !== 'response') return;
    expect(answer.headers['content-type']).toBe('application/json');
    expect(JSON.parse(answer.body)).toMatchObject({ ok: true, id: 'remote-msg_1' });
    const [seen] = await receiver.requests();
    expect(seen).toMatchObject({
      seq: 1,
      method: 'POST',
      path: '/documents',
      body: '{"hello":"world"}',
      webhookId: 'msg_1',
      idempotencyKey: 'msg_1',
      attempt: 0,
      faultName: 'ok',
      end: 'answered',
    });
    expect(seen?.headers?.['webhook-id']).toBe('msg_1');
  });

  it('answers a scripted burst of 5xx, then the default', async () => {
    await receiver.reset();
    await receiver.setPlan({
      script: [500, 502, 503, 504].map((status): Fault => ({ kind: 'status', status })),
    });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await send(receiver.url, '/burst', { headers: { 'webhook-id': 'msg_burst' } });
      statuses.push(answer.kind === 'response' ? answer.status : -1);
    }
    expect(statuses).toEqual([500, 502, 503, 504, 200]);
    const seen = await receiver.requests();
    expect(seen.map((r) => r.attempt)).toEqual([0, 1, 2, 3, 4]);
    expect(seen.map((r) => r.faultName)).toEqual(['status-500', 'status-502', 'status-503', 'status-504', 'ok']);
  });

  it('answers 429 with Retry-After in seconds and as an HTTP-date, and 408, 410', async () => {
    await receiver.reset();
    await receiver.setPlan({
      script: [
        { kind: 'retry-after', form: 'seconds', seconds: 7 },
        { kind: 'retry-after', form: 'http-date', seconds: 30 },
        { kind: 'status', status: 408 },
        { kind: 'status', status: 410 },
      ],
    });
    const seconds = await send(receiver.url, '/a');
    const date = await send(receiver.url, '/a');
    const timeout = await send(receiver.url, '/a');
    const gone = await send(receiver.url, '/a');
    expect(seconds).toMatchObject({ kind: 'response', status: 429, headers: { 'retry-after': '7' } });
    expect(date).toMatchObject({ kind: 'response', status: 429 });
    if (date.kind === 'response') {
      const at = Date.parse(date.headers['retry-after'] ?? '');
      expect(at - Date.now()).toBeGreaterThan(20_000);
      expect(date.headers['retry-after']).toMatch(/GMT$/);
    }
    expect(timeout).toMatchObject({ kind: 'response', status: 408 });
    expect(gone).toMatchObject({ kind: 'response', status: 410 });
  });

  it('answers redirects with a Location and does not follow anything itself', async () => {
    await receiver.reset();
    await receiver.setPlan({
      script: [301, 302, 307].map((status) => ({ kind: 'redirect', status, location: 'http://127.0.0.1:9/moved' }) as Fault),
    });
    for (const status of [301, 302, 307]) {
      expect(await send(receiver.url, '/r')).toMatchObject({ kind: 'response', status, headers: { location: 'http://127.0.0.1:9/moved' } });
    }
  });

  it('resets the connection before reading the body (body not recorded) and after reading it (body recorded)', async () => {
    await receiver.reset();
    await receiver.setPlan({ script: [{ kind: 'reset-before-body' }, { kind: 'reset-after-body' }] });
    const before = await send(receiver.url, '/reset', { body: JSON.stringify({ n: 1 }) });
    const after = await send(receiver.url, '/reset', { body: JSON.stringify({ n: 2 }) });
    expect(before.kind).toBe('error');
    expect(after.kind).toBe('error');
    if (before.kind === 'error') expect(['ECONNRESET', 'EPIPE', 'socket hang up']).toContain(before.code);
    if (after.kind === 'error') expect(['ECONNRESET', 'socket hang up']).toContain(after.code);
    const seen = await receiver.requests();
    expect(seen.map((r) => [r.faultName, r.body, r.end])).toEqual([
      ['reset-before-body', null, 'reset'],
      ['reset-after-body', '{"n":2}', 'reset'],
    ]);
    expect(seen.map((r) => classifyFault(r.fault, r.end))).toEqual(['retryable', 'unknown']);
  });

  it('accepts and never answers until the client gives up', async () => {
    await receiver.reset();
    await receiver.setPlan({ script: [{ kind: 'hang' }] });
    const answer = await send(receiver.url, '/hang', { timeoutMs: 150 });
    expect(answer).toEqual({ kind: 'error', code: 'TIMEOUT' });
    await expect.poll(async () => (await receiver.requests())[0]?.end).toBe('client-closed');
    expect((await receiver.requests())[0]?.body).toBe('{"hello":"world"}');
  });

  it('answers very slowly, one byte at a time', async () => {
    await receiver.reset();
    await receiver.setPlan({ script: [{ kind: 'slow', byteDelayMs: 2, bytes: 30 }] });
    const answer = await send(receiver.url, '/slow');
    expect(answer).toMatchObject({ kind: 'response', status: 200 });
    if (answer.kind !== 'response') return;
    expect(JSON.parse(answer.body)).toMatchObject({ ok: true });
    expect(answer.body.length).toBe(30);
    expect(answer.chunks).toBeGreaterThan(10);
  });

  it('answers non-JSON, empty, 204, oversize and wrong-content-type bodies', async () => {
    await receiver.reset();
    await receiver.setPlan({
      script: [{ kind: 'non-json' }, { kind: 'empty' }, { kind: 'no-content' }, { kind: 'oversize', bytes: 200_000 }, { kind: 'wrong-type' }],
    });
    const nonJson = await send(receiver.url, '/b');
    const empty = await send(receiver.url, '/b');
    const noContent = await send(receiver.url, '/b');
    const oversize = await send(receiver.url, '/b');
    const wrongType = await send(receiver.url, '/b');
    expect(nonJson).toMatchObject({ kind: 'response', status: 200, headers: { 'content-type': 'application/json' } });
    if (nonJson.kind === 'response') expect(() => JSON.parse(nonJson.body)).toThrow();
    expect(empty).toMatchObject({ kind: 'response', status: 200, body: '' });
    expect(noContent).toMatchObject({ kind: 'response', status: 204, body: '' });
    expect(oversize).toMatchObject({ kind: 'response', status: 200 });
    if (oversize.kind === 'response') expect(oversize.body.length).toBe(200_000);
    expect(wrongType).toMatchObject({ kind: 'response', status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } });
  });

  it('scripts per path with rules, and lets the probabilistic plan answer the rest', async () => {
    await receiver.reset();
    await receiver.setPlan({
      rules: [{ path: '/special', faults: [{ kind: 'status', status: 410 }] }],
      default: { kind: 'no-content' },
    });
    expect(await send(receiver.url, '/other')).toMatchObject({ status: 204 });
    expect(await send(receiver.url, '/special')).toMatchObject({ status: 410 });
    expect(await send(receiver.url, '/special')).toMatchObject({ status: 204 });
  });

  it('chooses faults by chance deterministically from the seed, whatever the arrival order', async () => {
    const plan: ReceiverPlan = {
      seed: 42,
      failShare: 0.5,
      mix: [
        { fault: { kind: 'status', status: 503 }, weight: 1 },
        { fault: { kind: 'status', status: 410 }, weight: 1 },
      ],
    };
    const paths = Array.from({ length: 40 }, (_, i) => `/records/${i}`);
    const run = async (order: readonly string[]): Promise<Map<string, string>> => {
      await receiver.reset();
      await receiver.setPlan(plan);
      await Promise.all(order.map((path) => send(receiver.url, path, { headers: { 'webhook-id': `id-${path}` } })));
      return new Map((await receiver.requests()).map((r) => [r.path, r.faultName]));
    };
    const forward = await run(paths);
    const backward = await run([...paths].reverse());
    expect([...backward.entries()].sort()).toEqual([...forward.entries()].sort());
    const names = [...forward.values()];
    expect(names).toContain('ok');
    expect(names).toContain('status-503');
    expect(names).toContain('status-410');
    // The same choice function, outside the process, agrees.
    for (const [path, name] of forward) {
      const fault = chooseByChance(plan, { method: 'POST', path, attempt: 0 });
      expect(fault === null ? 'ok' : faultName(fault)).toBe(name);
    }
  });

  it('caps the faults one delivery gets with maxFaultsPerDelivery', async () => {
    await receiver.reset();
    await receiver.setPlan({ failShare: 1, mix: [{ fault: { kind: 'status', status: 503 }, weight: 1 }], maxFaultsPerDelivery: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const answer = await send(receiver.url, '/cap', { headers: { 'webhook-id': 'msg_cap' } });
      statuses.push(answer.kind === 'response' ? answer.status : -1);
    }
    expect(statuses).toEqual([503, 503, 200, 200]);
    expect(await receiver.stats()).toMatchObject({ requests: 4, distinctDeliveryIds: 1, byFault: { 'status-503': 2, ok: 2 } });
  });
});
