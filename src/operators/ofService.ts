import type { Observable } from 'rxjs';
import { filter } from 'rxjs';
import { ProvisionerError } from '../errors.js';
import { SERVICE_TYPES } from '../events/methodTables.js';
import type { ServiceType } from '../events/methodTables.js';

/**
 * The events of `E` whose `serviceType` is one of `S`: what {@link ofService} emits.
 *
 * @example
 * ```ts
 * type CommunityEvent = OfServiceEvent<ServiceEvent<MyRecord>, 'community'>;
 * ```
 */
export type OfServiceEvent<E, S extends ServiceType> = Extract<E, { readonly serviceType: S }>;

/**
 * Keeps the events of the given service(s) and narrows their type: after
 * `ofService('rdm_record')`, `event.method` is an RDMRecordService method and `event.args`
 * has that method's arguments. The app's record type flows through unchanged.
 *
 * ```
 * source:                  --r--c--r--c--|
 * ofService('rdm_record'): --r-----r-----|
 *
 * r: an rdm_record event, c: a community event
 * ```
 *
 * @param services one or more of `'rdm_record'`, `'community'`.
 * @throws {@link ProvisionerError} at once, when a name is not a service type.
 *
 * @example
 * ```ts
 * provisioner.events$
 *   .pipe(ofService('community'), ofMethod('rename'))
 *   .subscribe((event) => redirects.add(event.args.old_slug, event.args.slug));
 * ```
 */
export function ofService<S extends ServiceType>(
  ...services: readonly [S, ...S[]]
): <E extends { readonly serviceType: ServiceType }>(source: Observable<E>) => Observable<OfServiceEvent<E, S>> {
  if (services.length === 0) {
    throw new ProvisionerError(`Expected ofService to receive at least one service type (${quoteAll(SERVICE_TYPES)}), got none`);
  }
  for (const service of services) {
    if (!(SERVICE_TYPES as readonly unknown[]).includes(service)) {
      throw new ProvisionerError(`Expected ofService to receive service types (${quoteAll(SERVICE_TYPES)}), got ${JSON.stringify(service) ?? String(service)}`);
    }
  }
  const [only] = services;
  const matches: (serviceType: ServiceType) => boolean =
    services.length === 1 ? (serviceType) => serviceType === only : (serviceType) => (services as readonly ServiceType[]).includes(serviceType);
  return <E extends { readonly serviceType: ServiceType }>(source: Observable<E>) =>
    source.pipe(filter((event: E): event is OfServiceEvent<E, S> => matches(event.serviceType)));
}

function quoteAll(names: readonly string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}
