import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCommonsSearch, type CommonsSearch } from '../../examples/commons-search/server.js';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
const signer = new Webhook(secret);

let service: CommonsSearch;
beforeEach(async () => {
  service = await startCommonsSearch({ secret, port: 0 });
});
afterEach(async () => {
  await service.close();
});

const work = (title: string) => ({ _internal_id: 'q1k7x-8mz42', content_type: 'work', title, description: 'Domestic life' });

/** Sends a request signed as the provisioner signs it (the body string is what is signed). */
async function signed(method: string, path: string, body: object | null, deliveryId = `msg_${randomBytes(8).toString('hex')}`) {
  const text = body === null ? '' : JSON.stringify(body);
  const timestamp = new Date();
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      'webhook-id': deliveryId,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signer.sign(deliveryId, timestamp, text),
    },
    ...(body === null ? {} : { body: text }),
  });
  return { status: response.status, body: response.status === 204 ? null : ((await response.json()) as Record<string, unknown>), headers: response.headers };
}

describe('commons-search example service', () => {
  it('stores a signed document, updates it, finds it and deletes it', async () => {
    const created = await signed('POST', '/api/v1/documents', work('A Romans Story'));
    expect(created.status).toBe(201);
    const id = created.body?.['_id'];
    expect(id).toMatch(/^[\w-]{20}$/);

    const updated = await signed('PUT', `/api/v1/documents/${String(id)}`, work('A Romans Story, second edition'));
    expect(updated).toMatchObject({ status: 200, body: { _id: id } });
    expect(await service.documents()).toEqual([{ ...work('A Romans Story, second edition'), _id: id }]);

    const found = (await (await fetch(`${service.url}/api/v1/search?q=edition`)).json()) as { total: number; hits: { _id: string }[] };
    expect(found.total).toBe(1);
    expect(found.hits.map((hit) => hit._id)).toEqual([id]);

    expect((await signed('DELETE', `/api/v1/documents/${String(id)}`, null)).status).toBe(204);
    expect(await service.documents()).toEqual([]);
    expect((await signed('DELETE', `/api/v1/documents/${String(id)}`, null)).status).toBe(404);
  });

  it('rejects unsigned and tampered writes with 401 and stores nothing', async () => {
    const unsigned = await fetch(`${service.url}/api/v1/documents`, { method: 'POST', body: JSON.stringify(work('Unsigned')) });
    expect(unsigned.status).toBe(401);

    const deliveryId = 'msg_tampered';
    const timestamp = new Date();
    const tampered = await fetch(`${service.url}/api/v1/documents`, {
      method: 'POST',
      headers: {
        'webhook-id': deliveryId,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': signer.sign(deliveryId, timestamp, JSON.stringify(work('Signed title'))),
      },
      body: JSON.stringify(work('Tampered title')),
    });
    expect(tampered.status).toBe(401);

    const otherSecret = new Webhook(`whsec_${randomBytes(24).toString('base64')}`);
    const wrongKey = await fetch(`${service.url}/api/v1/documents`, {
      method: 'POST',
      headers: {
        'webhook-id': deliveryId,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': otherSecret.sign(deliveryId, timestamp, JSON.stringify(work('Signed title'))),
      },
      body: JSON.stringify(work('Signed title')),
    });
    expect(wrongKey.status).toBe(401);
    expect(await service.documents()).toEqual([]);
  });

  it('answers a repeated delivery id with the first answer and stores one document', async () => {
    const first = await signed('POST', '/api/v1/documents', work('Once'), 'msg_repeat');
    const again = await signed('POST', '/api/v1/documents', work('Once'), 'msg_repeat');
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await service.documents()).toHaveLength(1);

    const reused = await signed('POST', '/api/v1/documents', work('Something else'), 'msg_repeat');
    expect(reused.status).toBe(422);
  });

  it('answers injected faults without remembering them, so the retry of the same delivery succeeds', async () => {
    service.failNext(1);
    expect((await signed('POST', '/api/v1/documents', work('Retried'), 'msg_retry')).status).toBe(503);
    expect(await service.documents()).toEqual([]);
    expect((await signed('POST', '/api/v1/documents', work('Retried'), 'msg_retry')).status).toBe(201);
    expect(await service.documents()).toHaveLength(1);
  });

  it('rejects documents without the required fields and unknown ids', async () => {
    const invalid = await signed('POST', '/api/v1/documents', { title: 'No type' });
    expect(invalid.status).toBe(422);
    expect(String(invalid.body?.['error'])).toContain('_internal_id, content_type');
    expect((await signed('PUT', '/api/v1/documents/nope', work('Nope'))).status).toBe(404);
  });
});
