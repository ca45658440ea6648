// How stores write a request and read it back: without its secret headers, and without a body
// that is only the payload's JSON (made again when the request is read), so a stored request
// does not hold its payload twice.
import { describe, expect, it } from 'vitest';
import { decodeRequest, encodeRequest } from '../../src/store/codec.js';
import { publishEvent } from '../helpers/factories.js';
import { plannedRequest } from './helpers/handlers.js';

const request = plannedRequest(publishEvent('rec-stored', 3), 'https://index.example.org/api/records');

describe('a stored request', () => {
  it('leaves out a body that is the payload\'s JSON, and reads back the same request, secrets aside', () => {
    const stored = encodeRequest(request);
    expect(JSON.parse(stored.json)).not.toHaveProperty('body');
    expect(stored.stripped).toEqual(['Authorization']);
    const { Authorization: _secret, ...headers } = request.headers;
    expect(decodeRequest(stored.json)).toEqual({ ...request, headers });
    expect(decodeRequest(stored.json).body).toBe(request.body);
  });

  it('keeps a body that is not the payload\'s JSON (other spacing or key order, or none), byte for byte', () => {
    for (const body of [JSON.stringify(request.payload, null, 2), '{"revision_id":3,"id":"rec-stored"}', null]) {
      const stored = encodeRequest({ ...request, body });
      expect(JSON.parse(stored.json)).toHaveProperty('body', body);
      expect(decodeRequest(stored.json).body).toBe(body);
    }
  });

  it('reads a request stored with its body, as earlier versions wrote it', () => {
    const { Authorization: _secret, ...headers } = request.headers;
    expect(decodeRequest(JSON.stringify({ ...request, headers }))).toEqual({ ...request, headers });
  });
});
