/**
 * The fault-injecting receiver: a node:http server on 127.0.0.1 that runs in its own process
 * (forked by `startFaultReceiver`), so that its work never shows up in the app process's
 * event-loop figures and its resets are real socket resets. Controlled over IPC. It records a
 * request when its headers arrive (a `reset-before-body` never reads the body), with the
 * shared receiver's helpers.
 *
 * @internal test helper
 */
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { answerJson as sendJson, headerValue as header, listenOnLoopback, readBody } from '../../helpers/receiver.js';
import { serveOverIpc } from '../../helpers/receiverProcess.js';
import { chooseByChance, faultName, ruleMatches, type Fault, type ReceiverPlan, type ReceiverStats, type RecordedRequest } from './faultPlan.js';

let plan: ReceiverPlan = {};
let scriptIndex = 0;
let ruleUses: number[] = [];
let seq = 0;
let recorded: RecordedRequest[] = [];
let byFault: Record<string, number> = {};
const attemptsById = new Map<string, number>();
const faultsById = new Map<string, number>();
let open = 0;

function setPlan(next: ReceiverPlan): void {
  plan = next;
  scriptIndex = 0;
  ruleUses = (next.rules ?? []).map(() => 0);
}

function resetRecords(): void {
  seq = 0;
  recorded = [];
  byFault = {};
  attemptsById.clear();
  faultsById.clear();
  scriptIndex = 0;
  ruleUses = (plan.rules ?? []).map(() => 0);
}

function chooseFault(method: string, path: string, deliveryKey: string, attempt: number): Fault {
  const script = plan.script ?? [];
  if (scriptIndex < script.length) {
    const fault = script[scriptIndex];
    scriptIndex += 1;
    if (fault !== undefined) return fault;
  }
  const rules = plan.rules ?? [];
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (rule === undefined || !ruleMatches(rule, { method, path })) continue;
    const used = ruleUses[i] ?? 0;
    if (used >= rule.faults.length && rule.repeat !== true) continue;
    ruleUses[i] = used + 1;
    const fault = rule.faults[used % rule.faults.length];
    if (fault !== undefined) return fault;
  }
  const fallback = plan.default ?? { kind: 'ok' };
  const faultsSoFar = faultsById.get(deliveryKey) ?? 0;
  if (plan.maxFaultsPerDelivery !== undefined && faultsSoFar >= plan.maxFaultsPerDelivery) return fallback;
  const chance = chooseByChance(plan, { method, path, attempt });
  if (chance === null) return fallback;
  faultsById.set(deliveryKey, faultsSoFar + 1);
  return chance;
}

function resetSocket(socket: Socket): void {
  // A real TCP RST where the platform allows it, a plain destroy otherwise.
  if (typeof socket.resetAndDestroy === 'function' && !socket.destroyed) socket.resetAndDestroy();
  else socket.destroy();
}

function answer(res: ServerResponse, fault: Fault, entry: RecordedRequest): void {
  const id = entry.webhookId ?? entry.idempotencyKey ?? String(entry.seq);
  switch (fault.kind) {
    case 'ok':
      sendJson(res, fault.status ?? 200, { ok: true, id: `remote-${id}`, seq: entry.seq });
      return;
    case 'status':
      sendJson(res, fault.status, { error: `injected ${fault.status}`, seq: entry.seq });
      return;
    case 'retry-after': {
      const value =
        fault.form === 'seconds' ? String(fault.seconds) : new Date(Date.now() + fault.seconds * 1000).toUTCString();
      sendJson(res, fault.status ?? 429, { error: 'slow down' }, { 'retry-after': value });
      return;
    }
    case 'redirect':
      sendJson(res, fault.status, { moved: true }, { location: fault.location ?? 'http://127.0.0.1:9/elsewhere' });
      return;
    case 'hang':
      // Never answer; the socket stays open until the client gives up or the receiver closes.
      return;
    case 'slow': {
      const body = Buffer.from(JSON.stringify({ ok: true, slow: 'x'.repeat(Math.max(0, (fault.bytes ?? 24) - 21)) }));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
      let index = 0;
      const writeNext = (): void => {
        if (res.destroyed) return;
        if (index >= body.length - 1) {
          // The last byte ends the response, so that 'finish' means the client had it all.
          res.end(body.subarray(index));
          return;
        }
        res.write(body.subarray(index, index + 1));
        index += 1;
        setTimeout(writeNext, fault.byteDelayMs);
      };
      writeNext();
      return;
    }
    case 'non-json': {
      const text = '<<this is not json>>';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(text.length) });
      res.end(text);
      return;
    }
    case 'empty':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
      res.end();
      return;
    case 'no-content':
      res.writeHead(204);
      res.end();
      return;
    case 'oversize': {
      const filler = 'y'.repeat(Math.max(0, fault.bytes - 13));
      const text = `{"filler":"${filler}"}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
      return;
    }
    case 'wrong-type': {
      const text = '<!doctype html><title>OK</title><p>saved</p>';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(text.length) });
      res.end(text);
      return;
    }
    case 'reset-before-body':
    case 'reset-after-body':
      resetSocket(res.socket as Socket);
      return;
  }
}

const server = createServer((req, res) => {
  const method = req.method ?? 'GET';
  const path = req.url ?? '/';
  const webhookId = header(req, 'webhook-id');
  const idempotencyKey = header(req, 'idempotency-key');
  const deliveryKey = webhookId ?? idempotencyKey ?? `${method} ${path}`;
  const attempt = attemptsById.get(deliveryKey) ?? 0;
  attemptsById.set(deliveryKey, attempt + 1);
  const fault = chooseFault(method, path, deliveryKey, attempt);
  const name = faultName(fault);
  byFault[name] = (byFault[name] ?? 0) + 1;
  seq += 1;
  const full = (plan.record ?? 'full') === 'full';
  const entry: RecordedRequest = {
    seq,
    receivedAt: Date.now(),
    method,
    path,
    headers: full ? Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])) : null,
    body: null,
    webhookId,
    idempotencyKey,
    attempt,
    fault,
    faultName: name,
    end: 'open',
    endedAt: null,
  };
  recorded.push(entry);
  open += 1;
  let settled = false;
  const settle = (end: RecordedRequest['end']): void => {
    if (settled) return;
    settled = true;
    open -= 1;
    entry.end = end;
    entry.endedAt = Date.now();
  };
  res.on('finish', () => settle('answered'));
  res.on('close', () => settle(fault.kind.startsWith('reset') ? 'reset' : 'client-closed'));

  if (fault.kind === 'reset-before-body') {
    answer(res, fault, entry);
    return;
  }
  readBody(req).then(
    (body) => {
      if (full) (entry as { body: string | null }).body = body;
      answer(res, fault, entry);
    },
    () => settle('client-closed'),
  );
});
server.keepAliveTimeout = 5_000;

const origin = `http://127.0.0.1:${await listenOnLoopback(server)}`;
serveOverIpc(
  {
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  },
  {
    plan: (next: ReceiverPlan) => setPlan(next),
    requests: () => recorded,
    stats: (): ReceiverStats => ({ requests: seq, byFault: { ...byFault }, distinctDeliveryIds: attemptsById.size, open }),
    reset: () => resetRecords(),
  },
);
