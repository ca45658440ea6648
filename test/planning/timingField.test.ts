// `timing_field`, the Python original's loop guard: an event whose record's
// custom_fields[timing_field] is less than 5 s old (by the pipeline's clock) is skipped as a
// feedback loop; older, absent or unreadable timestamps do not stop it.
import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { toRequests } from '../../src/operators/toRequests.js';
import { decodeConfig, parseConfig, type ProvisionerConfig, type RequestPlan } from '../../src/index.js';
import { rdmRecord, serviceEvent } from '../helpers/factories.js';

const DOCUMENTS = 'https://search.example.org/api/v1/documents';
const FIELD = 'kcr:commons_search_updated';

const config = parseConfig({
  rdm_record: { [DOCUMENTS]: { publish: { http_method: 'POST', payload: null, timing_field: FIELD } } },
}) satisfies ProvisionerConfig;

const summary = (plan: RequestPlan): string => (plan.kind === 'request' ? 'sent' : `${plan.kind} ${plan.reason}`);
const stamped = (value: unknown) => serviceEvent({ method: 'publish', record: rdmRecord({ custom_fields: { [FIELD]: value } }) });

describe('timing_field', () => {
  it('skips (feedback-loop) an event whose timestamp is less than 5 s old by the scheduler clock, and sends it later', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
      // All written at t = 0 (ISO string, epoch ms, epoch s); planned at 1 ms and at 5 s.
      const events = cold('-(ims) 4995ms (IMS)|', {
        i: stamped(new Date(0).toISOString()),
        m: stamped(0),
        s: stamped('0'),
        I: stamped(new Date(0).toISOString()),
        M: stamped(0),
        S: stamped(0),
      });
      expectObservable(events.pipe(toRequests(config), map(summary))).toBe('-(ims) 4995ms (IMS)|', {
        i: 'skipped feedback-loop',
        m: 'skipped feedback-loop',
        s: 'skipped feedback-loop',
        I: 'sent',
        M: 'sent',
        S: 'sent',
      });
    });
  });

  it('says in the outcome which field was how recent', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
      const events = cold('1200ms e|', { e: stamped(0) });
      expectObservable(events.pipe(toRequests(config), map((plan) => (plan.kind === 'skipped' ? plan.detail : plan.kind)))).toBe('1200ms e|', {
        e: `record.custom_fields["${FIELD}"] is 1.2 s old, less than 5 s (timing_field): taken for a callback's write-back`,
      });
    });
  });

  it('sends records without the field, or with a timestamp it cannot read', () => {
    new TestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
      const events = cold('-(abc)|', {
        a: serviceEvent({ method: 'publish', record: rdmRecord({ custom_fields: {} }) }),
        b: stamped('yesterday-ish'),
        c: stamped({ at: 0 }),
      });
      expectObservable(events.pipe(toRequests(config), map(summary))).toBe('-(abc)|', { a: 'sent', b: 'sent', c: 'sent' });
    });
  });

  it('is a string in the config: anything else is an issue', () => {
    const decoded = decodeConfig({ rdm_record: { [DOCUMENTS]: { publish: { http_method: 'POST', payload: null, timing_field: 5 } } } });
    expect(decoded._tag).toBe('Left');
    expect(decoded._tag === 'Left' ? decoded.left.issues : []).toEqual([
      `rdm_record["${DOCUMENTS}"].publish.timing_field: expected a non-empty string (the name of a custom_fields entry), got 5`,
    ]);
  });
});
