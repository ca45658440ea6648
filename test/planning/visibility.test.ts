// The visibility rule of planning: only positively public records are sent (fail closed),
// the app's isPublic replaces the rule, include_restricted sends regardless.
import { lastValueFrom, from, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { toRequests } from '../../src/operators/toRequests.js';
import type { AppRecord, IsPublic, ProvisionerConfig, RequestPlan, ServiceEvent, ToRequestsOptions } from '../../src/index.js';
import { community, rdmRecord, serviceEvent } from '../helpers/factories.js';

const DOCUMENTS = 'https://search.example.org/api/v1/documents';
const GROUPS = 'https://search.example.org/api/v1/groups';

const config = {
  rdm_record: {
    [DOCUMENTS]: {
      publish: { http_method: 'POST', payload: { kind: 'work' } },
      search: { http_method: 'POST', payload: ({ params }) => ({ q: String(params?.['q']) }) },
    },
  },
  community: { [GROUPS]: { update: { http_method: 'PUT', payload: { kind: 'group' } } } },
} satisfies ProvisionerConfig;

async function planOf(event: ServiceEvent, options: ToRequestsOptions = {}, planConfig: ProvisionerConfig = config): Promise<RequestPlan> {
  const plans = await lastValueFrom(from([event]).pipe(toRequests(planConfig, options), toArray()));
  expect(plans).toHaveLength(1);
  return plans[0]!;
}

/** A record of the fixture without its `access` field. */
function withoutAccess(record: AppRecord): AppRecord {
  const { access: _access, ...rest } = record;
  return rest;
}

describe('visibility (fail closed)', () => {
  it('skips a record without access as restricted, saying which field is missing and how to configure visibility', async () => {
    const plan = await planOf(serviceEvent({ method: 'publish', record: withoutAccess(rdmRecord({ id: 'no-access' })) }));
    expect(plan).toMatchObject({ kind: 'skipped', reason: 'restricted', endpoint: DOCUMENTS });
    const detail = plan.kind === 'skipped' ? plan.detail : undefined;
    expect(detail).toContain('record no-access is not public');
    expect(detail).toContain('record has no access field');
    expect(detail).toContain('expected access.record to be "public"');
    expect(detail).toContain('include_restricted: true');
    expect(detail).toContain('isPublic');
  });

  it('skips a record whose access has no record field, naming access.record', async () => {
    const plan = await planOf(serviceEvent({ method: 'publish', record: rdmRecord({ access: { files: 'public' } }) }));
    expect(plan).toMatchObject({ kind: 'skipped', reason: 'restricted' });
    expect(plan.kind === 'skipped' ? plan.detail : '').toContain('record has no access.record field');
  });

  it('skips a restricted record, saying what its access.record is', async () => {
    const plan = await planOf(serviceEvent({ method: 'publish', record: rdmRecord({ access: { record: 'restricted' } }) }));
    expect(plan).toMatchObject({ kind: 'skipped', reason: 'restricted' });
    expect(plan.kind === 'skipped' ? plan.detail : '').toContain('record.access.record is "restricted", not "public"');
  });

  it('sends a public record', async () => {
    expect(await planOf(serviceEvent({ method: 'publish', record: rdmRecord({ access: { record: 'public' } }) }))).toMatchObject({ kind: 'request' });
  });

  it('sends a record whose draft is public although the record is restricted, as the original', async () => {
    const plan = await planOf(
      serviceEvent({ method: 'publish', record: rdmRecord({ access: { record: 'restricted' } }), draft: rdmRecord({ id: 'draft-1', access: { record: 'public' } }) }),
    );
    expect(plan).toMatchObject({ kind: 'request' });
  });

  it('skips a record whose record and draft are both restricted', async () => {
    const plan = await planOf(
      serviceEvent({ method: 'publish', record: rdmRecord({ access: { record: 'restricted' } }), draft: rdmRecord({ id: 'draft-1', access: { record: 'restricted' } }) }),
    );
    expect(plan).toMatchObject({ kind: 'skipped', reason: 'restricted' });
    expect(plan.kind === 'skipped' ? plan.detail : '').toContain('draft.access.record is "restricted"');
  });

  it('reads access.visibility for communities: public is sent, restricted or missing is not', async () => {
    const publicCommunity = await planOf(serviceEvent({ serviceType: 'community', method: 'update', record: community({ access: { visibility: 'public' } }) }));
    expect(publicCommunity).toMatchObject({ kind: 'request' });
    const restricted = await planOf(serviceEvent({ serviceType: 'community', method: 'update', record: community({ access: { visibility: 'restricted' } }) }));
    expect(restricted).toMatchObject({ kind: 'skipped', reason: 'restricted' });
    // access.record says nothing about a community.
    const wrongField = await planOf(serviceEvent({ serviceType: 'community', method: 'update', record: community({ access: { record: 'public' } }) }));
    expect(wrongField).toMatchObject({ kind: 'skipped', reason: 'restricted' });
    expect(wrongField.kind === 'skipped' ? wrongField.detail : '').toContain('community has no access.visibility field');
  });

  it('does not apply to events that carry no record and no draft (searches)', async () => {
    const plan = await planOf(serviceEvent({ method: 'search', record: null, args: { search: {}, params: { q: 'romans' } } }));
    expect(plan).toMatchObject({ kind: 'request' });
  });

  it('sends with include_restricted: true whatever the record says', async () => {
    const sendAll = { rdm_record: { [DOCUMENTS]: { publish: { http_method: 'POST', payload: null, include_restricted: true } } } } satisfies ProvisionerConfig;
    expect(await planOf(serviceEvent({ method: 'publish', record: withoutAccess(rdmRecord()) }), {}, sendAll)).toMatchObject({ kind: 'request' });
  });

  describe('isPublic', () => {
    it('replaces the rule: a record without access is sent when isPublic says yes', async () => {
      const seen: unknown[] = [];
      const isPublic: IsPublic = (input) => {
        seen.push(input);
        return input.record?.['visible'] === true;
      };
      const record = { ...withoutAccess(rdmRecord({ id: 'own-shape' })), visible: true };
      expect(await planOf(serviceEvent({ method: 'publish', record }), { isPublic })).toMatchObject({ kind: 'request' });
      expect(seen).toEqual([{ serviceType: 'rdm_record', record, draft: null }]);
    });

    it('skips as restricted when isPublic says no, even for a record the original rule would send', async () => {
      const plan = await planOf(serviceEvent({ method: 'publish', record: rdmRecord({ access: { record: 'public' } }) }), { isPublic: () => false });
      expect(plan).toMatchObject({ kind: 'skipped', reason: 'restricted' });
      expect(plan.kind === 'skipped' ? plan.detail : '').toContain('the isPublic option returned false');
    });

    it('fails closed when isPublic throws or answers something else: failed with reason payload, nothing sent', async () => {
      const thrown = await planOf(serviceEvent({ method: 'publish' }), {
        isPublic: () => {
          throw new Error('no visibility column');
        },
      });
      expect(thrown).toMatchObject({ kind: 'failed', reason: 'payload', request: null });
      expect(thrown.kind === 'failed' ? thrown.error.message : '').toContain('The isPublic option threw');
      expect(thrown.kind === 'failed' ? thrown.error.message : '').toContain('no visibility column');
      const odd = await planOf(serviceEvent({ method: 'publish' }), { isPublic: (() => 'yes') as unknown as IsPublic });
      expect(odd).toMatchObject({ kind: 'failed', reason: 'payload' });
      expect(odd.kind === 'failed' ? odd.error.message : '').toContain('Expected the isPublic option to return a boolean');
    });

    it('is not asked for events without a record and a draft, nor with include_restricted', async () => {
      let asked = 0;
      const isPublic: IsPublic = () => {
        asked += 1;
        return false;
      };
      expect(await planOf(serviceEvent({ method: 'search', record: null, args: { search: {}, params: {} } }), { isPublic })).toMatchObject({ kind: 'request' });
      const sendAll = { rdm_record: { [DOCUMENTS]: { publish: { http_method: 'POST', payload: null, include_restricted: true } } } } satisfies ProvisionerConfig;
      expect(await planOf(serviceEvent({ method: 'publish' }), { isPublic }, sendAll)).toMatchObject({ kind: 'request' });
      expect(asked).toBe(0);
    });
  });
});
