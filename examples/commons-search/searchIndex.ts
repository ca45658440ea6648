import { randomBytes } from 'node:crypto';
import { count, create, getByID, insert, remove, search, update } from '@orama/orama';

/** A document as the search service stores and returns it: the posted JSON plus its `_id`. */
export type SearchDocument = { readonly _id: string; readonly [field: string]: unknown };

/** One search hit. */
export type SearchHit = { readonly _id: string; readonly score: number; readonly document: SearchDocument };

/** What `GET /api/v1/search` answers. */
export type SearchResult = { readonly total: number; readonly hits: readonly SearchHit[] };

/** The fields every posted document must have, and the ones full-text search looks at. */
const REQUIRED_FIELDS = ['_internal_id', 'content_type', 'title'] as const;
const SEARCHED_FIELDS = ['title', 'description', 'owner_username', 'contributor_names'] as const;

const schema = {
  internal_id: 'string',
  content_type: 'string',
  title: 'string',
  description: 'string',
  owner_username: 'string',
  contributor_names: 'string',
} as const;

/**
 * The search engine of the example service: an in-process Orama index. Each stored entry
 * keeps the posted JSON as it came (`source`) next to the flattened fields Orama indexes.
 */
export type SearchIndex = {
  /** Why `body` cannot be stored, or `null` when it can. */
  invalid(body: unknown): string | null;
  add(body: Record<string, unknown>): Promise<SearchDocument>;
  /** Replaces a document; `null` when there is none with this id. */
  replace(id: string, body: Record<string, unknown>): Promise<SearchDocument | null>;
  /** Removes a document; `false` when there is none with this id. */
  remove(id: string): Promise<boolean>;
  search(query: string): Promise<SearchResult>;
  all(): Promise<readonly SearchDocument[]>;
};

/** Creates an empty {@link SearchIndex}. */
export function createSearchIndex(): SearchIndex {
  const db = create({ schema });

  const toEntry = (id: string, body: Record<string, unknown>) => {
    const text = (value: unknown): string => (typeof value === 'string' ? value : '');
    const owner = body['owner'];
    const contributors = body['contributors'];
    return {
      id,
      internal_id: text(body['_internal_id']),
      content_type: text(body['content_type']),
      title: text(body['title']),
      description: text(body['description']),
      owner_username: isObject(owner) ? text(owner['username']) : '',
      contributor_names: Array.isArray(contributors)
        ? contributors.map((c: unknown) => (isObject(c) ? text(c['name']) : '')).join(' ')
        : '',
      source: { ...body, _id: id },
    };
  };
  const toDocument = (entry: unknown): SearchDocument => (entry as { source: SearchDocument }).source;

  return {
    invalid(body) {
      if (!isObject(body)) return `expected a JSON object, got ${body === null ? 'null' : typeof body}`;
      const missing = REQUIRED_FIELDS.filter((field) => typeof body[field] !== 'string' || body[field] === '');
      return missing.length === 0 ? null : `expected string fields ${missing.join(', ')}, got ${missing.map((f) => JSON.stringify(body[f]) ?? 'nothing').join(', ')}`;
    },
    async add(body) {
      // Ids in the style of the Knowledge Commons search service (20 url-safe characters).
      const id = randomBytes(15).toString('base64url');
      await insert(db, toEntry(id, body));
      return toDocument(getByID(db, id));
    },
    async replace(id, body) {
      if (getByID(db, id) === undefined) return null;
      await update(db, id, toEntry(id, body));
      return toDocument(getByID(db, id));
    },
    async remove(id) {
      return remove(db, id);
    },
    async search(query) {
      const result = await search(db, {
        term: query,
        properties: [...SEARCHED_FIELDS],
        limit: Math.max(1, count(db)),
      });
      return {
        total: result.count,
        hits: result.hits.map((hit) => ({ _id: hit.id, score: hit.score, document: toDocument(hit.document) })),
      };
    },
    async all() {
      const result = await search(db, { term: '', limit: Math.max(1, count(db)) });
      return result.hits
        .map((hit) => toDocument(hit.document))
        .sort((a, b) => String(a['_internal_id']).localeCompare(String(b['_internal_id'])));
    },
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
