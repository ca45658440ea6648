import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  createPostgresStore,
  createProvisioner,
  type CallbackOutcome,
  type DeliveryOutcome,
  type DeliveryStore,
} from 'remote-api-provisioner';
import { startCommonsSearch, type CommonsSearch } from './commons-search/server.js';
import type { SearchDocument } from './commons-search/searchIndex.js';
import { createRecordsApp } from './records-app/app.js';
import { commonsSearchEvents, searchIdOf, type AppSubject } from './records-app/commonsSearchEvents.js';
import { createAppTables, postgresTransactions } from './records-app/postgresTransactions.js';

/** One outcome, flattened for printing and comparing. */
export type OutcomeSummary = {
  readonly kind: DeliveryOutcome['kind'];
  /** `rdm_record.publish`, `community.rename`… */
  readonly event: string;
  readonly subject: string | null;
  readonly method: string | null;
  readonly url: string | null;
  readonly status: number | null;
  readonly attempts: number | null;
  readonly reason: string | null;
};

/** What a step expects of one outcome; fields left out are not compared. */
export type ExpectedOutcome = Partial<OutcomeSummary> & Pick<OutcomeSummary, 'kind' | 'event'>;

/** One step of the scenario with the outcomes it produced. */
export type StepResult = {
  readonly title: string;
  readonly outcomes: readonly OutcomeSummary[];
  readonly expected: readonly ExpectedOutcome[];
};

/** What {@link runScenario} found. */
export type ScenarioResult = {
  /** The search service's base URL (it is closed by then). */
  readonly searchUrl: string;
  readonly steps: readonly StepResult[];
  /** Every outcome, in the order the provisioner reached them. */
  readonly outcomes: readonly DeliveryOutcome<AppSubject>[];
  readonly callbacks: readonly CallbackOutcome<AppSubject>[];
  /** The search service's documents at the end. */
  readonly index: readonly SearchDocument[];
  /** `_internal_id`s of the hits of each final search. */
  readonly searches: Readonly<Record<string, readonly string[]>>;
  /** The app's ids of what the scenario made. */
  readonly ids: {
    readonly record: string;
    readonly newVersion: string;
    readonly restrictedRecord: string;
    readonly community: string;
    readonly secondCommunity: string;
  };
  /** Every expectation that failed; empty when all were met. */
  readonly failures: readonly string[];
};

/** Options of {@link runScenario}. */
export type ScenarioOptions = {
  /** Where the scenario prints what happens. @default nothing is printed */
  readonly log?: (line: string) => void;
  /**
   * PostgreSQL mode: the app's record writes and the provisioner's journal (the PostgreSQL
   * store) share each transaction. @default the embedded demo: in memory, no server
   */
  readonly database?: { readonly url: string; readonly schema?: string };
};

type Step = {
  readonly title: string;
  readonly run: () => Promise<void>;
  readonly expect: () => readonly ExpectedOutcome[];
};

/** The searches at the end, and the `_internal_id`s each must find. */
type FinalSearch = { readonly query: string; readonly why: string; readonly expected: readonly string[] };

/**
 * Runs the demo's scripted scenario: starts the commons-search service on a free loopback
 * port, wires the provisioner into the records app with the seed-style config, and goes
 * through a record's life (publish, new version, publish, delete, restore), a restricted
 * record, and communities (create, rename, delete; one created during a service hiccup).
 * After each step it waits for the provisioner to settle and compares the outcomes with the
 * expected ones; at the end it checks that the search index holds exactly what is public
 * and live. Everything is closed before it returns.
 *
 * @example
 * ```ts
 * const result = await runScenario({ log: console.log });
 * process.exitCode = result.failures.length === 0 ? 0 : 1;
 * ```
 */
export async function runScenario(options: ScenarioOptions = {}): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const search = await startCommonsSearch({ secret, port: 0, host: '127.0.0.1' });
  const pool = options.database === undefined ? null : new pg.Pool({ connectionString: options.database.url });
  try {
    let mode: Mode = { app: createRecordsApp(), store: undefined };
    if (pool !== null) {
      const schema = options.database?.schema ?? 'records_app';
      await createAppTables(pool, schema);
      mode = { app: createRecordsApp({ transactions: postgresTransactions(pool, schema) }), store: await createPostgresStore<AppSubject>({ pool, schema }) };
      log(`PostgreSQL mode: records and their deliveries are written in the same transactions (schema ${schema})`);
    }
    return await runAgainst(search, secret, log, mode);
  } finally {
    await search.close();
    await pool?.end();
  }
}

/** The app, and the provisioner's store: the memory pipeline, or the PostgreSQL store sharing the app's transactions. */
type Mode = { readonly app: ReturnType<typeof createRecordsApp>; readonly store: DeliveryStore<AppSubject> | undefined };

async function runAgainst(search: CommonsSearch, secret: string, log: (line: string) => void, mode: Mode): Promise<ScenarioResult> {
  const documents = `${search.url}/api/v1/documents`;
  log(`commons-search is listening on ${search.url} (writes must carry a Standard Webhooks signature)`);

  const app = mode.app;
  const provisioner = createProvisioner<AppSubject>({
    ...(mode.store === undefined ? {} : { store: mode.store }),
    events: commonsSearchEvents(app, { searchUrl: search.url }),
    resolveOwner: ({ record }) => {
      if (record === null) throw new Error('Expected a record to find its owner, got none');
      return app.ownerOf(record);
    },
    signing: { secret },
    // Short backoff so that the retry in the scenario takes milliseconds, not seconds.
    http: { timeoutMs: 5_000, retry: { limit: 3, baseDelayMs: 20, maxDelayMs: 100 } },
  });
  app.records.addComponent(provisioner.hooks('rdm_record'));
  app.communities.addComponent(provisioner.hooks('community'));

  const outcomes: DeliveryOutcome<AppSubject>[] = [];
  const callbacks: CallbackOutcome<AppSubject>[] = [];
  let stepOutcomes: OutcomeSummary[] = [];
  const subscriptions = [
    provisioner.outcomes$.subscribe((outcome) => {
      outcomes.push(outcome);
      const summary = summarize(outcome);
      stepOutcomes.push(summary);
      log(`  ${describeOutcome(summary, outcome)}`);
    }),
    provisioner.callbacks$.subscribe((outcome) => {
      callbacks.push(outcome);
      const event = `${outcome.delivery.request.serviceType}.${outcome.delivery.request.serviceMethod}`;
      log(
        outcome.kind === 'ok'
          ? `    ↳ callback of ${event}: _id ${String(outcome.value)} is stored in custom_fields`
          : `    ↳ callback of ${event} failed: ${outcome.error.message}`,
      );
    }),
  ];

  const troy = app.addUser({ id: '1', email: 'troy@example.org', username: 'troy', name: 'Troy Brown' });
  const mary = app.addUser({ id: '2', email: 'mary@example.org', username: 'mary', name: 'Mary Beard' });
  const ids = { record: '', newVersion: '', restrictedRecord: '', community: '', secondCommunity: '' };
  const published = (id: string) => app.records.read(troy, id);
  const community = (id: string) => app.communities.read(mary, id);
  let firstSearchId = '';
  let communitySearchId = '';

  const steps: Step[] = [
    {
      title: 'Troy creates a draft of "A Romans Story" and publishes it',
      run: async () => {
        const draft = await app.records.create(troy, {
          metadata: {
            title: 'A Romans Story',
            description: '<p>A study of <em>Roman</em> households.</p>',
            creators: [{ person_or_org: { name: 'Brown, Troy', type: 'personal', given_name: 'Troy', family_name: 'Brown' }, role: { id: 'author' } }],
          },
        });
        ids.record = draft.id;
        await app.records.publish(troy, draft.id);
      },
      expect: () => {
        firstSearchId = searchIdOf(published(ids.record)) ?? '';
        return [
          { kind: 'delivered', event: 'rdm_record.publish', subject: ids.record, method: 'POST', url: documents, status: 201, attempts: 1 },
          // The callback's write-back (edit, update_draft, publish as the system) is not sent back.
          { kind: 'skipped', event: 'rdm_record.publish', subject: ids.record, reason: 'feedback-loop' },
        ];
      },
    },
    {
      title: 'Troy makes a new version and publishes it: the stored _id turns the POST into a PUT',
      run: async () => {
        const draft = await app.records.newVersion(troy, ids.record);
        ids.newVersion = draft.id;
        await app.records.updateDraft(troy, draft.id, { metadata: { ...draft.metadata, title: 'A Romans Story, revised edition' } });
        await app.records.publish(troy, draft.id);
      },
      expect: () => [
        { kind: 'delivered', event: 'rdm_record.publish', subject: ids.newVersion, method: 'PUT', url: `${documents}/${firstSearchId}`, status: 200, attempts: 1 },
      ],
    },
    {
      title: 'Troy deletes the record (a tombstone stays in the app)',
      run: async () => {
        await app.records.deleteRecord(troy, ids.newVersion, { removal_reason: { id: 'duplicate' }, note: 'Published twice' });
      },
      expect: () => [
        { kind: 'delivered', event: 'rdm_record.delete_record', subject: ids.newVersion, method: 'DELETE', url: `${documents}/${firstSearchId}`, status: 204, attempts: 1 },
      ],
    },
    {
      title: 'Troy restores the record: it is posted again and gets a new _id',
      run: async () => {
        await app.records.restoreRecord(troy, ids.newVersion);
      },
      expect: () => [
        { kind: 'delivered', event: 'rdm_record.restore_record', subject: ids.newVersion, method: 'POST', url: documents, status: 201, attempts: 1 },
        { kind: 'skipped', event: 'rdm_record.publish', subject: ids.newVersion, reason: 'feedback-loop' },
      ],
    },
    {
      title: 'Troy publishes a restricted record: it must not leave the app',
      run: async () => {
        const draft = await app.records.create(troy, {
          metadata: { title: 'Unpublished field notes from Herculaneum' },
          access: { record: 'restricted', files: 'restricted' },
        });
        ids.restrictedRecord = draft.id;
        await app.records.publish(troy, draft.id);
      },
      expect: () => [{ kind: 'skipped', event: 'rdm_record.publish', subject: ids.restrictedRecord, reason: 'restricted' }],
    },
    {
      title: 'Mary creates the community "roman-households"',
      run: async () => {
        const created = await app.communities.create(mary, {
          slug: 'roman-households',
          metadata: { title: 'Roman Households Research Group', description: 'Work on domestic life in the Roman world.', type: { id: 'group' } },
        });
        ids.community = created.id;
      },
      expect: () => {
        communitySearchId = searchIdOf(community(ids.community)) ?? '';
        return [
          { kind: 'delivered', event: 'community.create', subject: ids.community, method: 'POST', url: documents, status: 201, attempts: 1 },
          { kind: 'skipped', event: 'community.update', subject: ids.community, reason: 'feedback-loop' },
        ];
      },
    },
    {
      title: 'Mary renames it to "roman-domestic-life"',
      run: async () => {
        await app.communities.rename(mary, ids.community, { slug: 'roman-domestic-life' });
      },
      expect: () => [
        { kind: 'delivered', event: 'community.rename', subject: ids.community, method: 'PUT', url: `${documents}/${communitySearchId}`, status: 200, attempts: 1 },
      ],
    },
    {
      title: 'Mary deletes the community',
      run: async () => {
        await app.communities.deleteCommunity(mary, ids.community, { removal_reason: { id: 'merged' } });
      },
      expect: () => [
        { kind: 'delivered', event: 'community.delete_community', subject: ids.community, method: 'DELETE', url: `${documents}/${communitySearchId}`, status: 204, attempts: 1 },
      ],
    },
    {
      title: 'Mary creates "medieval-towns" while the search service answers 503 once: it is retried',
      run: async () => {
        search.failNext(1, 503);
        const created = await app.communities.create(mary, {
          slug: 'medieval-towns',
          metadata: { title: 'Medieval Towns Network', description: 'Urban history of the Middle Ages.', type: { id: 'group' } },
        });
        ids.secondCommunity = created.id;
      },
      expect: () => [
        { kind: 'delivered', event: 'community.create', subject: ids.secondCommunity, method: 'POST', url: documents, status: 201, attempts: 2 },
        { kind: 'skipped', event: 'community.update', subject: ids.secondCommunity, reason: 'feedback-loop' },
      ],
    },
  ];

  const failures: string[] = [];
  const results: StepResult[] = [];
  try {
    for (const [index, step] of steps.entries()) {
      log('');
      log(`${index + 1}. ${step.title}`);
      stepOutcomes = [];
      try {
        await step.run();
        await provisioner.drain();
      } catch (error) {
        failures.push(`step ${index + 1} threw: ${error instanceof Error ? error.message : String(error)}`);
      }
      const expected = step.expect();
      const found = stepOutcomes;
      results.push({ title: step.title, outcomes: found, expected });
      failures.push(...compare(index + 1, expected, found));
    }
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    await provisioner.close();
  }

  // What is public and live must be in the index, and nothing else.
  const live = published(ids.newVersion);
  const secondCommunity = community(ids.secondCommunity);
  const index = await search.documents();
  const expectedIndex = [
    { _id: searchIdOf(live), _internal_id: live.id, content_type: 'work', title: live.metadata.title, primary_url: `${app.siteUrl}/records/${live.id}` },
    { _id: searchIdOf(secondCommunity), _internal_id: secondCommunity.id, content_type: 'group', title: secondCommunity.metadata.title, primary_url: `${app.siteUrl}/communities/medieval-towns` },
  ].sort((a, b) => a._internal_id.localeCompare(b._internal_id));
  const indexed = index.map(({ _id, _internal_id, content_type, title, primary_url }) => ({ _id, _internal_id, content_type, title, primary_url }));
  if (JSON.stringify(indexed) !== JSON.stringify(expectedIndex)) {
    failures.push(`index: expected ${JSON.stringify(expectedIndex)}, found ${JSON.stringify(indexed)}`);
  }

  const finalSearches: FinalSearch[] = [
    { query: 'romans revised', why: 'the live record, in its latest version', expected: [live.id] },
    { query: 'herculaneum', why: 'the restricted record was never sent', expected: [] },
    { query: 'research group', why: 'the deleted community was removed', expected: [] },
    { query: 'medieval', why: 'the live community', expected: [secondCommunity.id] },
  ];
  const searches: Record<string, string[]> = {};
  for (const { query, expected } of finalSearches) {
    const response = await fetch(`${search.url}/api/v1/search?q=${encodeURIComponent(query)}`);
    const body = (await response.json()) as { hits: { document: SearchDocument }[] };
    const hits = body.hits.map((hit) => String(hit.document['_internal_id']));
    searches[query] = hits;
    if (JSON.stringify([...hits].sort()) !== JSON.stringify([...expected].sort())) {
      failures.push(`search "${query}": expected ${JSON.stringify(expected)}, found ${JSON.stringify(hits)}`);
    }
  }

  printSummary(log, { steps: results, index, finalSearches, searches, failures, documentsUrl: documents });
  return { searchUrl: search.url, steps: results, outcomes, callbacks, index, searches, ids, failures };
}

function summarize(outcome: DeliveryOutcome<AppSubject>): OutcomeSummary {
  const base = {
    kind: outcome.kind,
    event: `${outcome.event.serviceType}.${outcome.event.method}`,
    subject: outcome.event.recordId,
  };
  switch (outcome.kind) {
    case 'delivered':
      return { ...base, method: outcome.request.method, url: outcome.request.url, status: outcome.response.status, attempts: outcome.attempts, reason: null };
    case 'failed':
      return {
        ...base,
        method: outcome.request?.method ?? null,
        url: outcome.request?.url ?? null,
        status: outcome.response?.status ?? null,
        attempts: outcome.attempts,
        reason: outcome.reason,
      };
    case 'skipped':
      return { ...base, method: null, url: null, status: null, attempts: null, reason: outcome.reason };
  }
}

function describeOutcome(summary: OutcomeSummary, outcome: DeliveryOutcome<AppSubject>): string {
  const attempts = summary.attempts === 1 ? '1 attempt' : `${summary.attempts ?? 0} attempts`;
  switch (outcome.kind) {
    case 'delivered':
      return `✓ ${summary.event}: ${summary.method} ${summary.url} → ${summary.status} (${attempts})`;
    case 'failed':
      return `✗ ${summary.event}: ${summary.method ?? '-'} ${summary.url ?? '-'} failed (${summary.reason}, ${attempts}): ${outcome.error.message}`;
    case 'skipped':
      return `· ${summary.event} of ${summary.subject ?? '-'} skipped (${summary.reason}${summary.reason === 'feedback-loop' ? ": the callback's own write-back" : ''})`;
  }
}

/** The mismatches between what a step expected and what it produced, in order. */
function compare(step: number, expected: readonly ExpectedOutcome[], found: readonly OutcomeSummary[]): string[] {
  const problems: string[] = [];
  if (expected.length !== found.length) {
    problems.push(`step ${step}: expected ${expected.length} outcome(s), found ${found.length}: ${found.map((o) => `${o.kind} ${o.event}`).join(', ') || 'none'}`);
  }
  for (const [index, want] of expected.entries()) {
    const got = found[index];
    if (got === undefined) continue;
    for (const [key, value] of Object.entries(want)) {
      const actual = got[key as keyof OutcomeSummary];
      if (actual !== value) {
        problems.push(`step ${step}, outcome ${index + 1} (${want.kind} ${want.event}): expected ${key} ${JSON.stringify(value)}, found ${JSON.stringify(actual)}`);
      }
    }
  }
  return problems;
}

function printSummary(
  log: (line: string) => void,
  summary: {
    readonly steps: readonly StepResult[];
    readonly index: readonly SearchDocument[];
    readonly finalSearches: readonly FinalSearch[];
    readonly searches: Readonly<Record<string, readonly string[]>>;
    readonly failures: readonly string[];
    readonly documentsUrl: string;
  },
): void {
  const path = (url: string | null) => (url === null ? '-' : url.startsWith(summary.documentsUrl) ? `/api/v1/documents${url.slice(summary.documentsUrl.length)}` : url);
  const rows = [['step', 'event', 'outcome', 'request', 'status', 'attempts']];
  for (const [index, step] of summary.steps.entries()) {
    for (const outcome of step.outcomes) {
      rows.push([
        String(index + 1),
        outcome.event,
        outcome.kind === 'delivered' ? 'delivered' : `${outcome.kind} (${outcome.reason})`,
        outcome.method === null ? '-' : `${outcome.method} ${path(outcome.url)}`,
        outcome.status === null ? '-' : String(outcome.status),
        outcome.attempts === null ? '-' : String(outcome.attempts),
      ]);
    }
  }
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  log('');
  log('Summary');
  for (const [index, row] of rows.entries()) {
    log(`  ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()}`);
    if (index === 0) log(`  ${widths.map((width) => '-'.repeat(width)).join('  ')}`);
  }

  log('');
  log(`The search index holds ${summary.index.length} document(s):`);
  for (const document of summary.index) {
    log(`  ${document._id}  ${String(document['content_type']).padEnd(5)}  ${String(document['title'])}  (${String(document['_internal_id'])})`);
  }
  log('');
  for (const { query, why } of summary.finalSearches) {
    const hits = summary.searches[query] ?? [];
    log(`  GET /api/v1/search?q=${encodeURIComponent(query)} → ${hits.length} hit(s) ${hits.length > 0 ? `[${hits.join(', ')}] ` : ''}(${why})`);
  }
  log('');
  if (summary.failures.length === 0) {
    log('All expectations met: what is public and live is indexed, and nothing else.');
  } else {
    log(`${summary.failures.length} expectation(s) failed:`);
    for (const failure of summary.failures) log(`  - ${failure}`);
  }
}
