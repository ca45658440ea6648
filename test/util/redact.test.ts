import { format } from 'node:util';
import createDebug from 'debug';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logger } from '../../src/util/log.js';
import { REDACTED, redact, redactHeaders, redactText, redactUrl } from '../../src/util/redact.js';
import { isSecretName } from '../../src/util/secretNames.js';
import { createEventBus, createHooks, createUnitOfWork } from '../../src/index.js';
import { identity, rdmRecord } from '../helpers/factories.js';

const SECRETS = ['s3cret-token', 'Bearer abc.def.ghi', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'hunter2', 'k-123', 'sid=42'];

/** Everything the library's debug loggers print while `run` runs. */
function captureDebug(run: () => void): string {
  const lines: string[] = [];
  const previousLog = createDebug.log;
  const previousNamespaces = createDebug.disable();
  createDebug.enable('remote-api-provisioner:*');
  createDebug.log = (...args: unknown[]) => {
    lines.push(format(...args));
  };
  try {
    run();
  } finally {
    createDebug.log = previousLog;
    createDebug.disable();
    if (previousNamespaces !== '') createDebug.enable(previousNamespaces);
  }
  return lines.join('\n');
}

describe('logger', () => {
  it('logs under remote-api-provisioner:<area>', () => {
    expect(logger('delivery').namespace).toBe('remote-api-provisioner:delivery');
    const output = captureDebug(() => logger('hooks')('hello %s', 'world'));
    expect(output).toContain('remote-api-provisioner:hooks');
    expect(output).toContain('hello world');
  });
});

describe('redaction', () => {
  it('recognises secret-looking keys case-insensitively, and not authors', () => {
    for (const key of ['Authorization', 'proxy-authorization', 'auth_token', 'X-Auth-Token', 'access_token', 'TOKEN', 'secret',
      'signingSecret', 'password', 'passwd', 'api-key', 'X-API-KEY', 'apiKey', 'api_key', 'Cookie', 'set-cookie', 'webhook-signature',
      'Signature', 'credentials', 'session_id', 'X-Auth', 'X-Access-Key', 'X-Session', 'Private-Key']) {
      expect(isSecretName(key), key).toBe(true);
    }
    for (const key of ['author', 'authors', 'Authored', 'co-author', 'authorship', 'Content-Type', 'Idempotency-Key', 'webhook-id', 'webhook-timestamp', 'title', 'owner']) {
      expect(isSecretName(key), key).toBe(false);
    }
  });

  it('replaces secret header values and keeps the others', () => {
    expect(
      redactHeaders({
        Authorization: 'Bearer abc.def.ghi',
        'content-type': 'application/json',
        'X-Api-Key': 'k-123',
        cookie: 'sid=42',
        'webhook-signature': 'v1,abc',
        'webhook-id': 'evt-1',
      }),
    ).toEqual({
      Authorization: REDACTED,
      'content-type': 'application/json',
      'X-Api-Key': REDACTED,
      cookie: REDACTED,
      'webhook-signature': REDACTED,
      'webhook-id': 'evt-1',
    });
    expect(redactHeaders(undefined)).toEqual({});
  });

  it('redacts at any depth in configs, leaving the rest readable', () => {
    const payload = (): null => null;
    const config = {
      rdm_record: {
        'https://search.example.org/api/v1/documents?token=s3cret-token': {
          publish: { http_method: 'POST', auth_token: 's3cret-token', headers: { Authorization: 'Bearer abc.def.ghi', Accept: 'application/json' }, payload },
        },
      },
      signing: { secret: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] },
      db: { url: 'https://admin:hunter2@db.example.org/records', authors: ['Brown, Troy'] },
    };
    expect(redact(config)).toEqual({
      rdm_record: {
        'https://search.example.org/api/v1/documents?token=%5Bredacted%5D': {
          publish: { http_method: 'POST', auth_token: REDACTED, headers: { Authorization: REDACTED, Accept: 'application/json' }, payload: '[function payload]' },
        },
      },
      signing: { secret: REDACTED },
      db: { url: 'https://%5Bredacted%5D:%5Bredacted%5D@db.example.org/records', authors: ['Brown, Troy'] },
    });
  });

  it('redacts credentials and secret query parameters of URLs', () => {
    expect(redactUrl('https://search.example.org/api?page=2&access_token=s3cret-token')).toBe(
      'https://search.example.org/api?page=2&access_token=%5Bredacted%5D',
    );
    expect(redactUrl('https://search.example.org/api/v1/documents/q1k7x-8mz42')).toBe('https://search.example.org/api/v1/documents/q1k7x-8mz42');
    expect(redactUrl('not a url, token=1')).toBe('not a url, token=1');
    expect(redactText('POST https://x.org/a?api_key=k-123 answered 500; retrying https://x.org/b')).toBe(
      'POST https://x.org/a?api_key=%5Bredacted%5D answered 500; retrying https://x.org/b',
    );
  });

  it('survives cycles, throwing getters and errors', () => {
    const looped: Record<string, unknown> = { token: 's3cret-token', name: 'loop' };
    looped['self'] = looped;
    Object.defineProperty(looped, 'broken', { enumerable: true, get: () => { throw new Error('hunter2'); } });
    expect(redact(looped)).toEqual({ token: REDACTED, name: 'loop', self: '[circular]', broken: '[unreadable]' });
    expect(redact(new Error('failed at https://x.org/a?token=s3cret-token'))).toEqual({
      name: 'Error',
      message: 'failed at https://x.org/a?token=%5Bredacted%5D',
    });
  });

  it('prints no secret when redacted values are logged', () => {
    const output = captureDebug(() => {
      const log = logger('delivery');
      log('request headers %o', redactHeaders({ Authorization: 'Bearer abc.def.ghi', 'X-Api-Key': 'k-123', cookie: 'sid=42' }));
      log('config %O', redact({ auth_token: 's3cret-token', signing: { secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }, password: 'hunter2' }));
    });
    expect(output).toContain('[redacted]');
    for (const secret of SECRETS) expect(output).not.toContain(secret);
  });

  it('prints no argument values from hooks, the unit of work or the bus', () => {
    const output = captureDebug(() => {
      const bus = createEventBus();
      bus.events$.subscribe(() => undefined);
      let closed = false;
      const hooks = createHooks('rdm_record', bus.emit, { isClosed: () => closed });
      const data = { auth_token: 's3cret-token', headers: { Authorization: 'Bearer abc.def.ghi' }, password: 'hunter2' };
      const uow = createUnitOfWork();
      hooks.update_draft({ identity, record: { ...rdmRecord(), api_key: 'k-123' }, data, uow });
      hooks.publish({ identity, record: rdmRecord(), data } as never);
      uow.commit();
      closed = true;
      hooks.publish({ identity, record: rdmRecord() });
      bus.complete();
      bus.emit({ eventId: 'late', serviceType: 'rdm_record', method: 'search', args: { identity }, recordId: null, draftId: null, emittedAt: 0, causedBy: null });
    });
    expect(output).toContain('remote-api-provisioner:hooks');
    for (const secret of SECRETS) expect(output).not.toContain(secret);
  });
});
