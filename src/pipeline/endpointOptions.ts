/**
 * The checks of `http.endpoints` and `http.circuitBreaker`.
 * @internal
 * @packageDocumentation
 */
import { editDistance, suggest } from '../config/suggest.js';
import type { ProvisionerConfig } from '../config/types.js';
import type { CircuitBreakerOptions, EndpointLimits } from '../delivery/endpointPolicy.js';
import { describeValue } from '../util/describeValue.js';
import { redactUrl } from '../util/redact.js';

const LIMIT_KEYS: readonly string[] = ['ratePerSecond', 'concurrency'] satisfies readonly (keyof EndpointLimits)[];
const BREAKER_KEYS: readonly string[] = ['failureThreshold', 'windowMs', 'minCooldownMs', 'maxCooldownMs'] satisfies readonly (keyof CircuitBreakerOptions)[];
const INTEGER_KEYS = new Set(['concurrency', 'failureThreshold']);

/** What is wrong with the endpoint options: keys that are no endpoint of the config, unknown limits, numbers out of range. @internal */
export function endpointOptionIssues<R>(
  config: ProvisionerConfig<R>,
  http: { readonly endpoints?: Readonly<Record<string, EndpointLimits>>; readonly circuitBreaker?: CircuitBreakerOptions | false },
): string[] {
  const issues: string[] = [];
  const known = [...new Set([...Object.keys(config.rdm_record ?? {}), ...Object.keys(config.community ?? {})])];
  const numbers = (path: string, value: unknown, keys: readonly string[]): void => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push(`${path}: expected an object { ${keys.join(', ')} }, got ${describeValue(value)}`);
      return;
    }
    for (const [key, number] of Object.entries(value)) {
      if (!keys.includes(key)) {
        const near = suggest(key, keys);
        issues.push(`${path}.${key}: expected one of ${keys.join(', ')}, got an unknown key${near === undefined ? '' : ` (did you mean "${near}"?)`}`);
      } else if (number !== undefined && (typeof number !== 'number' || !(number > 0) || !Number.isFinite(number) || (INTEGER_KEYS.has(key) && !Number.isInteger(number)))) {
        issues.push(`${path}.${key}: expected a positive ${INTEGER_KEYS.has(key) ? 'integer' : 'number'}, got ${describeValue(number)}`);
      }
    }
  };
  const endpoints = http.endpoints;
  if (endpoints !== undefined) {
    if (typeof endpoints !== 'object' || endpoints === null || Array.isArray(endpoints)) {
      issues.push(`http.endpoints: expected an object of endpoint keys to { ratePerSecond?, concurrency? }, got ${describeValue(endpoints)}`);
    } else {
      for (const [endpoint, limits] of Object.entries(endpoints)) {
        const path = `http.endpoints[${JSON.stringify(redactUrl(endpoint))}]`;
        if (!known.includes(endpoint)) {
          const near = nearestEndpoint(endpoint, known);
          issues.push(`${path}: expected an endpoint of the config, got one it does not have${near === undefined ? '' : ` (did you mean ${JSON.stringify(redactUrl(near))}?)`}`);
        }
        numbers(path, limits, LIMIT_KEYS);
      }
    }
  }
  const breaker = http.circuitBreaker;
  if (breaker !== undefined && breaker !== false) numbers('http.circuitBreaker', breaker, BREAKER_KEYS);
  return issues;
}

/** The config endpoint closest to a mistyped one: a few characters off, as a typo is. */
function nearestEndpoint(input: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(3, Math.floor(input.length / 10)) + 1;
  for (const candidate of known) {
    const distance = editDistance(input, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
