/** The data the benchmark sends: a 2 KB record built from the shared fixture, a 1 KB payload. */
import { readFileSync } from 'node:fs';
import type { JsonObject } from 'remote-api-provisioner';

const FIXTURE = new URL('../test/fixtures/rdm-record.json', import.meta.url);

/** Size of the record, as JSON. */
export const RECORD_BYTES = 2048;
/** Size of the request body, as JSON. */
export const PAYLOAD_BYTES = 1024;

function padTo(base: JsonObject, field: string, bytes: number): JsonObject {
  const without = JSON.stringify({ ...base, [field]: '' }).length;
  if (without > bytes) throw new Error(`Expected the base object to be under ${bytes} bytes, got ${without}`);
  return { ...base, [field]: 'x'.repeat(bytes - without) };
}

/** The published record of `test/fixtures/rdm-record.json`, its description lengthened to 2 KB of JSON. */
export function bigRecord(): JsonObject {
  const record = JSON.parse(readFileSync(FIXTURE, 'utf8')) as JsonObject & { metadata: JsonObject };
  const metadata = record.metadata;
  const description = String(metadata['description'] ?? '');
  const without = JSON.stringify({ ...record, metadata: { ...metadata, description: '' } }).length;
  const padding = RECORD_BYTES - without - description.length;
  if (padding < 0) throw new Error(`Expected the fixture record under ${RECORD_BYTES} bytes, got ${without}`);
  const result = { ...record, metadata: { ...metadata, description: description + ' '.repeat(padding) } };
  const size = JSON.stringify(result).length;
  if (size !== RECORD_BYTES) throw new Error(`Expected a ${RECORD_BYTES}-byte record, got ${size}`);
  return result;
}

/** A record with the given id, sharing everything else with `base` (no copy of the nested data). */
export function recordWithId(base: JsonObject, id: string): JsonObject {
  return { ...base, id };
}

/** Record ids of one length (`r0000000042`), so that every document has the same size. */
export function recordId(n: number): string {
  return `r${String(n).padStart(10, '0')}`;
}

/** A search document of exactly 1 KB of JSON for a record id of `recordId`'s length. */
export function searchDocument(id: string = recordId(0)): JsonObject {
  const base: JsonObject = {
    id,
    title: 'A Romans Story',
    publication_date: '2026-03-02',
    publisher: 'Acme Inc',
    resource_type: 'image-photograph',
    creators: ['Brown, Troy', 'Troy Inc.'],
    owner: { id: '1', username: 'troy' },
  };
  return padTo(base, 'abstract', PAYLOAD_BYTES);
}
