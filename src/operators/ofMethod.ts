import type { Observable } from 'rxjs';
import { filter } from 'rxjs';
import { ProvisionerError } from '../errors.js';
import { METHOD_TABLES } from '../events/methodTables.js';
import type { AnyMethod } from '../events/methodTables.js';

/**
 * The events of `E` whose `method` is one of `M`: what {@link ofMethod} emits.
 *
 * @example
 * ```ts
 * type VersionEvent = OfMethodEvent<ServiceEvent<MyRecord>, 'publish' | 'new_version'>;
 * ```
 */
export type OfMethodEvent<E, M extends string> = Extract<E, { readonly method: M }>;

const KNOWN_METHODS: ReadonlySet<string> = new Set([
  ...Object.keys(METHOD_TABLES.rdm_record),
  ...Object.keys(METHOD_TABLES.community),
]);

/**
 * Keeps the events of the given service method(s) and narrows their type to those methods'
 * events, so `event.args` has exactly their arguments. Methods are those of the seed's
 * table; an "any" method (`create`, `read`...) matches both services unless an
 * {@link ofService} comes first.
 *
 * ```
 * source:                             --p--u--n--d--|
 * ofMethod('publish', 'new_version'): --p-----n-----|
 *
 * p: publish, u: update_draft, n: new_version, d: delete_record
 * ```
 *
 * @param methods one or more method names of the seed's table.
 * @throws {@link ProvisionerError} at once, when a name is not a method of either service.
 *
 * @example
 * ```ts
 * provisioner.events$
 *   .pipe(ofService('rdm_record'), ofMethod('publish', 'new_version'))
 *   .subscribe((event) => versions.track(event.recordId, event.args.draft?.id));
 * ```
 */
export function ofMethod<M extends AnyMethod>(
  ...methods: readonly [M, ...M[]]
): <E extends { readonly method: string }>(source: Observable<E>) => Observable<OfMethodEvent<E, M>> {
  if (methods.length === 0) {
    throw new ProvisionerError('Expected ofMethod to receive at least one method name, got none');
  }
  for (const method of methods) {
    if (typeof method !== 'string' || !KNOWN_METHODS.has(method)) {
      throw new ProvisionerError(
        `Expected ofMethod to receive method names of the rdm_record or community service, got ${JSON.stringify(method) ?? String(method)}`,
      );
    }
  }
  const [only] = methods;
  const matches: (method: string) => boolean =
    methods.length === 1 ? (method) => method === only : (method) => (methods as readonly string[]).includes(method);
  return <E extends { readonly method: string }>(source: Observable<E>) =>
    source.pipe(filter((event: E): event is OfMethodEvent<E, M> => matches(event.method)));
}
