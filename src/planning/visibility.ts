/**
 * Whether an event's record may be sent: the original's visibility rule, or the app's own.
 * @packageDocumentation
 */
import { PayloadError } from '../errors.js';
import type { ServiceType } from '../events/methodTables.js';
import type { AppRecord, ServiceEvent } from '../events/serviceEvent.js';
import { describeFound, describeKind, messageOf } from '../util/describeValue.js';
import { PlanFailure } from './planFailure.js';

/**
 * What `isPublic` receives: the service and the event's record and draft (`null` when the
 * method did not pass one).
 *
 * @example
 * ```ts
 * const isPublic = ({ record, draft }: IsPublicInput<Work>) => (record ?? draft)?.visibility === 'open';
 * ```
 */
export type IsPublicInput<R = AppRecord> = {
  readonly serviceType: ServiceType;
  readonly record: R | null;
  readonly draft: R | null;
};

/**
 * The app's own visibility rule: `true` sends the event, anything else skips it (reason
 * `restricted`). It replaces the built-in rule (`access.record` / `access.visibility` must be
 * `"public"`); it is not asked for events that carry no record and no draft.
 *
 * @example
 * ```ts
 * const isPublic: IsPublic<Work> = ({ serviceType, record, draft }) =>
 *   serviceType === 'community' ? record?.listed === true : [record, draft].some((r) => r?.state === 'published-open');
 * createProvisioner({ events, isPublic });
 * ```
 */
export type IsPublic<R = AppRecord> = (input: IsPublicInput<R>) => boolean;

/**
 * The verdict on an event: `public` (send), `restricted` with the sentence that says why
 * (skip), or a failure when the app's `isPublic` threw or did not answer with a boolean.
 *
 * @example
 * ```ts
 * const verdict: Visibility = { kind: 'restricted', detail: 'record.access.record is "restricted", not "public"' };
 * ```
 * @internal
 */
export type Visibility = { readonly kind: 'public' } | { readonly kind: 'restricted'; readonly detail: string } | PlanFailure;

const PUBLIC: Visibility = { kind: 'public' };

const HOW_TO_CONFIGURE =
  'set include_restricted: true on the event config to send it anyway, or pass an isPublic function to createProvisioner if your records keep their visibility elsewhere';

/**
 * The visibility of an event's record. Events without a record and a draft (searches) carry
 * nothing of a record, so they are public. Otherwise the app's `isPublic` decides, or the
 * original's rule: an rdm_record event is public when its record's or its draft's
 * `access.record` is `"public"`, a community event when its `access.visibility` is; a record
 * whose field cannot be read is not public (fail closed).
 *
 * @example
 * ```ts
 * const verdict = visibilityOf(event, options.isPublic, path);
 * if (verdict.kind === 'restricted') return skippedPlan(event, endpoint, 'restricted', now, verdict.detail);
 * ```
 * @internal
 */
export function visibilityOf<R>(event: ServiceEvent<R>, isPublic: IsPublic<R> | undefined, path: string): Visibility {
  const args = event.args as Readonly<Record<string, unknown>>;
  const record = (args['record'] ?? null) as R | null;
  const draft = (args['draft'] ?? null) as R | null;
  if (record === null && draft === null) return PUBLIC;
  return isPublic === undefined ? builtInVisibility(event.serviceType, record, draft) : appVisibility(isPublic, { serviceType: event.serviceType, record, draft }, path);
}

function appVisibility<R>(isPublic: IsPublic<R>, input: IsPublicInput<R>, path: string): Visibility {
  let answer: unknown;
  try {
    answer = isPublic(input);
  } catch (error) {
    return new PlanFailure('payload', new PayloadError(`The isPublic option threw for ${path}, so nothing was sent: ${messageOf(error)}`, { cause: error }));
  }
  if (answer === true) return PUBLIC;
  if (answer === false) return { kind: 'restricted', detail: 'the isPublic option returned false' };
  return new PlanFailure('payload', new PayloadError(`Expected the isPublic option to return a boolean for ${path}, got ${describeFound(answer)}; nothing was sent`));
}

function builtInVisibility(serviceType: ServiceType, record: unknown, draft: unknown): Visibility {
  const field = serviceType === 'community' ? 'visibility' : 'record';
  const noun = serviceType === 'community' ? 'community' : 'record';
  const found: string[] = [];
  for (const [name, value] of [[noun, record], ['draft', draft]] as const) {
    if (value === null) continue;
    const level = levelOf(value, field);
    if (level.kind === 'read' && level.value === 'public') return PUBLIC;
    found.push(level.kind === 'read' ? `${name}.access.${field} is ${JSON.stringify(level.value)}` : `${name} has ${level.missing}`);
  }
  const unreadable = found.every((text) => text.includes(' has '));
  return {
    kind: 'restricted',
    detail: unreadable
      ? `its visibility cannot be read (${found.join(', ')}; expected access.${field} to be "public"): ${HOW_TO_CONFIGURE}`
      : `${found.join(', ')}, not "public"`,
  };
}

type Level = { readonly kind: 'read'; readonly value: string } | { readonly kind: 'missing'; readonly missing: string };

/** `access.<field>` of a record, or which part of that path is missing. */
function levelOf(value: unknown, field: 'record' | 'visibility'): Level {
  if (typeof value !== 'object' || value === null) return { kind: 'missing', missing: `no fields (it is ${describeKind(value)})` };
  const access = (value as { readonly access?: unknown }).access;
  if (typeof access !== 'object' || access === null) return { kind: 'missing', missing: 'no access field' };
  const level = (access as Readonly<Record<string, unknown>>)[field];
  if (typeof level !== 'string') return { kind: 'missing', missing: level === undefined ? `no access.${field} field` : `access.${field} that is ${describeFound(level)}, not a string` };
  return { kind: 'read', value: level };
}
