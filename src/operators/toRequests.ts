import { asyncScheduler, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { endpointsFor } from '../config/configIndex.js';
import type { ProvisionerConfig } from '../config/types.js';
import { deliveryKey } from '../events/deliveryKey.js';
import type { Owner } from '../events/identity.js';
import type { RequestPlan } from '../events/outcomes.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import type { Eventually } from '../planning/eventually.js';
import { inKeyOrder, type KeyedValue } from '../planning/inKeyOrder.js';
import { DEFAULT_OWNER_TIMEOUT_MS, ownerLookup, type ResolveOwner } from '../planning/owner.js';
import { DEFAULT_PAYLOAD_TIMEOUT_MS } from '../planning/payload.js';
import { planEvent } from '../planning/planEvent.js';
import { failedPlan, planningFailure, type PlanFailure } from '../planning/planFailure.js';
import { configPath, describeSubject } from '../planning/subject.js';
import { prepareTarget, type Target } from '../planning/target.js';
import type { IsPublic } from '../planning/visibility.js';

export type { ResolveOwner, ResolveOwnerInput } from '../planning/owner.js';
export type { IsPublic, IsPublicInput } from '../planning/visibility.js';

/**
 * Options of {@link toRequests}.
 *
 * @example
 * ```ts
 * events$.pipe(toRequests(config, { resolveOwner, ownerTimeoutMs: 5_000, payloadTimeoutMs: 10_000 }));
 * ```
 */
export type ToRequestsOptions<R = AppRecord> = {
  /** Looks up the record owner for `with_record_owner`; the system identity gets `SYSTEM_OWNER` without it. */
  readonly resolveOwner?: ResolveOwner<R>;
  /** How long `resolveOwner` may take before the plan fails with reason `owner`. @default 10000 */
  readonly ownerTimeoutMs?: number;
  /** How long an async payload function may take before the plan fails with reason `payload`. @default 30000 */
  readonly payloadTimeoutMs?: number;
  /**
   * Which records may be sent, replacing the original's rule (an rdm_record's or its draft's
   * `access.record`, a community's `access.visibility`, is `"public"`; unreadable is not).
   */
  readonly isPublic?: IsPublic<R>;
  /** Scheduler of those timeouts (virtual time in marble tests). @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
};

/**
 * Plans the HTTP messages of each service event: one {@link RequestPlan} per endpoint whose
 * config has the event's method, in config order. A plan is a request ready to send (URL,
 * method, headers, the payload serialized once into `body`, a delivery id stable for the
 * event and endpoint, sent as `Idempotency-Key`), or the outcome already reached:
 * `skipped` for a record that is not positively public or whose visibility cannot be read
 * (`restricted`, with a `detail` saying which field; unless `include_restricted`; `isPublic`
 * replaces the rule) or for an event that this endpoint's own callback caused, or whose
 * `timing_field` is less than 5 s old (`feedback-loop`; other endpoints still get it), `failed` when the owner, the payload or the URL cannot be had, or when the payload
 * holds a value JSON would change or drop (`payload.tags: expected a JSON value, got a Map`).
 * Nothing is thrown. Plans of the same endpoint and record come out in event order, even when
 * payload functions are async; plans of other records do not wait for them.
 *
 * ```
 * events:  -p----d---|        p: publish of record A, d: delete_record of record A
 * plans:   -P----D---|        P: POST to the endpoint, D: DELETE to url_factory(record)
 * ```
 *
 * @example
 * ```ts
 * const plans$ = provisioner.events$.pipe(
 *   ofService('rdm_record'),
 *   toRequests(config, { resolveOwner: ({ record }) => users.ownerOf(record) }),
 * );
 * ```
 */
export function toRequests<R = AppRecord>(
  config: ProvisionerConfig<R>,
  options: ToRequestsOptions<R> = {},
): OperatorFunction<ServiceEvent<R>, RequestPlan<R>> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const planOptions = { payloadTimeoutMs: options.payloadTimeoutMs ?? DEFAULT_PAYLOAD_TIMEOUT_MS, scheduler, isPublic: options.isPublic };
  const lookUpOwner = ownerLookup(options.resolveOwner, options.ownerTimeoutMs ?? DEFAULT_OWNER_TIMEOUT_MS, scheduler);

  return inKeyOrder((event: ServiceEvent<R>): readonly KeyedValue<RequestPlan<R>>[] => {
    const bindings = endpointsFor(config, event.serviceType, event.method) as readonly Target[];
    if (bindings.length === 0) return [];
    let owner: Eventually<Owner | PlanFailure> | undefined;
    const ownerOf = (): Eventually<Owner | PlanFailure> => (owner ??= lookUpOwner(event));
    return bindings.map((binding) => {
      const failed = (error: unknown): RequestPlan<R> =>
        failedPlan(event, binding.endpoint, planningFailure(configPath(event.serviceType, binding.endpoint, event.method), describeSubject(event), error), scheduler.now());
      let value: Eventually<RequestPlan<R>>;
      try {
        value = planEvent(event, prepareTarget(binding, event.serviceType, event.method), ownerOf, planOptions);
      } catch (error) {
        value = failed(error);
      }
      const key = deliveryKey({ endpoint: binding.endpoint, recordId: event.recordId, draftId: event.draftId, eventId: event.eventId });
      return { key, value, ifNone: () => failed('no plan') };
    });
  });
}
