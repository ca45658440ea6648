import type { MethodOf, ServiceType } from '../events/methodTables.js';
import { SERVICE_TYPES } from '../events/methodTables.js';
import type { AppRecord } from '../events/serviceEvent.js';
import type { EventConfig, ProvisionerConfig } from './types.js';

/**
 * One endpoint configured for a service method, with what to send it.
 *
 * @example
 * ```ts
 * const [first]: readonly EndpointBinding<'rdm_record'>[] = endpointsFor(events, 'rdm_record', 'publish');
 * first?.endpoint; // 'https://search.example.org/api/v1/documents'
 * ```
 */
export type EndpointBinding<S extends ServiceType = ServiceType, R = AppRecord> = {
  /** The endpoint key of the config (its URL). */
  readonly endpoint: string;
  /** The event config of that method at that endpoint. */
  readonly eventConfig: EventConfig<S, MethodOf<S>, R>;
};

/**
 * A precomputed, frozen lookup of a validated config: which methods each service has
 * configured, and the endpoints of each (service, method), each lookup O(1).
 *
 * @example
 * ```ts
 * const index: ConfigIndex = indexConfig(events);
 * if (index.needsOwner && resolveOwner === undefined) throw new Error('resolveOwner is required');
 * ```
 */
export type ConfigIndex<R = AppRecord> = {
  /** The config the index was built from. */
  readonly config: ProvisionerConfig<R>;
  /** Whether any event config sets `with_record_owner: true` (a `resolveOwner` is then needed). */
  readonly needsOwner: boolean;
  /** The methods of `service` with at least one endpoint. Shared: do not mutate. */
  configuredMethods<S extends ServiceType>(service: S): ReadonlySet<MethodOf<S>>;
  /** The endpoints configured for `service`'s `method`, in config order; empty if none. */
  endpointsFor<S extends ServiceType>(service: S, method: string): readonly EndpointBinding<S, R>[];
};

const NONE: readonly never[] = Object.freeze([]);
const indexes = new WeakMap<object, ConfigIndex<never>>();

/**
 * Builds (once per config object, then cached) the lookup structure the hooks and the
 * pipeline use per event. Expects a validated config ({@link parseConfig}); it must not be
 * changed afterwards, as the index is not rebuilt.
 *
 * @example
 * ```ts
 * const index = indexConfig(parseConfig(events));
 * index.configuredMethods('rdm_record').has('publish');               // true
 * index.endpointsFor('rdm_record', 'publish').map((b) => b.endpoint); // ['https://search.example.org/api/v1/documents']
 * ```
 */
export function indexConfig<R = AppRecord>(config: ProvisionerConfig<R>): ConfigIndex<R> {
  const cached = indexes.get(config) as ConfigIndex<R> | undefined;
  if (cached !== undefined) {
    return cached;
  }
  const bindings = new Map<ServiceType, Map<string, EndpointBinding<ServiceType, R>[]>>();
  let needsOwner = false;
  for (const service of SERVICE_TYPES) {
    const byMethod = new Map<string, EndpointBinding<ServiceType, R>[]>();
    bindings.set(service, byMethod);
    const endpoints: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>> = config[service] ?? {};
    for (const endpoint of Object.keys(endpoints)) {
      const methods = endpoints[endpoint] ?? {};
      for (const method of Object.keys(methods)) {
        const eventConfig = methods[method] as EventConfig<ServiceType, MethodOf<ServiceType>, R> | undefined;
        if (typeof eventConfig !== 'object' || eventConfig === null) {
          continue;
        }
        needsOwner ||= eventConfig.with_record_owner === true;
        const list = byMethod.get(method) ?? [];
        list.push(Object.freeze({ endpoint, eventConfig }));
        byMethod.set(method, list);
      }
    }
    for (const [method, list] of byMethod) {
      byMethod.set(method, Object.freeze(list) as EndpointBinding<ServiceType, R>[]);
    }
  }
  const configured = new Map<ServiceType, ReadonlySet<string>>(
    SERVICE_TYPES.map((service) => [service, new Set(bindings.get(service)?.keys())]),
  );
  const index: ConfigIndex<R> = Object.freeze({
    config,
    needsOwner,
    configuredMethods<S extends ServiceType>(service: S): ReadonlySet<MethodOf<S>> {
      return (configured.get(service) ?? new Set()) as ReadonlySet<MethodOf<S>>;
    },
    endpointsFor<S extends ServiceType>(service: S, method: string): readonly EndpointBinding<S, R>[] {
      return (bindings.get(service)?.get(method) ?? NONE) as readonly EndpointBinding<S, R>[];
    },
  });
  indexes.set(config, index as ConfigIndex<never>);
  return index;
}

/**
 * The methods of `service` that have at least one endpoint in `config`: hooks skip the
 * others without building an event. Uses the cached {@link indexConfig}.
 *
 * @example
 * ```ts
 * configuredMethods(events, 'community').has('rename'); // false unless some endpoint configures it
 * ```
 */
export function configuredMethods<S extends ServiceType, R = AppRecord>(config: ProvisionerConfig<R>, service: S): ReadonlySet<MethodOf<S>> {
  return indexConfig(config).configuredMethods(service);
}

/**
 * The endpoints configured for one service method, each with its event config, in config
 * order (O(1) after the first call for a config, via {@link indexConfig}).
 *
 * @example
 * ```ts
 * for (const { endpoint, eventConfig } of endpointsFor(events, 'rdm_record', 'publish')) {
 *   console.info(endpoint, eventConfig.http_method);
 * }
 * ```
 */
export function endpointsFor<S extends ServiceType, R = AppRecord>(
  config: ProvisionerConfig<R>,
  service: S,
  method: string,
): readonly EndpointBinding<S, R>[] {
  return indexConfig(config).endpointsFor(service, method);
}

/**
 * Whether any event config asks for the record owner (`with_record_owner: true`), so that
 * `createProvisioner` can reject the config when no `resolveOwner` is given.
 *
 * @example
 * ```ts
 * configNeedsOwner({ rdm_record: { 'https://x.org/a': { publish: { http_method: 'POST', with_record_owner: true, payload: () => ({}) } } } }); // true
 * ```
 */
export function configNeedsOwner<R = AppRecord>(config: ProvisionerConfig<R>): boolean {
  return indexConfig(config).needsOwner;
}
