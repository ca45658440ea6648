import type { EventConfig, ProvisionerConfig, ServiceType } from '../index.js';
import type { CircuitBreakerOptions, EndpointLimits } from '../delivery/endpointPolicy.js';
import { DEFAULT_CIRCUIT_BREAKER } from '../delivery/endpointPolicy.js';
import { DEFAULT_CONCURRENCY } from '../delivery/keyedQueue.js';
import { DEFAULT_RETRY_OPTIONS } from '../delivery/retryPolicy.js';
import type { RetryOptions } from '../events/request.js';
import { redactUrl } from '../util/redact.js';
import { isSecretName } from '../util/secretNames.js';
import { configExportOf, loadModule, noConfigMessage } from './configModule.js';
import { plural, type Output } from './output.js';

const MASK = '***';

/** What `check` reads of a module's `http` export. */
type EndpointOptions = {
  readonly concurrency?: number;
  readonly retry?: RetryOptions;
  readonly endpoints?: Readonly<Record<string, EndpointLimits>>;
  readonly circuitBreaker?: CircuitBreakerOptions | false;
};

/**
 * `check <config module>`: loads the module, validates its config and its `resolveOwner`,
 * `signing` and `http` exports as `createProvisioner` would, and prints every issue
 * (exit 1) or a summary of what is sent where, with each endpoint's effective limits (exit 0).
 */
export async function check(modulePath: string, output: Output): Promise<number> {
  const exports = await loadModule(modulePath, output);
  if (exports === null) return 1;
  const exportName = configExportOf(exports);
  if (exportName === undefined) {
    output.err(noConfigMessage(modulePath, exports));
    return 1;
  }

  // Loaded here, not at the top: usage errors and --help answer without loading the library.
  const { SERVICE_TYPES } = await import('../index.js');
  const { provisionerIssues } = await import('../pipeline/options.js');
  const { provisionerOptionsOf } = await import('./durableCommands.js');
  const options = provisionerOptionsOf(exports, exportName);
  const http = httpOptionsOf(exports['http']);
  // As createProvisioner checks them: the config, then the module's resolveOwner, signing and http exports.
  // A module without resolveOwner leaves it to the app's code: only an exported one is checked.
  const checked = options.resolveOwner === undefined ? { ...options, resolveOwner: (() => null) as never } : options;
  const { config, issues } = provisionerIssues(checked);
  if (config === null || issues.length > 0) {
    output.out(`✗ ${modulePath}: the config is invalid (${issues.length} ${issues.length === 1 ? 'issue' : 'issues'})`);
    for (const issue of issues) output.out(`  - ${issue}`);
    return 1;
  }
  for (const line of summarize(modulePath, exportName, config, SERVICE_TYPES, http)) output.out(line);
  return 0;
}

/** The module's `http` export (the provisioner's `http` options), where it has one. */
function httpOptionsOf(value: unknown): EndpointOptions {
  return typeof value === 'object' && value !== null ? (value as EndpointOptions) : {};
}

/** The readable summary of a valid config: one table per endpoint, one row per method. */
function summarize(modulePath: string, exportName: string, config: ProvisionerConfig, serviceTypes: readonly ServiceType[], http: EndpointOptions): string[] {
  const services = serviceTypes.filter((service) => config[service] !== undefined);
  let endpoints = 0;
  let events = 0;
  let needsOwner = false;
  const body: string[] = [];
  for (const service of services) {
    body.push('', service);
    const serviceConfig = config[service] as Readonly<Record<string, Readonly<Record<string, EventConfig | undefined>>>>;
    for (const [endpoint, methods] of Object.entries(serviceConfig)) {
      endpoints += 1;
      body.push(`  ${redactUrl(endpoint)}`, `    limits: ${describeLimits(endpoint, http)}`);
      const rows: string[][] = [['METHOD', 'HTTP', 'PAYLOAD', 'OWNER', 'URL', 'CALLBACK', 'RESTRICTED']];
      const notes: string[] = [];
      for (const [method, eventConfig] of Object.entries(methods)) {
        if (eventConfig === undefined) continue;
        events += 1;
        needsOwner ||= eventConfig.with_record_owner === true;
        rows.push([
          method,
          typeof eventConfig.http_method === 'function' ? describeFunction(eventConfig.http_method, 'http_method') : eventConfig.http_method,
          eventConfig.payload === null
            ? 'none'
            : typeof eventConfig.payload === 'function'
              ? describeFunction(eventConfig.payload, 'payload')
              : `JSON (${plural(Object.keys(eventConfig.payload).length, 'key')})`,
          eventConfig.with_record_owner === true ? 'yes' : 'no',
          eventConfig.url_factory === undefined ? 'endpoint' : describeFunction(eventConfig.url_factory, 'url_factory'),
          eventConfig.callback === undefined ? '-' : describeFunction(eventConfig.callback, 'callback'),
          eventConfig.include_restricted === true ? 'sent' : 'not sent',
        ]);
        const extras = describeExtras(eventConfig);
        if (extras.length > 0) notes.push(`    ${method}: ${extras.join('; ')}`);
      }
      body.push(...table(rows).map((line) => `    ${line}`), ...notes);
    }
  }
  const source = exportName === 'default' ? 'default export' : `\`${exportName}\` export`;
  return [
    `✓ ${modulePath} (${source}): a valid config with ${plural(services.length, 'service')}, ${plural(endpoints, 'endpoint')}, ${plural(events, 'event config')}`,
    ...body,
    '',
    'URL "endpoint": the endpoint itself is the request URL. RESTRICTED "not sent": events of records',
    'that are not positively public (access.record, or access.visibility for communities, is not "public"',
    'or cannot be read) are skipped (include_restricted: true sends them; the isPublic option replaces the rule).',
    ...(needsOwner ? ['OWNER "yes": the payload function gets the record owner, so createProvisioner needs a resolveOwner option.'] : []),
  ];
}

/** The effective rate, concurrency, circuit breaker and Retry-After cap of one endpoint. */
function describeLimits(endpoint: string, http: EndpointOptions): string {
  const own = http.endpoints?.[endpoint] ?? {};
  const concurrency = own.concurrency ?? http.concurrency ?? DEFAULT_CONCURRENCY;
  const rate = own.ratePerSecond === undefined ? 'no rate limit' : `${own.ratePerSecond} requests/s (one every ${Math.round(1_000 / own.ratePerSecond)} ms)`;
  const breaker =
    http.circuitBreaker === false
      ? 'no circuit breaker'
      : (({ failureThreshold, windowMs, minCooldownMs, maxCooldownMs }) =>
          `circuit opens after ${failureThreshold} failures in ${windowMs / 1_000} s, probes every ${minCooldownMs / 1_000}–${maxCooldownMs / 1_000} s`)({
          ...DEFAULT_CIRCUIT_BREAKER,
          ...http.circuitBreaker,
        });
  const retryAfter = http.retry?.maxRetryAfterMs ?? DEFAULT_RETRY_OPTIONS.maxRetryAfterMs;
  return `${concurrency} in flight, ${rate}, ${breaker}, Retry-After pauses up to ${retryAfter / 1_000} s`;
}

/** `function` plus its name when the name says more than the config key it sits under. */
function describeFunction(fn: unknown, key: string): string {
  const name = typeof fn === 'function' ? fn.name : '';
  return name === '' || name === key ? 'function' : `function ${name}`;
}

/** The event config's other keys, with every secret masked. */
function describeExtras(eventConfig: EventConfig): string[] {
  const extras: string[] = [];
  if (eventConfig.auth_token !== undefined) extras.push(`Authorization: Bearer ${MASK}`);
  if (eventConfig.headers !== undefined && Object.keys(eventConfig.headers).length > 0) {
    const headers = Object.entries(eventConfig.headers).map(([name, value]) => `${name}: ${isSecretName(name) ? MASK : value}`);
    extras.push(`headers ${headers.join(', ')}`);
  }
  if (eventConfig.retry !== undefined) {
    extras.push(`retry ${Object.entries(eventConfig.retry).map(([name, value]) => `${name} ${String(value)}`).join(', ')}`);
  }
  if (eventConfig.timeout_ms !== undefined) extras.push(`timeout ${eventConfig.timeout_ms} ms`);
  if (eventConfig.coalesce === true) extras.push('coalesce: only the newest waiting delivery of a record is sent');
  if (eventConfig.timing_field !== undefined) {
    extras.push(
      `note: timing_field ${JSON.stringify(eventConfig.timing_field)} is accepted as in the Python original (records whose custom_fields[${JSON.stringify(eventConfig.timing_field)}] is less than 5 s old are skipped as feedback-loop) but is redundant when the write-back runs inside the callback: its events are recognised by async context`,
    );
  }
  if (eventConfig.allowed_origins !== undefined) {
    extras.push(`url_factory may leave the endpoint's origin for ${eventConfig.allowed_origins === true ? 'any origin' : eventConfig.allowed_origins.join(', ')}`);
  }
  return extras;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd());
}
