import type { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ProvisionerError, ofMethod, ofService } from '../../src/index.js';
import type { OfMethodEvent, ServiceEvent } from '../../src/index.js';
import type { RdmRecord } from '../helpers/factories.js';
import { sampleEvents } from '../helpers/factories.js';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('ofMethod', () => {
  const events = sampleEvents();
  const values = {
    p: events.publish,
    n: events.newVersion,
    u: events.updateDraft,
    d: events.deleteRecord,
    c: events.rdmCreate,
    k: events.communityCreate,
    r: events.rename,
  };

  it('keeps the events of one method', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-p-u-n-d-|', values);
      const expected = '   -p-------|';
      const subs = '       ^--------!';

      expectObservable(source.pipe(ofMethod('publish'))).toBe(expected, values);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('keeps the events of any of several methods, in source order', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-p-u-n-d-n-p-|', values);
      const expected = '   -p---n---n-p-|';
      const subs = '       ^------------!';

      expectObservable(source.pipe(ofMethod('publish', 'new_version'))).toBe(expected, values);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('matches an "any" method of both services, unless ofService comes first', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-c-k-r-|', values);
      expectObservable(source.pipe(ofMethod('create'))).toBe('-c-k---|', values);
      expectObservable(source.pipe(ofService('community'), ofMethod('create'))).toBe('---k---|', values);
    });
  });

  it('passes errors through', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-p-u-#', values, new Error('upstream broke'));
      const expected = '   -p---#';
      const subs = '       ^----!';

      expectObservable(source.pipe(ofMethod('publish'))).toBe(expected, values, new Error('upstream broke'));
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('unsubscribes from its source when its subscriber does', () => {
    newScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-p-u-n-d-|', values);
      const unsub = '     ^------!';
      const expected = '  -p---n--';
      const subs = '      ^------!';

      expectObservable(source.pipe(ofMethod('publish', 'new_version')), unsub).toBe(expected, values);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('refuses a name that is not a method of either service, at once', () => {
    expect(() => ofMethod('mark_record_for_purge' as 'mark_record')).toThrow(ProvisionerError);
    expect(() => ofMethod('publish', 'mark_record_for_purge' as 'mark_record')).toThrow(
      'Expected ofMethod to receive method names of the rdm_record or community service, got "mark_record_for_purge"',
    );
    expect(() => (ofMethod as (...names: string[]) => unknown)()).toThrow(
      'Expected ofMethod to receive at least one method name, got none',
    );
  });

  it('narrows the event type to those methods and their arguments', () => {
    const typed = (events$: Observable<ServiceEvent<RdmRecord>>): void => {
      const versions$ = events$.pipe(ofMethod('publish', 'new_version'));
      expectTypeOf(versions$).toEqualTypeOf<Observable<OfMethodEvent<ServiceEvent<RdmRecord>, 'publish' | 'new_version'>>>();
      versions$.subscribe((event) => {
        expectTypeOf(event.method).toEqualTypeOf<'publish' | 'new_version'>();
        expectTypeOf(event.serviceType).toEqualTypeOf<'rdm_record'>();
        expectTypeOf(event.args.draft).toEqualTypeOf<RdmRecord | null | undefined>();
      });
      const creates$ = events$.pipe(ofMethod('create'));
      creates$.subscribe((event) => {
        expectTypeOf(event.serviceType).toEqualTypeOf<'rdm_record' | 'community'>();
      });
    };
    expect(typed).toBeTypeOf('function');
  });
});
