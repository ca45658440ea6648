/**
 * The plan of one event for one endpoint: skipped, failed, or a request ready to send.
 * @internal
 * @packageDocumentation
 */
import { catchError, isObservable, map, of, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { OwnerError, PayloadError } from '../errors.js';
import type { Owner } from '../events/identity.js';
import type { JsonObject } from '../events/json.js';
import type { RequestPlan } from '../events/outcomes.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { logger } from '../util/log.js';
import { buildRequest } from './buildRequest.js';
import { andThen, type Eventually } from './eventually.js';
import { buildPayload } from './payload.js';
import { PlanFailure, failedPlan, isPlanFailure, planningFailure, skippedPlan } from './planFailure.js';
import { describeSubject } from './subject.js';
import type { PreparedTarget } from './target.js';
import { recentWriteBack } from './timingField.js';
import { visibilityOf, type IsPublic } from './visibility.js';

const log = logger('requests');

type LooseArgs = Readonly<Record<string, unknown>>;

/**
 * What planning one event needs besides the event and its target.
 * @internal
 */
export type PlanEventOptions<R = unknown> = {
  readonly payloadTimeoutMs: number;
  readonly scheduler: SchedulerLike;
  /** The app's visibility rule; the original's (`access.record` / `access.visibility` is `"public"`) without it. */
  readonly isPublic?: IsPublic<R> | undefined;
};

/**
 * The plan of an event for a target: `skipped` when the event was caused by this endpoint's
 * own callback or, with `timing_field`, was written less than 5 s ago (`feedback-loop`), or
 * when the record is not public by the app's `isPublic` or the original's rule (`restricted`,
 * unless `include_restricted`; a throwing `isPublic` fails it with reason `payload`); `failed` when the hook arguments could not be copied or the owner,
 * payload, method or URL cannot be had; else the request. Synchronous unless the payload function or the owner lookup is async.
 *
 * @example
 * ```ts
 * planEvent(event, prepareTarget(binding, 'rdm_record', 'publish'), () => ownerOf(event), { payloadTimeoutMs, scheduler });
 * ```
 * @internal
 */
export function planEvent<R>(
  event: ServiceEvent<R>,
  target: PreparedTarget,
  ownerOf: () => Eventually<Owner | PlanFailure>,
  options: PlanEventOptions<R>,
): Eventually<RequestPlan<R>> {
  const { payloadTimeoutMs, scheduler, isPublic } = options;
  const { endpoint, eventConfig, path } = target;
  const subject = describeSubject(event);

  const snapshotError = (event as { readonly snapshotError?: string }).snapshotError;
  if (snapshotError !== undefined) {
    return failedPlan(event, endpoint, new PlanFailure('payload', new PayloadError(`Expected the arguments of the hook call to be copyable for ${path} and ${subject}, but copying failed: ${snapshotError}`)), scheduler.now());
  }
  if (event.causedBy !== null && event.causedBy.endpoint === endpoint) {
    log('skip %s for %s: caused by its own callback (delivery %s)', path, subject, event.causedBy.deliveryId);
    return skippedPlan(event, endpoint, 'feedback-loop', scheduler.now(), `caused by the callback of delivery ${event.causedBy.deliveryId} to this endpoint`);
  }
  if (eventConfig.timing_field !== undefined) {
    const recent = recentWriteBack(event, eventConfig.timing_field, scheduler.now());
    if (recent !== null) {
      log('skip %s for %s: %s', path, subject, recent);
      return skippedPlan(event, endpoint, 'feedback-loop', scheduler.now(), `${recent}: taken for a callback's write-back`);
    }
  }
  if (eventConfig.include_restricted !== true) {
    const visibility = visibilityOf(event, isPublic, path);
    if (isPlanFailure(visibility)) return failedPlan(event, endpoint, visibility, scheduler.now());
    if (visibility.kind === 'restricted') {
      log('skip %s for %s: not public', path, subject);
      return skippedPlan(event, endpoint, 'restricted', scheduler.now(), `Not sent to ${path}: ${subject} is not public: ${visibility.detail}`);
    }
  }

  /** The plan once the payload is known: the request, or why there is none. */
  const planOf = (args: LooseArgs, payload: JsonObject | null | PlanFailure): RequestPlan<R> => {
    const request = isPlanFailure(payload) ? payload : buildRequest(event, target, args, payload, subject);
    return isPlanFailure(request) ? failedPlan(event, endpoint, request, scheduler.now()) : { kind: 'request', event, request, acceptedAt: event.emittedAt };
  };
  const failedOnError: OperatorFunction<RequestPlan<R>, RequestPlan<R>> = catchError((error: unknown) => of(failedPlan(event, endpoint, planningFailure(path, subject, error), scheduler.now())));

  const args = event.args as LooseArgs;
  if (eventConfig.with_record_owner !== true) {
    // The usual case, without closures: everything is at hand unless the payload function is async.
    const payload = buildPayload(eventConfig, args, path, subject, payloadTimeoutMs, scheduler);
    if (!isObservable(payload)) return planOf(args, payload);
    return payload.pipe(
      map((resolved) => planOf(args, resolved)),
      failedOnError,
    );
  }
  const callArgs = andThen(ownerOf(), (owner): LooseArgs | PlanFailure =>
    isPlanFailure(owner) ? new PlanFailure('owner', new OwnerError(`The owner for ${path} could not be had: ${owner.error.message}`, { cause: owner.error })) : { ...args, owner },
  );
  const plan = andThen(callArgs, (argsToUse): Eventually<RequestPlan<R>> => {
    if (isPlanFailure(argsToUse)) return failedPlan(event, endpoint, argsToUse, scheduler.now());
    return andThen(buildPayload(eventConfig, argsToUse, path, subject, payloadTimeoutMs, scheduler), (payload) => planOf(argsToUse, payload));
  });
  return isObservable(plan) ? plan.pipe(failedOnError) : plan;
}
