import type { AppRecord } from '../events/serviceEvent.js';
import type { ProvisionerConfig } from './types.js';

/**
 * Returns its argument unchanged; exists for its types. Inside it, each method's event
 * config is typed by the service's method table: `payload`, `http_method` and
 * `url_factory` functions get that method's arguments (with `owner`), and a method the
 * service does not have is a compile error. Pass your record type as `R`.
 * Validation happens in {@link parseConfig} / `createProvisioner`, not here.
 *
 * @example
 * ```ts
 * const events = defineConfig<MyRecord>({
 *   rdm_record: {
 *     'https://search.example.org/api/v1/documents': {
 *       publish: { http_method: 'POST', with_record_owner: true, payload: ({ record, owner }) => ({ id: record?.id ?? null, owner: owner?.username ?? null }) },
 *       delete_record: { http_method: 'DELETE', payload: null },
 *     },
 *   },
 * });
 * ```
 */
export function defineConfig<R = AppRecord>(config: ProvisionerConfig<R>): ProvisionerConfig<R> {
  return config;
}
