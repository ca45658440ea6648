/**
 * a. End-to-end deliveries per second and client CPU per delivery: hooks → pipeline → default
 * effect → receiver in another process, against raw undici `request` and global `fetch`
 * sending the same 1 KB JSON POST at the same concurrency, in interleaved rounds. At
 * concurrency 16 also: the provisioner with a user's ky `beforeRequest` hook, stock ky, the
 * default effect alone, the lean fetch under it against the same requests through
 * `Agent.request()` (which transport the lean fetch keeps), and the provisioner over the
 * SQLite and the Redis store, against the memory store's deliveries/s of the same run.
 */
import ky from 'ky';
import type { JsonObject, RequestDescriptor } from 'remote-api-provisioner';
import { agentRequestClient, fetchClient, runPool, undiciClient, type Client } from './clients.js';
import type { BenchContext, Section, SectionResult } from './context.js';
import { drivePublishes, publishConfig } from './drive.js';
import { openDurableStores, type UnavailableStore } from './durableStores.js';
import { bigRecord, recordId, recordWithId, searchDocument } from './fixtures.js';
import { NOT_BUILT, type BenchProvisioner, type CreateKyEffect } from './library.js';
import { kyCallCost } from './kyCallCost.js';
import { cpuPerItem, interleave, perSecond, type Contender, type Round } from './rounds.js';
import { missing, row, type Row, type Verdict } from './stats.js';

export const CONCURRENCIES = [1, 16, 64] as const;

/** Deliveries each contender sends before its measured rounds: enough for the JIT to settle on the whole path (200 left the provisioner's first rounds interpreted). */
const WARM_UP = 2_000;
/** Untimed deliveries before each round, after its full collection (rounds.ts). */
const REWARM = 500;

const LEAN = 'lean fetch alone, no ky';
const AGENT_REQUEST = 'Agent.request(), lean fetch options';
const WITH_HOOK = 'createProvisioner, user beforeRequest hook';
const MEMORY = 'createProvisioner';
const STORE_RUNS = {
  sqlite: { name: 'createProvisioner, SQLite store', rate: 0.7 },
  redis: { name: 'createProvisioner, Redis store', rate: 0.5 },
} as const;

/** The targets of issue #12 at concurrency 16, as ratios to raw undici `request` in the same run. */
const TARGETS: Readonly<Record<string, { readonly rate: number; readonly cpu: number }>> = {
  [MEMORY]: { rate: 0.45, cpu: 2.5 },
  [WITH_HOOK]: { rate: 0.4, cpu: 2.8 },
};

function poolContender(name: string, client: Client, total: number, concurrency: number, payload: (n: number) => JsonObject, maxMs: number): Contender {
  return {
    name,
    warmUp: async () => {
      await runPool(client, Math.min(total, WARM_UP), concurrency, payload, maxMs);
    },
    rewarm: async () => {
      await runPool(client, Math.min(total, REWARM), concurrency, payload, maxMs);
    },
    measure: () => runPool(client, total, concurrency, payload, maxMs),
    close: () => client.close(),
  };
}

/** Stock ky, as an app would use it without the library: `retry: 0`, `.json()`. */
export function kyClient(url: string): Client {
  return {
    async send(payload) {
      await ky.post(url, { json: payload, retry: 0, timeout: 10_000 }).json();
    },
    close: async () => {},
  };
}

/** The default effect on its own (no hooks, no pipeline): one subscription per request. */
export function effectClient(createKyEffect: CreateKyEffect, url: string, connections: number): Client {
  const effect = createKyEffect({ timeoutMs: 10_000, connections });
  let sequence = 0;
  return {
    send(payload) {
      sequence += 1;
      const deliveryId = `bench-${sequence}`;
      const request: RequestDescriptor = {
        deliveryId,
        eventId: deliveryId,
        serviceType: 'rdm_record',
        serviceMethod: 'publish',
        endpoint: url,
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': deliveryId },
        payload,
        body: JSON.stringify(payload),
        recordId: String(payload['id']),
        draftId: null,
      };
      return new Promise<void>((resolve, reject) => {
        effect(request).subscribe({
          next: (response) => {
            if (response.status < 200 || response.status > 299) reject(new Error(`Expected a 2xx answer from ${url}, got ${response.status}`));
          },
          error: reject,
          complete: resolve,
        });
      });
    },
    close: () => effect.close(),
  };
}

/**
 * The lean fetch under the default effect, called directly (no ky, no RxJS): what the effect
 * would cost without ky's per-call work (its options merge and the WHATWG `Request` it builds).
 * The body is read as the effect reads it (up to its 1 MiB cap), then parsed. It is internal, so
 * it comes from `dist/` by path; a build without it leaves the row out.
 */
async function leanFetchClient(url: string, connections: number): Promise<Client | undefined> {
  type LeanFetch = ((input: string, init: { method: string; lean: { headers: Record<string, string>; body: string } }) => Promise<Response>) & { close(): Promise<void> };
  type LeanModule = {
    createLeanFetch?: (options: { connections: number }) => LeanFetch;
    readBodyBounded?: (response: Response, maxBytes: number) => Promise<{ bytes: Buffer }>;
  };
  let module: LeanModule;
  try {
    // The lean fetch and the bounded body read live in two modules of dist/.
    const [fetchModule, responseModule] = await Promise.all([
      import(new URL('../dist/delivery/leanFetch.js', import.meta.url).href) as Promise<LeanModule>,
      import(new URL('../dist/delivery/leanResponse.js', import.meta.url).href) as Promise<LeanModule>,
    ]);
    module = { ...fetchModule, ...responseModule };
  } catch {
    return undefined;
  }
  const { createLeanFetch, readBodyBounded } = module;
  if (createLeanFetch === undefined || readBodyBounded === undefined) return undefined;
  const leanFetch = createLeanFetch({ connections });
  let sequence = 0;
  return {
    async send(payload) {
      sequence += 1;
      const headers = { 'content-type': 'application/json', 'idempotency-key': `lean-${sequence}` };
      const response = await leanFetch(url, { method: 'POST', lean: { headers, body: JSON.stringify(payload) } });
      const { bytes } = await readBodyBounded(response, MAX_RESPONSE_BYTES);
      JSON.parse(bytes.toString('utf8'));
      if (response.status < 200 || response.status > 299) throw new Error(`Expected a 2xx answer from ${url}, got ${response.status}`);
    },
    close: () => leanFetch.close(),
  };
}

/** The default effect's cap on a response body. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** The rule of issue #12: the lean fetch moves to `Agent.request()` only if it costs at most this much more. */
const AGENT_REQUEST_MARGIN = 1.1;

/** A ky `beforeRequest` hook as a user would give it: one header on every delivery. */
export const USER_KY_OPTIONS = {
  hooks: {
    beforeRequest: [
      ({ request }: { request: Request }): void => {
        request.headers.set('x-bench', '1');
      },
    ],
  },
};

/** The library end to end: `hooks.publish` for distinct records, drained at the end of each round. */
export function provisionerContender(
  name: string,
  provisioner: BenchProvisioner,
  total: number,
  window: number,
  maxMs: number,
): Contender {
  const base = bigRecord();
  let offset = 0;
  const runFor = async (count: number): Promise<Round> => {
    const start = offset;
    offset += count;
    const run = await drivePublishes(provisioner, count, window, (n) => recordWithId(base, recordId(start + n)), maxMs);
    if (run.tally.failed > 0 || run.tally.skipped > 0) {
      throw new Error(
        `Expected every delivery of ${name} to succeed, got ${run.tally.failed} failed ` +
          `(${JSON.stringify(run.tally.reasons)}) and ${run.tally.skipped} skipped`,
      );
    }
    return { done: run.tally.delivered, wallNs: run.wallNs, cpuUs: run.cpuUs };
  };
  return {
    name,
    warmUp: async () => {
      await runFor(Math.min(total, WARM_UP));
    },
    rewarm: async () => {
      await runFor(Math.min(total, REWARM));
    },
    measure: () => runFor(total),
    close: () => provisioner.close(),
  };
}

export const endToEnd: Section = {
  id: 'a',
  title: 'a. End to end: 1 KB JSON POST to a receiver in another process',
  async run(context: BenchContext): Promise<SectionResult> {
    const { quick, receiver, library, log } = context;
    await receiver.setMode('healthy');
    const url = `${receiver.origin}/api/v1/documents`;
    const document = searchDocument();
    const payload = (n: number): JsonObject => ({ ...document, id: recordId(n) });
    const rounds = quick ? 2 : 5;
    const maxMs = quick ? 5_000 : 30_000;
    const rows: Row[] = [];
    const details: Record<string, unknown> = {};
    const storesUnavailable: UnavailableStore[] = [];

    for (const concurrency of context.concurrencies ?? CONCURRENCIES) {
      const total = quick ? (concurrency === 1 ? 100 : 400) : concurrency === 1 ? 2_000 : 6_000;
      log(`a. concurrency ${concurrency}, ${total} deliveries per round, ${rounds} rounds`);
      const contenders: Contender[] = [
        poolContender('undici request', undiciClient(url, concurrency), total, concurrency, payload, maxMs),
        poolContender('global fetch', fetchClient(url), total, concurrency, payload, maxMs),
      ];
      if (concurrency === 16) {
        contenders.push(poolContender('ky stock', kyClient(url), total, concurrency, payload, maxMs));
      }
      if (library.createKyEffect !== undefined) {
        const client = effectClient(library.createKyEffect, url, concurrency);
        contenders.push(poolContender('default effect alone', client, total, concurrency, payload, maxMs));
      }
      const lean = concurrency === 16 ? await leanFetchClient(url, concurrency) : undefined;
      if (lean !== undefined) {
        contenders.push(poolContender(LEAN, lean, total, concurrency, payload, maxMs));
        contenders.push(poolContender(AGENT_REQUEST, agentRequestClient(url, concurrency), total, concurrency, payload, maxMs));
      }
      const create = library.createProvisioner;
      const http = { concurrency, maxQueue: 100_000, timeoutMs: 10_000, retry: { limit: 0 } };
      if (create !== undefined) {
        const provisioner = create({ events: publishConfig(url, document), http });
        contenders.push(provisionerContender('createProvisioner', provisioner, total, Math.max(2 * concurrency, 4), maxMs));
        if (concurrency === 16) {
          const hooked = create({ events: publishConfig(url, document), http: { ...http, ky: USER_KY_OPTIONS } });
          contenders.push(provisionerContender(WITH_HOOK, hooked, total, Math.max(2 * concurrency, 4), maxMs));
          // The same over each durable store, against the memory store of the same run (issue #13).
          const durable = await openDurableStores(library, 'e2e', http.maxQueue);
          for (const { kind, store, cleanup } of durable.opened) {
            const provisioner = create({ events: publishConfig(url, document), http, store });
            const contender = provisionerContender(STORE_RUNS[kind].name, provisioner, total, Math.max(2 * concurrency, 4), maxMs);
            contenders.push({ ...contender, close: () => contender.close().finally(cleanup) });
          }
          storesUnavailable.push(...durable.unavailable);
        }
      }
      try {
        const results = await interleave(contenders, rounds, log);
        details[`c${concurrency}`] = Object.fromEntries(results);
        const baseRounds = results.get('undici request') ?? [];
        const baseRate = row('a', `c=${concurrency} undici request`, 'deliveries/s', baseRounds.map(perSecond));
        const baseCpu = row('a', `c=${concurrency} undici request CPU`, 'µs/delivery', baseRounds.map(cpuPerItem));
        rows.push(baseRate, baseCpu);
        for (const contender of contenders.slice(1)) {
          const measured = results.get(contender.name) ?? [];
          const storeRun = Object.values(STORE_RUNS).find((run) => run.name === contender.name);
          if (storeRun !== undefined) {
            rows.push(...storeRows(concurrency, storeRun, measured, rows));
            continue;
          }
          const rate = row('a', `c=${concurrency} ${contender.name}`, 'deliveries/s', measured.map(perSecond), { baseline: baseRate });
          const cpu = row('a', `c=${concurrency} ${contender.name} CPU`, 'µs/delivery', measured.map(cpuPerItem), { baseline: baseCpu });
          const targets = concurrency === 16 ? TARGETS[contender.name] : undefined;
          if (targets !== undefined) {
            rows.push(withVerdicts(rate, [{ target: `≥ ${targets.rate}× undici`, pass: (rate.ratio ?? 0) >= targets.rate }]));
            rows.push(withVerdicts(cpu, [{ target: `≤ ${targets.cpu}× undici`, pass: (cpu.ratio ?? Infinity) <= targets.cpu }]));
          } else {
            rows.push(rate, cpu);
          }
        }
        if (results.has(AGENT_REQUEST) && results.has(LEAN)) {
          // Which transport the lean fetch keeps: the same requests, the same Agent options.
          const leanCpu = rows.find((r) => r.name === `c=${concurrency} ${LEAN} CPU`) as Row;
          const agentCpu = (results.get(AGENT_REQUEST) ?? []).map(cpuPerItem);
          const versus = row('a', `c=${concurrency} ${AGENT_REQUEST} CPU vs the lean fetch's dispatch handler`, 'µs/delivery', agentCpu, { baseline: leanCpu });
          rows.push({ ...versus, note: transportVerdict(versus.ratio ?? Number.NaN) });
        }
        if (create === undefined) {
          rows.push(missing('a', `c=${concurrency} createProvisioner`, 'deliveries/s', NOT_BUILT));
        }
      } finally {
        for (const contender of contenders) await contender.close();
      }
    }
    rows.push(...storesUnavailable.map(({ kind, why }) => missing('a', `c=16 ${STORE_RUNS[kind].name}`, 'deliveries/s', why)));
    // ky's share of the default effect, without I/O: what no transport under ky can spare.
    rows.push(...(await kyCallCost(quick, rows.find((r) => r.name === 'c=16 undici request CPU'), log)));
    return { rows, details };
  },
};

/**
 * Which transport the lean fetch keeps, given `Agent.request()`'s CPU over the dispatch
 * handler's: the cheaper one, and `Agent.request()` only within the issue's 10%.
 */
function transportVerdict(ratio: number): string {
  if (!Number.isFinite(ratio)) return 'not measured';
  const more = `${Math.round(Math.abs(ratio - 1) * 100)}%`;
  if (ratio <= 1) return `Agent.request() is cheaper (${more} less): the lean fetch should move to it`;
  if (ratio <= AGENT_REQUEST_MARGIN) return `keep the dispatch handler: Agent.request() is within the 10% the issue allows, but ${more} dearer`;
  return `keep the dispatch handler: Agent.request() costs ${more} more`;
}

/** A durable store's rows: deliveries/s and CPU against the memory store's rows of the same run. */
function storeRows(concurrency: number, run: { readonly name: string; readonly rate: number }, measured: readonly Round[], rows: readonly Row[]): Row[] {
  const memoryRate = rows.find((r) => r.name === `c=${concurrency} ${MEMORY}`);
  const memoryCpu = rows.find((r) => r.name === `c=${concurrency} ${MEMORY} CPU`);
  const rate = row('a', `c=${concurrency} ${run.name}`, 'deliveries/s', measured.map(perSecond), memoryRate === undefined ? {} : { baseline: memoryRate });
  const cpu = row('a', `c=${concurrency} ${run.name} CPU`, 'µs/delivery', measured.map(cpuPerItem), memoryCpu === undefined ? {} : { baseline: memoryCpu });
  return [withVerdicts(rate, [{ target: `≥ ${run.rate}× the memory store`, pass: (rate.ratio ?? 0) >= run.rate }]), cpu];
}

function withVerdicts(measured: Row, verdicts: readonly Verdict[]): Row {
  return { ...measured, verdicts };
}
