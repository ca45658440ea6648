/**
 * The record owner of an event, for event configs with `with_record_owner`.
 * @internal
 * @packageDocumentation
 */
import { catchError, from, map, of, shareReplay, throwError, timeout, type SchedulerLike } from 'rxjs';
import { OwnerError } from '../errors.js';
import { SYSTEM_OWNER, isSystemIdentity, type Identity, type Owner } from '../events/identity.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { describeFound, messageOf } from '../util/describeValue.js';
import { isPromiseLike, type Eventually } from './eventually.js';
import { PlanFailure } from './planFailure.js';
import { describeSubject } from './subject.js';

/**
 * What `resolveOwner` receives: who ran the method, on which record, in which event.
 *
 * @example
 * ```ts
 * const resolveOwner = ({ record }: ResolveOwnerInput) => users.ownerOf(String(record?.id));
 * ```
 */
export type ResolveOwnerInput<R = AppRecord> = {
  readonly identity: Identity;
  readonly record: R | null;
  readonly event: ServiceEvent<R>;
};

/**
 * The app's lookup of a record's owner, for event configs with `with_record_owner`. It may
 * be async; the system identity never reaches it (its events get {@link SYSTEM_OWNER}).
 *
 * @example
 * ```ts
 * const resolveOwner: ResolveOwner = async ({ record }) => {
 *   const user = await users.find(String(record?.parent?.access?.owned_by?.user));
 *   return { id: user.id, email: user.email, username: user.username };
 * };
 * ```
 */
export type ResolveOwner<R = AppRecord> = (input: ResolveOwnerInput<R>) => Owner | Promise<Owner>;

/**
 * Default of `ToRequestsOptions.ownerTimeoutMs`.
 *
 * @example
 * ```ts
 * toRequests(config, { resolveOwner, ownerTimeoutMs: DEFAULT_OWNER_TIMEOUT_MS / 2 });
 * ```
 */
export const DEFAULT_OWNER_TIMEOUT_MS = 10_000;

/**
 * The owner lookup of one `toRequests`: the system owner for the system identity, else the
 * app's `resolveOwner` (checked, bounded by `timeoutMs`, asked once per event however many
 * endpoints need it), or why there is no owner (reason `owner`).
 *
 * @example
 * ```ts
 * const ownerOf = ownerLookup(options.resolveOwner, 10_000, asyncScheduler);
 * ownerOf(event); // an Owner, a PlanFailure, or an Observable of one
 * ```
 * @internal
 */
export function ownerLookup<R>(
  resolver: ResolveOwner<R> | undefined,
  timeoutMs: number,
  scheduler: SchedulerLike,
): (event: ServiceEvent<R>) => Eventually<Owner | PlanFailure> {
  return (event) => {
    const args = event.args as Readonly<Record<string, unknown>>;
    const identity = args['identity'] as Identity;
    const record = (args['record'] ?? args['draft'] ?? null) as R | null;
    const subject = describeSubject(event);
    if (isSystemIdentity(identity)) return SYSTEM_OWNER;
    if (resolver === undefined) {
      return new PlanFailure('owner', new OwnerError(`Expected a \`resolveOwner\` option to find the owner of ${subject} (with_record_owner), found none`));
    }
    const checkOwner = (owner: unknown): Owner | PlanFailure =>
      isOwner(owner)
        ? owner
        : new PlanFailure('owner', new OwnerError(`Expected \`resolveOwner\` to return an owner object with an \`id\` for ${subject}, got ${describeFound(owner)}`));
    const ownerFailure = (error: unknown): PlanFailure =>
      new PlanFailure('owner', error instanceof OwnerError ? error : new OwnerError(`\`resolveOwner\` failed for ${subject}: ${messageOf(error)}`, { cause: error }));
    let owner: unknown;
    try {
      owner = resolver({ identity, record, event });
    } catch (error) {
      return ownerFailure(error);
    }
    if (!isPromiseLike(owner)) return checkOwner(owner);
    return from(owner).pipe(
      timeout({
        first: timeoutMs,
        scheduler,
        with: () => throwError(() => new OwnerError(`Expected \`resolveOwner\` to settle within ${timeoutMs} ms for ${subject}, it did not`)),
      }),
      map(checkOwner),
      catchError((error: unknown) => of(ownerFailure(error))),
      // Several endpoints of one event wait for the same owner: ask once.
      shareReplay({ bufferSize: 1, refCount: false }),
    );
  };
}

function isOwner(value: unknown): value is Owner {
  return typeof value === 'object' && value !== null && 'id' in value;
}
