/*
 * Type-level tests of defineConfig: this file is checked by `npm run typecheck` (tsc), and
 * each `@ts-expect-error` fails the type check if the line below it stops being an error.
 * The runtime test only shows that defineConfig hands back what it was given.
 */
import { describe, expect, it } from 'vitest';
import { defineConfig, parseConfig, type Owner, type ProvisionerConfig } from '../../src/index.js';

type MyRecord = {
  readonly id: string;
  readonly metadata: { readonly title: string };
  readonly access: { readonly record: 'public' | 'restricted' };
};

const DOCS = 'https://search.example.org/api/v1/documents';

const events = defineConfig<MyRecord>({
  rdm_record: {
    [DOCS]: {
      publish: {
        http_method: 'POST',
        with_record_owner: true,
        // The payload's arguments are publish's: identity, record, draft, plus owner.
        payload: ({ identity, record, draft, owner }) => {
          const title: string | undefined = record?.metadata.title;
          const ownerName: string | undefined = owner?.username;
          return { id: record?.id ?? null, title: title ?? null, owner: ownerName ?? null, by: String(identity.id), draft: draft?.id ?? null };
        },
        callback: (response, meta) => {
          const status: number = response.status;
          const record: MyRecord | null = meta.record;
          return { status, id: record?.id };
        },
      },
      delete_record: {
        http_method: 'DELETE',
        payload: null,
        url_factory: (record, { data }) => `${DOCS}/${record?.id ?? ''}?reason=${String(data?.['reason'] ?? '')}`,
      },
      update_draft: {
        http_method: ({ errors }) => ((errors?.length ?? 0) > 0 ? 'PATCH' : 'PUT'),
        payload: async ({ record }) => ({ id: record?.id ?? null }),
      },
    },
  },
  community: {
    'https://search.example.org/api/v1/communities': {
      rename: { http_method: 'PATCH', payload: ({ slug, old_slug }) => ({ slug: slug ?? null, old_slug: old_slug ?? null }) },
    },
  },
});

const typed: ProvisionerConfig<MyRecord> = events;
const someOwner: Owner = { id: 1, email: 'a@example.org', username: 'a' };

defineConfig<MyRecord>({
  rdm_record: {
    [DOCS]: {
      // @ts-expect-error: a misspelt method is not a method of rdm_record
      publsh: { http_method: 'POST', payload: null },
    },
  },
});

defineConfig<MyRecord>({
  community: {
    [DOCS]: {
      // @ts-expect-error: delete_record is an rdm_record method; communities have delete_community
      delete_record: { http_method: 'DELETE', payload: null },
    },
  },
});

defineConfig<MyRecord>({
  rdm_record: {
    [DOCS]: {
      // @ts-expect-error: HTTP methods are upper case, and PUTT is none
      publish: { http_method: 'PUTT', payload: null },
    },
  },
});

defineConfig<MyRecord>({
  community: {
    [DOCS]: {
      rename: {
        http_method: 'PATCH',
        // @ts-expect-error: rename has no draft argument
        payload: ({ draft }) => ({ id: draft?.id ?? null }),
      },
    },
  },
});

defineConfig<MyRecord>({
  rdm_record: {
    [DOCS]: {
      publish: {
        http_method: 'POST',
        // @ts-expect-error: the record type is the app's own: MyRecord has no `titel`
        payload: ({ record }) => ({ title: record?.metadata.titel ?? null }),
      },
    },
  },
});

defineConfig<MyRecord>({
  rdm_record: {
    [DOCS]: {
      // @ts-expect-error: payload is required
      publish: { http_method: 'POST' },
    },
  },
});

describe('defineConfig', () => {
  it('returns its argument, which parseConfig accepts as it is', () => {
    expect(defineConfig(typed)).toBe(events);
    expect(parseConfig<MyRecord>(events)).toBe(events);
    expect(someOwner.username).toBe('a');
  });
});
