import { beforeAll, describe, expect, it } from 'vitest';
import { runScenario, type ScenarioResult } from '../../examples/scenario.js';
import type { DeliveryOutcome } from 'remote-api-provisioner';

let result: ScenarioResult;
const lines: string[] = [];

beforeAll(async () => {
  result = await runScenario({ log: (line) => lines.push(line) });
});

/** An outcome as the assertions compare it. */
function flatten(outcome: DeliveryOutcome) {
  return {
    kind: outcome.kind,
    event: `${outcome.event.serviceType}.${outcome.event.method}`,
    subject: outcome.event.recordId,
    method: outcome.kind === 'delivered' ? outcome.request.method : outcome.kind === 'failed' ? (outcome.request?.method ?? null) : null,
    url: outcome.kind === 'delivered' ? outcome.request.url : outcome.kind === 'failed' ? (outcome.request?.url ?? null) : null,
    status: outcome.kind === 'delivered' ? outcome.response.status : null,
    attempts: outcome.kind === 'skipped' ? null : outcome.attempts,
    reason: outcome.kind === 'delivered' ? null : outcome.reason,
  };
}

/** The `_id` the search service answered to a delivered POST. */
function postedId(outcome: DeliveryOutcome | undefined): string {
  if (outcome?.kind !== 'delivered') throw new Error(`Expected a delivered outcome, got ${outcome?.kind ?? 'none'}`);
  return String((outcome.response.body as { _id: string })._id);
}

describe('the demo scenario', () => {
  it('meets every expectation of its own', () => {
    expect(result.failures).toEqual([]);
    expect(lines.at(-1)).toBe('All expectations met: what is public and live is indexed, and nothing else.');
  });

  it('ends in exactly these delivery outcomes', () => {
    const documents = `${result.searchUrl}/api/v1/documents`;
    const { record, newVersion, restrictedRecord, community, secondCommunity } = result.ids;
    const [firstPost] = result.outcomes;
    const recordId = postedId(firstPost);
    const restoredId = postedId(result.outcomes.find((outcome) => outcome.event.method === 'restore_record'));
    const communityId = postedId(result.outcomes.find((outcome) => outcome.event.recordId === community));
    const delivered = (event: string, subject: string, method: string, url: string, status: number, attempts = 1) =>
      ({ kind: 'delivered', event, subject, method, url, status, attempts, reason: null }) as const;
    const skipped = (event: string, subject: string, reason: string) =>
      ({ kind: 'skipped', event, subject, method: null, url: null, status: null, attempts: null, reason }) as const;

    expect(result.outcomes.map(flatten)).toEqual([
      // publish: POST, then the callback's write-back publish is not sent back to the endpoint
      delivered('rdm_record.publish', record, 'POST', documents, 201),
      skipped('rdm_record.publish', record, 'feedback-loop'),
      // the new version carries the stored _id: its publish is a PUT to the same document
      delivered('rdm_record.publish', newVersion, 'PUT', `${documents}/${recordId}`, 200),
      delivered('rdm_record.delete_record', newVersion, 'DELETE', `${documents}/${recordId}`, 204),
      delivered('rdm_record.restore_record', newVersion, 'POST', documents, 201),
      skipped('rdm_record.publish', newVersion, 'feedback-loop'),
      skipped('rdm_record.publish', restrictedRecord, 'restricted'),
      delivered('community.create', community, 'POST', documents, 201),
      skipped('community.update', community, 'feedback-loop'),
      delivered('community.rename', community, 'PUT', `${documents}/${communityId}`, 200),
      delivered('community.delete_community', community, 'DELETE', `${documents}/${communityId}`, 204),
      // the service answered 503 once: retried with the same delivery id
      delivered('community.create', secondCommunity, 'POST', documents, 201, 2),
      skipped('community.update', secondCommunity, 'feedback-loop'),
    ]);
    expect(restoredId).not.toBe(recordId);
  });

  it('runs the callbacks of the POSTs and PUTs, each returning the remote _id it stored', () => {
    expect(result.callbacks.map((callback) => [callback.kind, callback.delivery.event.method, callback.kind === 'ok' ? callback.value : callback.error.message])).toEqual([
      ['ok', 'publish', postedId(result.outcomes[0])],
      ['ok', 'publish', postedId(result.outcomes[0])],
      ['ok', 'restore_record', postedId(result.outcomes[4])],
      ['ok', 'create', postedId(result.outcomes[7])],
      ['ok', 'create', postedId(result.outcomes[11])],
    ]);
  });

  it('leaves in the search index what is public and live, and nothing else', () => {
    const { newVersion, secondCommunity } = result.ids;
    expect(result.index).toEqual(
      [
        {
          _id: postedId(result.outcomes[4]),
          _internal_id: newVersion,
          content_type: 'work',
          network_node_handle: 'works',
          title: 'A Romans Story, revised edition',
          description: 'A study of Roman households.',
          primary_url: `https://works.example.org/records/${newVersion}`,
          owner: { name: 'Troy Brown', username: 'troy', url: 'https://works.example.org/users/troy' },
          contributors: [{ name: 'Brown, Troy', role: 'author' }],
          publication_date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
          modified_date: expect.any(String),
        },
        {
          _id: postedId(result.outcomes[11]),
          _internal_id: secondCommunity,
          content_type: 'group',
          network_node_handle: 'works',
          title: 'Medieval Towns Network',
          description: 'Urban history of the Middle Ages.',
          primary_url: 'https://works.example.org/communities/medieval-towns',
          owner: { name: 'Mary Beard', username: 'mary', url: 'https://works.example.org/users/mary' },
          modified_date: expect.any(String),
        },
      ].sort((a, b) => a._internal_id.localeCompare(b._internal_id)),
    );
    expect(result.searches).toEqual({
      'romans revised': [newVersion],
      herculaneum: [],
      'research group': [],
      medieval: [secondCommunity],
    });
  });

  it('prints each delivery with its method, URL, status and attempts, and a summary', () => {
    const text = lines.join('\n');
    expect(text).toContain(`✓ rdm_record.publish: POST ${result.searchUrl}/api/v1/documents → 201 (1 attempt)`);
    expect(text).toContain(`✓ community.create: POST ${result.searchUrl}/api/v1/documents → 201 (2 attempts)`);
    expect(text).toContain(`· rdm_record.publish of ${result.ids.restrictedRecord} skipped (restricted)`);
    expect(text).toMatch(/Summary\n\s+step\s+event\s+outcome\s+request\s+status\s+attempts/);
    expect(text).toContain('The search index holds 2 document(s):');
  });
});
