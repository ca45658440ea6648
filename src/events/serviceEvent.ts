import type { Identity } from './identity.js';
import type { JsonObject } from './json.js';
import type { ArgumentsOf, MethodOf, RequiredArgumentOf, ServiceType } from './methodTables.js';
import type { UnitOfWork } from './unitOfWork.js';

/**
 * The shape of a record as far as the library reads it. Apps keep their own record type and
 * pass it as the `R` type parameter; the library only reads `id`, `access` and `parent` (and
 * `custom_fields` for an event config's `timing_field`).
 *
 * @example
 * ```ts
 * // Your own record type works wherever AppRecord is the default:
 * type Work = { id: string; access: { record: 'public' | 'restricted' }; metadata: { title: string } };
 * const events = defineConfig<Work>({ ... });
 * ```
 */
export type AppRecord = {
  readonly id?: string | number | null;
  readonly access?: { readonly record?: string; readonly visibility?: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
};

/**
 * The type of each argument name, given the app's record type `R`.
 *
 * @example
 * ```ts
 * type DataOf<R> = ArgumentTypes<R>['data']; // JsonObject
 * ```
 */
export type ArgumentTypes<R> = {
  identity: Identity;
  record: R;
  draft: R;
  data: JsonObject;
  errors: readonly unknown[];
  uow: UnitOfWork;
  search: unknown;
  params: Readonly<Record<string, unknown>>;
  old_slug: string;
  slug: string;
};

/**
 * The arguments a service method passes to its components (and the hook receives), typed
 * from the method table: the method's {@link REQUIRED_ARGUMENTS | required arguments}
 * (`identity` and the record, draft or slugs it acts on) must be there; the others may be
 * left out or `null`, as Invenio often passes `None` for them.
 *
 * @example
 * ```ts
 * const args: MethodArgs<'community', 'rename', Community> = { identity, record: community, old_slug: 'romans', slug: 'roman-history' };
 * provisioner.hooks('community').rename(args);
 * ```
 */
export type MethodArgs<S extends ServiceType, M extends MethodOf<S>, R = AppRecord> = {
  readonly [A in RequiredArgumentOf<S, M>]: ArgumentTypes<R>[A];
} & {
  readonly [A in Exclude<ArgumentsOf<S, M>, RequiredArgumentOf<S, M>>]?: ArgumentTypes<R>[A] | null | undefined;
};

/**
 * The provenance of an event emitted while a callback ran: the delivery whose callback wrote
 * back into the app. Used to stop feedback loops.
 *
 * @example
 * ```ts
 * provisioner.events$.subscribe((event) => {
 *   if (event.causedBy !== null) console.info(`${event.method} caused by the callback of delivery ${event.causedBy.deliveryId}`);
 * });
 * ```
 */
export type EventCause = {
  readonly deliveryId: string;
  readonly serviceType: ServiceType;
  readonly serviceMethod: string;
  readonly endpoint: string;
};

/**
 * A propagation carrier: the header-like strings (`traceparent`, `tracestate`, `baggage`...)
 * the app's OpenTelemetry propagator writes for a context; plain strings, so it survives JSON
 * and every store.
 *
 * @example
 * ```ts
 * const carrier: TraceCarrier = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
 * ```
 */
export type TraceCarrier = Readonly<Record<string, string>>;

/**
 * One event of one service method, before the union is taken.
 *
 * @example
 * ```ts
 * const onPublish = (event: ServiceEventOf<'rdm_record', 'publish', Work>) => event.args.draft?.id;
 * ```
 */
export type ServiceEventOf<S extends ServiceType, M extends MethodOf<S>, R = AppRecord> = {
  /** Unique per hook call; delivery ids are derived from it. */
  readonly eventId: string;
  readonly serviceType: S;
  readonly method: M;
  /** A snapshot taken when the hook was called (the `uow` is not part of it). */
  readonly args: Omit<MethodArgs<S, M, R>, 'uow'>;
  /** `record.id` (or `null` when the method has no record, e.g. searches). */
  readonly recordId: string | null;
  /** `draft.id` when the method has a draft. */
  readonly draftId: string | null;
  /** When the hook was called (ms since epoch). */
  readonly emittedAt: number;
  /** Set when the event was emitted inside a provisioner callback. */
  readonly causedBy: EventCause | null;
  /**
   * The trace context active when the hook was called, as the app's OpenTelemetry propagator
   * writes it (`traceparent`...); absent without an SDK or an active span. The delivery's
   * spans are its children, also after a restart (durable stores keep it with the event).
   */
  readonly traceContext?: TraceCarrier;
  /**
   * Set when some arguments could not be copied (a cycle, a throwing getter, a BigInt...):
   * `args` holds what could be, and every delivery of the event fails with reason `payload`.
   * Names paths only, never values.
   */
  readonly snapshotError?: string;
};

/**
 * A typed event for every method of every service: discriminate on `serviceType`, then on
 * `method`, and `args` has that method's documented arguments.
 *
 * @example
 * ```ts
 * provisioner.events$.subscribe((event: ServiceEvent) => {
 *   if (event.serviceType === 'community' && event.method === 'rename') console.info(event.args.old_slug, '→', event.args.slug);
 * });
 * ```
 */
export type ServiceEvent<R = AppRecord> = {
  [S in ServiceType]: { [M in MethodOf<S>]: ServiceEventOf<S, M, R> }[MethodOf<S>];
}[ServiceType];
