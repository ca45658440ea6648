// Explicit named exports only: this file is the whole public surface, what docs/ documents for
// users and nothing else (api/remote-api-provisioner.api.md is its golden report; internals
// are imported by tests from their src/ files).

// --- events (ground floor: types and method tables)
export {
  SERVICE_TYPES,
  ANY_METHODS,
  RDM_RECORD_METHODS,
  COMMUNITY_METHODS,
  METHOD_TABLES,
  methodsOf,
  isMethodOf,
  REQUIRED_ARGUMENTS,
  requiredArgumentsOf,
} from './events/methodTables.js';
export type { ServiceType, ArgumentName, MethodOf, AnyMethod, ArgumentsOf, RequiredArgumentOf } from './events/methodTables.js';
export { SYSTEM_IDENTITY, SYSTEM_OWNER, isSystemIdentity } from './events/identity.js';
export type { Identity, Owner } from './events/identity.js';
export type { UnitOfWork } from './events/unitOfWork.js';
export type { JsonValue, JsonArray, JsonObject } from './events/json.js';
export type {
  AppRecord,
  ArgumentTypes,
  MethodArgs,
  EventCause,
  ServiceEventOf,
  ServiceEvent,
  TraceCarrier,
} from './events/serviceEvent.js';
export { HTTP_METHODS } from './events/request.js';
export type { HttpMethod, RetryOptions, RequestDescriptor, ProvisionerResponse } from './events/request.js';
export type { HttpEffect } from './events/httpEffect.js';
export type {
  FailureReason,
  SkipReason,
  DeliveredOutcome,
  FailedOutcome,
  SkippedOutcome,
  DeliveryOutcome,
  RequestPlan,
  CallbackOutcome,
} from './events/outcomes.js';
export type { DeliveryAttempt } from './events/deliveryAttempt.js';
export type { CircuitState, EndpointStatus } from './events/endpointStatus.js';
export { DEFAULT_MAX_DELIVERY_AGE_MS } from './delivery/endpointPolicy.js';
export type { CircuitBreakerOptions, EndpointLimits } from './delivery/endpointPolicy.js';

// --- errors
export {
  ProvisionerError,
  ConfigError,
  HttpStatusError,
  RedirectError,
  NetworkError,
  TimeoutError,
  PayloadError,
  UrlError,
  OwnerError,
  OverflowError,
  ClosedError,
  ExpiredError,
  CallbackError,
  isProvisionerError,
  isConfigError,
  isHttpStatusError,
  isRedirectError,
  isNetworkError,
  isTimeoutError,
  isPayloadError,
  isUrlError,
  isOwnerError,
  isOverflowError,
  isClosedError,
  isExpiredError,
  isCallbackError,
} from './errors.js';

// --- config
export { EVENT_CONFIG_KEYS } from './config/types.js';
export type {
  PayloadArgs,
  CallbackMeta,
  CallbackResult,
  EventConfig,
  EndpointConfig,
  ServiceConfig,
  ProvisionerConfig,
} from './config/types.js';
export { decodeConfig, parseConfig } from './config/decodeConfig.js';
export { defineConfig } from './config/defineConfig.js';

// --- hooks, unit of work, bus
export { createHooks } from './hooks/createHooks.js';
export type { ServiceHooks, HookOptions, HookRejection } from './hooks/createHooks.js';
export { createUnitOfWork, isUnitOfWork } from './hooks/unitOfWork.js';
export type { ManagedUnitOfWork, UnitOfWorkState } from './hooks/unitOfWork.js';
export { createExecutorUnitOfWork, createPgUnitOfWork, isOutboxUnitOfWork } from './hooks/outboxUnitOfWork.js';
export type { OutboxUnitOfWork, PgUnitOfWork, SqlExecutor } from './hooks/outboxUnitOfWork.js';
export { createEventBus } from './bus/eventBus.js';
export type { EventBus, BusEvents } from './bus/eventBus.js';

// --- operators
export { ofService } from './operators/ofService.js';
export type { OfServiceEvent } from './operators/ofService.js';
export { ofMethod } from './operators/ofMethod.js';
export type { OfMethodEvent } from './operators/ofMethod.js';
export { toRequests } from './operators/toRequests.js';
export { DEFAULT_OWNER_TIMEOUT_MS } from './planning/owner.js';
export { DEFAULT_PAYLOAD_TIMEOUT_MS } from './planning/payload.js';
export type { ToRequestsOptions } from './operators/toRequests.js';
export type { ResolveOwner, ResolveOwnerInput } from './planning/owner.js';
export type { IsPublic, IsPublicInput } from './planning/visibility.js';
export { deliver } from './operators/deliver.js';
export type { DeliverOptions } from './operators/deliver.js';
export { runCallbacks, DEFAULT_CALLBACK_TIMEOUT_MS } from './operators/runCallbacks.js';
export type { RunCallbacksOptions } from './operators/runCallbacks.js';

// --- delivery
export { createKyEffect } from './delivery/kyEffect.js';
export type { KyClientOptions, KyEffect, KyEffectOptions } from './delivery/kyEffect.js';
export { sendWithRetry } from './delivery/sendWithRetry.js';
export type { SendResult, SendOptions, AttemptInfo } from './delivery/sendWithRetry.js';
export { DEFAULT_RETRY_OPTIONS } from './delivery/retryPolicy.js';
export type { ResolvedRetryOptions } from './delivery/retryPolicy.js';
export { signRequest, withSigning } from './delivery/signing.js';
export { recordUrl } from './util/urls.js';

// --- stores
export { createMemoryStore } from './store/memoryStore.js';
export type { MemoryStoreOptions } from './store/memoryStore.js';
export { createSqliteStore, sqliteStoreAvailability } from './store/sqliteStore.js';
export type { SqliteStoreOptions } from './store/sqliteStore.js';
export { createRedisStore } from './store/redisStore.js';
export type { RedisStoreOptions } from './store/redisStore.js';
export { createPostgresStore } from './store/postgres/postgresStore.js';
export type { PostgresStoreOptions } from './store/postgres/postgresStore.js';
export type { PostgresPool } from './store/postgres/postgresStoreOptions.js';
export { deliveryIdOf } from './events/deliveryId.js';
export type {
  DeliveryStore,
  JournalEntry,
  JournalResult,
  StoredDelivery,
  AttemptInput,
  AttemptResult,
  DeliveryHandlers,
  StoreOutcome,
  DeadLetter,
  DeadLetterFilter,
  StoreCloseOptions,
  StoreStats,
} from './store/deliveryStore.js';
export { DEFAULT_BACKFILL_CONCURRENCY } from './pipeline/backfill.js';
export type { BackfillOptions, BackfillProgress } from './pipeline/backfill.js';

// --- provisioner
export { createProvisioner, DEFAULT_CLOSE_TIMEOUT_MS } from './provisioner.js';
export type { Provisioner, ProvisionerOptions, ProvisionerHttpOptions, ProvisionerStats, CloseOptions } from './provisioner.js';
