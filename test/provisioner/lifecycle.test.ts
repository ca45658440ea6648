import { NEVER, Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ClosedError,
  ConfigError,
  createMemoryStore,
  createProvisioner,
  createUnitOfWork,
  defineConfig,
  type AppRecord,
  type HttpEffect,
  type ProvisionerResponse,
} from '../../src/index.js';
import { rdmRecord } from '../helpers/factories.js';
import { collect, kindOf } from '../helpers/outcomes.js';
import { answerJson, type Receiver, startReceiver } from '../helpers/receiver.js';

const identity = { id: 7 };
const ENDPOINT = 'https://search.example.org/api/v1/documents';
const payload = ({ record }: { readonly record?: AppRecord | null | undefined }) => ({ id: String(record?.id) });
const events = defineConfig({ rdm_record: { [ENDPOINT]: { publish: { http_method: 'POST', payload } } } });

/** An effect answering 201 after `delayMs` (real time), or never when `delayMs` is null. */
const effectAfter =
  (delayMs: number | null, seen: string[] = []): HttpEffect =>
  (request) =>
    new Observable<ProvisionerResponse>((subscriber) => {
      seen.push(request.deliveryId);
      if (delayMs === null) return undefined;
      const timer = setTimeout(() => {
        subscriber.next({ status: 201, headers: {}, body: { _id: 'remote' }, url: request.url });
        subscriber.complete();
      }, delayMs);
      return () => clearTimeout(timer);
    });

const servers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('createProvisioner options', () => {
  it('throws the ConfigError of an invalid config', () => {
    expect(() => createProvisioner({ events: { rdm_record: { [ENDPOINT]: { publsh: { http_method: 'POST', payload: null } } } } as never })).toThrow(ConfigError);
  });

  it('rejects a config asking for owners without resolveOwner, naming where it asks', () => {
    const owned = defineConfig({ rdm_record: { [ENDPOINT]: { publish: { http_method: 'POST', payload, with_record_owner: true } } } });
    let thrown: unknown;
    try {
      createProvisioner({ events: owned });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).issues).toEqual([
      `resolveOwner: expected a function, because rdm_record["${ENDPOINT}"].publish sets with_record_owner, got none`,
    ]);
  });

  it('rejects out-of-range numbers in the options, every one at once', () => {
    let thrown: unknown;
    try {
      createProvisioner({
        events,
        http: { concurrency: 0, maxQueue: 1.5, timeoutMs: -1, retry: { limit: 1.5, baseDelayMs: -1, tries: 3, maxDelay: 10 } as never },
        callbackTimeoutMs: Number.NaN,
      });
    } catch (error) {
      thrown = error;
    }
    expect((thrown as ConfigError).issues).toEqual([
      'http.timeoutMs: expected a positive number, got -1',
      'http.concurrency: expected a positive integer, got 0',
      'http.maxQueue: expected a positive integer, got 1.5',
      'callbackTimeoutMs: expected a positive number, got NaN',
      'http.retry.limit: expected an integer >= 0, got 1.5',
      'http.retry.baseDelayMs: expected a number >= 0, got -1',
      'http.retry.tries: expected one of limit, baseDelayMs, maxDelayMs, maxRetryAfterMs, got an unknown key',
      'http.retry.maxDelay: expected one of limit, baseDelayMs, maxDelayMs, maxRetryAfterMs, got an unknown key (did you mean "maxDelayMs"?)',
    ]);
  });

  it('rejects unknown option keys, at the top and under http, with "did you mean"', () => {
    let thrown: unknown;
    try {
      createProvisioner({ events, http: { maxQeue: 10, timeout: 5 }, callbakTimeoutMs: 1, stores: null } as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const top = 'events, resolveOwner, isPublic, signing, http, ownerTimeoutMs, payloadTimeoutMs, callbackTimeoutMs, store, scheduler';
    const http = 'timeoutMs, retry, concurrency, maxQueue, maxResponseBytes, effect, ky, endpoints, circuitBreaker, maxDeliveryAgeMs';
    expect((thrown as ConfigError).issues).toEqual([
      `callbakTimeoutMs: expected one of ${top}, got an unknown key (did you mean "callbackTimeoutMs"?)`,
      `stores: expected one of ${top}, got an unknown key (did you mean "store"?)`,
      `http.maxQeue: expected one of ${http}, got an unknown key (did you mean "maxQueue"?)`,
      `http.timeout: expected one of ${http}, got an unknown key (did you mean "timeoutMs"?)`,
    ]);
  });

  it('lists the config\'s issues and the options\' in one ConfigError, and says what the options must be', () => {
    const issuesOf = (create: () => unknown): readonly string[] => {
      try {
        create();
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).issues;
      }
      throw new Error('Expected createProvisioner to throw a ConfigError, it returned');
    };
    expect(issuesOf(() => createProvisioner(undefined as never))).toEqual(['options: expected an object { events, ...options }, got undefined']);
    const misspelt = issuesOf(() => createProvisioner({ evnts: events, http: { concurrency: 0 } } as never));
    expect(misspelt[0]).toMatch(/^\(root\): expected an object with rdm_record and\/or community, got undefined/);
    expect(misspelt.slice(1)).toEqual([
      'evnts: expected one of events, resolveOwner, isPublic, signing, http, ownerTimeoutMs, payloadTimeoutMs, callbackTimeoutMs, store, scheduler, got an unknown key (did you mean "events"?)',
      'http.concurrency: expected a positive integer, got 0',
    ]);
    expect(issuesOf(() => createProvisioner({ events, http: null as never }))).toEqual(['http: expected an object, got null']);
    expect(issuesOf(() => createProvisioner({ events, http: { retry: 3 as never } }))).toEqual(['http.retry: expected an object { limit?, baseDelayMs?, maxDelayMs?, maxRetryAfterMs? }, got 3']);
    expect(issuesOf(() => createProvisioner({ events, http: { retry: 'abc' as never } }))).toEqual(['http.retry: expected an object { limit?, baseDelayMs?, maxDelayMs?, maxRetryAfterMs? }, got "abc"']);
    expect(issuesOf(() => createProvisioner({ events, resolveOwner: 'x' as never }))).toEqual(['resolveOwner: expected a function ({ record, identity }) => owner, got a string']);
    expect(issuesOf(() => createProvisioner({ events, signing: 'whsec_c2VjcmV0' as never }))).toEqual(['signing: expected an object { secret }, got a string']);
    expect(issuesOf(() => createProvisioner({ events, signing: null as never }))).toEqual(['signing: expected an object { secret }, got null']);
    const secrets = issuesOf(() => createProvisioner({ events, signing: { secrets: 'whsec_c2VjcmV0' } as never }));
    expect(secrets).toEqual(['signing.secrets: expected one of secret, got an unknown key (did you mean "secret"?)', 'signing.secret: expected a whsec_… secret or a non-empty list of them, got undefined']);
    expect(secrets.join(' ')).not.toContain('c2VjcmV0');
  });

  it('rejects a scheduler that is not one, and store options out of range, as ConfigErrors', () => {
    expect(() => createProvisioner({ events, scheduler: {} as never })).toThrow(ConfigError);
    expect(() => createMemoryStore({ maxQueue: 0 })).toThrow(ConfigError);
    expect(() => createMemoryStore({ maxQueue: 0 })).toThrow('maxQueue: expected an integer >= 1, got 0');
  });

  it('hands out the same hooks object for a service every time', async () => {
    const provisioner = createProvisioner({ events, http: { effect: effectAfter(0) } });
    expect(provisioner.hooks('rdm_record')).toBe(provisioner.hooks('rdm_record'));
    expect(provisioner.hooks('community')).not.toBe(provisioner.hooks('rdm_record'));
    await provisioner.close();
  });
});

describe('drain()', () => {
  it('resolves at once when nothing is pending, and an event without a matching endpoint is not pending', async () => {
    const provisioner = createProvisioner({ events, http: { effect: effectAfter(null) } });
    provisioner.hooks('rdm_record').delete_record({ identity, record: rdmRecord() });
    await provisioner.drain();
    await provisioner.close({ timeoutMs: 10 });
  });

  it('waits for deliveries and for the callbacks of delivered outcomes', async () => {
    let stored = 0;
    const provisioner = createProvisioner({
      events: defineConfig({
        rdm_record: {
          [ENDPOINT]: {
            publish: {
              http_method: 'POST',
              payload,
              callback: async () => {
                await new Promise((resolve) => setTimeout(resolve, 30));
                stored += 1;
              },
            },
          },
        },
      }),
      http: { effect: effectAfter(20) },
    });
    const { outcomes, callbacks } = collect(provisioner);
    const hooks = provisioner.hooks('rdm_record');
    hooks.publish({ identity, record: rdmRecord({ id: 'a' }) });
    hooks.publish({ identity, record: rdmRecord({ id: 'b' }) });
    await provisioner.drain();
    expect({ outcomes: outcomes.length, callbacks: callbacks.map((c) => c.kind), stored }).toEqual({ outcomes: 2, callbacks: ['ok', 'ok'], stored: 2 });
    await provisioner.close();
  });
});

describe('units of work', () => {
  it('sends an event when its unit of work commits and never when it rolls back', async () => {
    const seen: string[] = [];
    const provisioner = createProvisioner({ events, http: { effect: effectAfter(0, seen) } });
    const { outcomes } = collect(provisioner);
    const hooks = provisioner.hooks('rdm_record');

    const committed = createUnitOfWork();
    const rolledBack = createUnitOfWork();
    hooks.publish({ identity, record: rdmRecord({ id: 'kept' }), uow: committed });
    hooks.publish({ identity, record: rdmRecord({ id: 'dropped' }), uow: rolledBack });
    await provisioner.drain(); // nothing accepted yet
    expect(outcomes).toEqual([]);

    rolledBack.rollback();
    committed.commit();
    await provisioner.drain();
    expect(outcomes.map((outcome) => `${kindOf(outcome)} ${String(outcome.event.recordId)}`)).toEqual(['delivered kept']);
    expect(seen).toHaveLength(1);
    await provisioner.close();
  });

  it('fails the deliveries of an event whose unit of work commits after close()', async () => {
    const provisioner = createProvisioner({ events, http: { effect: effectAfter(0) } });
    const { outcomes } = collect(provisioner);
    const uow = createUnitOfWork();
    provisioner.hooks('rdm_record').publish({ identity, record: rdmRecord(), uow });
    const closing = provisioner.close({ timeoutMs: 1_000 });
    uow.commit();
    await closing;
    expect(outcomes.map(kindOf)).toEqual(['failed closed']);
  });

  it('warns once, through a process warning, of hook calls after close() resolved, when outcomes$ has completed', async () => {
    const provisioner = createProvisioner({ events, http: { effect: effectAfter(0) } });
    await provisioner.close();
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      expect(() => provisioner.hooks('rdm_record').publish({ identity, record: rdmRecord() })).not.toThrow();
      provisioner.hooks('rdm_record').publish({ identity, record: rdmRecord() });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((warning) => [(warning as Error & { code?: string }).code, warning.message])).toEqual([
      ['RAP_HOOK_AFTER_CLOSE', 'remote-api-provisioner: rdm_record.publish was called after provisioner.close() resolved; its event (and any later one) is dropped, as outcomes$ has completed'],
    ]);
  });
});

describe('close()', () => {
  it('lets accepted work finish within the deadline, then completes every stream', async () => {
    const provisioner = createProvisioner({ events, http: { effect: effectAfter(30) } });
    const collected = collect(provisioner);
    let eventsCompleted = false;
    provisioner.events$.subscribe({ complete: () => (eventsCompleted = true) });
    provisioner.hooks('rdm_record').publish({ identity, record: rdmRecord() });
    await provisioner.close({ timeoutMs: 5_000 });
    expect(collected.outcomes.map(kindOf)).toEqual(['delivered']);
    expect({ ...collected.completed, events: eventsCompleted, closed: provisioner.closed }).toEqual({ outcomes: true, callbacks: true, events: true, closed: true });
  });

  it('fails what is left at the deadline with reason closed, aborting the request, and fails a running callback', async () => {
    let aborted = 0;
    const hanging: HttpEffect = () => new Observable<ProvisionerResponse>(() => () => (aborted += 1));
    const provisioner = createProvisioner({
      events: defineConfig({
        rdm_record: {
          [ENDPOINT]: { publish: { http_method: 'POST', payload, callback: () => NEVER } },
          'https://audit.example.org/hooks': { publish: { http_method: 'POST', payload } },
        },
      }),
      http: {
        effect: (request) => (request.endpoint === ENDPOINT ? effectAfter(0)(request) : hanging(request)),
      },
    });
    const { outcomes, callbacks, completed } = collect(provisioner);
    provisioner.hooks('rdm_record').publish({ identity, record: rdmRecord() });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await provisioner.close({ timeoutMs: 50 });

    expect(outcomes.map(kindOf)).toEqual(['delivered', 'failed closed']);
    const failed = outcomes[1];
    expect(failed?.kind === 'failed' && failed.error).toBeInstanceOf(ClosedError);
    expect(failed?.kind === 'failed' && failed.request?.endpoint).toBe('https://audit.example.org/hooks');
    expect(aborted).toBe(1);
    expect(callbacks.map((outcome) => (outcome.kind === 'error' ? outcome.error.name : outcome.kind))).toEqual(['ClosedError']);
    expect(completed).toEqual({ outcomes: true, callbacks: true });
  });

  it('never throws into the app for hooks called after it, and a second close() or drain() resolves', async () => {
    const seen: string[] = [];
    const provisioner = createProvisioner({ events, http: { effect: effectAfter(0, seen) } });
    const first = provisioner.close();
    expect(provisioner.close()).toBe(first);
    await first;
    expect(() => provisioner.hooks('rdm_record').publish({ identity, record: rdmRecord() })).not.toThrow();
    expect(() => provisioner.emitter.emit('event', {} as never)).not.toThrow();
    await provisioner.drain();
    await provisioner.close();
    expect(seen).toEqual([]);
  });

  it('closes the connections of its default effect so the process can exit', async () => {
    const remote = await startReceiver((_request, response) => answerJson(response, 201, {}));
    servers.push(remote);
    const provisioner = createProvisioner({ events: defineConfig({ rdm_record: { [remote.url('/documents')]: { publish: { http_method: 'POST', payload } } } }) });
    const { outcomes } = collect(provisioner);
    provisioner.hooks('rdm_record').publish({ identity, record: rdmRecord() });
    await provisioner.close();
    expect(outcomes.map(kindOf)).toEqual(['delivered']);
  });
});
