/*
 * Type-level tests of the hook arguments: this file is checked by `npm run typecheck` (tsc),
 * and each `@ts-expect-error` fails the type check if the line below it stops being an error.
 * The runtime test only shows the calls that do compile reach the events.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createHooks, requiredArgumentsOf, type MethodArgs, type RequiredArgumentOf, type ServiceEvent } from '../../src/index.js';
import { community, identity, rdmRecord } from '../helpers/factories.js';

describe('hook argument types', () => {
  it('require what each method acts on, as the method tables say', () => {
    const events: ServiceEvent[] = [];
    const records = createHooks('rdm_record', (event) => events.push(event));
    const communities = createHooks('community', (event) => events.push(event));
    const typed = (): void => {
      // @ts-expect-error delete_record acts on a record: `record` is required.
      records.delete_record({ identity });
      // @ts-expect-error publish acts on a record too.
      records.publish({ identity, draft: rdmRecord() });
      // @ts-expect-error a null record is as missing as an absent one.
      records.publish({ identity, record: null });
      // @ts-expect-error read_draft acts on a draft.
      records.read_draft({ identity, record: rdmRecord() });
      // @ts-expect-error rename needs both slugs.
      communities.rename({ identity, record: community(), slug: 'roman-history' });
      // @ts-expect-error every hook needs the identity.
      records.search({});
    };
    expect(typed).toBeTypeOf('function');

    records.delete_record({ identity, record: rdmRecord() });
    records.publish({ identity, record: rdmRecord(), draft: null });
    records.delete_draft({ identity, draft: rdmRecord() });
    records.search({ identity });
    communities.rename({ identity, record: community(), old_slug: 'romans', slug: 'roman-history' });
    expect(events.map((event) => event.method)).toEqual(['delete_record', 'publish', 'delete_draft', 'search', 'rename']);
  });

  it('type the required arguments as present, the others as optional', () => {
    expectTypeOf<RequiredArgumentOf<'rdm_record', 'delete_record'>>().toEqualTypeOf<'identity' | 'record'>();
    expectTypeOf<RequiredArgumentOf<'rdm_record', 'delete_draft'>>().toEqualTypeOf<'identity' | 'draft'>();
    expectTypeOf<RequiredArgumentOf<'community', 'rename'>>().toEqualTypeOf<'identity' | 'record' | 'old_slug' | 'slug'>();
    expectTypeOf<MethodArgs<'rdm_record', 'publish', { id: string }>['record']>().toEqualTypeOf<{ id: string }>();
    expectTypeOf<MethodArgs<'rdm_record', 'publish', { id: string }>['draft']>().toEqualTypeOf<{ id: string } | null | undefined>();
    expect(requiredArgumentsOf('rdm_record', 'delete_record')).toEqual(['identity', 'record']);
  });
});
