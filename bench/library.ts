/**
 * The library as the benchmark drives it, loaded from the built package. The pieces land one
 * by one; a section whose piece is not built yet prints "not built" instead of failing.
 */
import type { Observable } from 'rxjs';
import type {
  DeliveryOutcome,
  HttpEffect,
  Identity,
  JsonObject,
  ProvisionerConfig,
  RetryOptions,
  UnitOfWork,
} from 'remote-api-provisioner';

/** What a hook method receives, loosely typed: the bench calls methods by name. */
export type HookArgs = {
  readonly identity: Identity;
  readonly record?: JsonObject;
  readonly draft?: JsonObject;
  readonly data?: JsonObject;
  readonly uow?: UnitOfWork;
};
export type HookMethod = (args: HookArgs) => unknown;

/** The part of a provisioner the bench uses (DESIGN.md, "Public API"). */
export type BenchProvisioner = {
  hooks(service: 'rdm_record'): Readonly<Record<string, HookMethod>>;
  readonly outcomes$: Observable<DeliveryOutcome>;
  drain(): Promise<void>;
  close(): Promise<void>;
};

export type BenchHttpOptions = {
  readonly concurrency?: number;
  readonly maxQueue?: number;
  readonly timeoutMs?: number;
  readonly retry?: RetryOptions;
  readonly effect?: HttpEffect;
  /** ky's `hooks` and `headers` for every delivery of the default effect. */
  readonly ky?: { readonly hooks?: { readonly beforeRequest?: readonly ((state: { request: Request }) => unknown)[] } };
};

/** A delivery store, opaque to the bench: it is only handed to `createProvisioner`. */
export type BenchStore = { readonly kind: string };

export type CreateProvisioner = (options: { events: ProvisionerConfig; http?: BenchHttpOptions; store?: BenchStore }) => BenchProvisioner;

/** `sqliteStoreAvailability()`: whether better-sqlite3 loads here, and why not. */
export type SqliteStoreAvailability = () => { readonly available: boolean; readonly reason: string | null };
export type CreateSqliteStore = (options: { readonly path: string }) => BenchStore;
export type CreateRedisStore = (options: {
  readonly url?: string;
  readonly prefix?: string;
  readonly name?: string;
  readonly maxQueue?: number;
  readonly connectTimeoutMs?: number;
  readonly drainPollMs?: number;
}) => Promise<BenchStore>;

/** `createHooks(service, emit, options)`: the hooks alone, emitting wherever they are told. */
export type CreateHooks = (
  service: 'rdm_record',
  emit: (event: unknown) => void,
  options?: { readonly isConfigured?: (method: string) => boolean },
) => Readonly<Record<string, HookMethod>>;

/** `createEventBus()`: the mitt emitter feeding a Subject. */
export type CreateEventBus = () => { emit(event: unknown): void; complete(): void };

/** `createKyEffect(options)`: the default effect on its own. */
export type CreateKyEffect = (options?: { readonly timeoutMs?: number; readonly connections?: number }) => HttpEffect & {
  close(): Promise<void>;
};

/** `createPostgresStore(options)` with the app's pool. */
export type CreatePostgresStore = (options: { readonly pool: unknown; readonly schema?: string; readonly name?: string }) => Promise<BenchStore>;
/** `createPgUnitOfWork(client)`: a unit of work in the app's open transaction. */
export type CreatePgUnitOfWork = (client: { query(text: string, values?: readonly unknown[]): Promise<{ readonly rows: readonly unknown[] }> }) => UnitOfWork & {
  commit(): Promise<void>;
};

export type Library = {
  readonly createProvisioner: CreateProvisioner | undefined;
  readonly createKyEffect: CreateKyEffect | undefined;
  readonly createHooks: CreateHooks | undefined;
  readonly createEventBus: CreateEventBus | undefined;
  readonly sqliteStoreAvailability: SqliteStoreAvailability | undefined;
  readonly createSqliteStore: CreateSqliteStore | undefined;
  readonly createRedisStore: CreateRedisStore | undefined;
  readonly createPostgresStore: CreatePostgresStore | undefined;
  readonly createPgUnitOfWork: CreatePgUnitOfWork | undefined;
};

/** Loads the built package and picks the entry points that exist so far. */
export async function loadLibrary(from = 'remote-api-provisioner'): Promise<Library> {
  const exported = (await import(from)) as unknown as Record<string, unknown>;
  const pick = <T>(name: string): T | undefined =>
    typeof exported[name] === 'function' ? (exported[name] as T) : undefined;
  return {
    createProvisioner: pick<CreateProvisioner>('createProvisioner'),
    createKyEffect: pick<CreateKyEffect>('createKyEffect'),
    createHooks: pick<CreateHooks>('createHooks'),
    createEventBus: pick<CreateEventBus>('createEventBus'),
    sqliteStoreAvailability: pick<SqliteStoreAvailability>('sqliteStoreAvailability'),
    createSqliteStore: pick<CreateSqliteStore>('createSqliteStore'),
    createRedisStore: pick<CreateRedisStore>('createRedisStore'),
    createPostgresStore: pick<CreatePostgresStore>('createPostgresStore'),
    createPgUnitOfWork: pick<CreatePgUnitOfWork>('createPgUnitOfWork'),
  };
}

/** The reason printed for a measurement whose library piece is not built yet. */
export const NOT_BUILT = 'not built yet: createProvisioner is not exported by dist/';
/** The same, for the hooks alone. */
export const HOOKS_NOT_BUILT = 'not built yet: createHooks / createEventBus are not exported by dist/';
/** The same, for the durable stores. */
export const STORES_NOT_BUILT = 'not built yet: createSqliteStore / createRedisStore are not exported by dist/';
