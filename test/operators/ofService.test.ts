import type { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { ProvisionerError, ofMethod, ofService } from '../../src/index.js';
import type { Identity, OfServiceEvent, ServiceEvent } from '../../src/index.js';
import type { RdmRecord } from '../helpers/factories.js';
import { sampleEvents } from '../helpers/factories.js';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('ofService', () => {
  const events = sampleEvents();
  const values = { p: events.publish, d: events.deleteRecord, r: events.rename, x: events.deleteCommunity };

  it('keeps the events of one service and passes completion through', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-p-r-d-x-|', values);
      const expected = '   -p---d---|';
      const subs = '       ^--------!';

      expectObservable(source.pipe(ofService('rdm_record'))).toBe(expected, values);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('keeps the community events for community', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-p-r-d-x-|', values);
      const expected = '   ---r---x-|';
      const subs = '       ^--------!';

      expectObservable(source.pipe(ofService('community'))).toBe(expected, values);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('keeps the events of any of several services', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('-p-r-d-x-|', values);
      expectObservable(source.pipe(ofService('rdm_record', 'community'))).toBe('-p-r-d-x-|', values);
    });
  });

  it('passes errors through', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-p-r-#', values, new Error('upstream broke'));
      const expected = '   -p---#';
      const subs = '       ^----!';

      expectObservable(source.pipe(ofService('rdm_record'))).toBe(expected, values, new Error('upstream broke'));
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('unsubscribes from its source when its subscriber does', () => {
    newScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-p-r-d-x-|', values);
      const unsub = '     ^----!';
      const expected = '  -p----';
      const subs = '      ^----!';

      expectObservable(source.pipe(ofService('rdm_record')), unsub).toBe(expected, values);
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('refuses a name that is not a service type, at once', () => {
    expect(() => ofService('rdm_records' as 'rdm_record')).toThrow(ProvisionerError);
    expect(() => ofService('rdm_records' as 'rdm_record')).toThrow(
      'Expected ofService to receive service types ("rdm_record", "community"), got "rdm_records"',
    );
    expect(() => (ofService as (...names: string[]) => unknown)()).toThrow(
      'Expected ofService to receive at least one service type ("rdm_record", "community"), got none',
    );
  });

  it('narrows the event type to that service, keeping the app record type', () => {
    const typed = (events$: Observable<ServiceEvent<RdmRecord>>): void => {
      const rdm$ = events$.pipe(ofService('rdm_record'));
      expectTypeOf(rdm$).toEqualTypeOf<Observable<OfServiceEvent<ServiceEvent<RdmRecord>, 'rdm_record'>>>();
      rdm$.subscribe((event) => {
        expectTypeOf(event.serviceType).toEqualTypeOf<'rdm_record'>();
        expectTypeOf(event.method).not.toExtend<'rename'>();
        expectTypeOf<'publish'>().toExtend<typeof event.method>();
        if (event.method === 'publish') {
          expectTypeOf(event.args.record).toEqualTypeOf<RdmRecord>();
          expectTypeOf(event.args.identity).toEqualTypeOf<Identity>();
        }
      });
      const rename$ = events$.pipe(ofService('community'), ofMethod('rename'));
      rename$.subscribe((event) => {
        expectTypeOf(event.args.slug).toEqualTypeOf<string>();
      });
    };
    expect(typed).toBeTypeOf('function');
  });
});
