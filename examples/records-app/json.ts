import type { JsonObject } from 'remote-api-provisioner';

/** Service data is JSON by construction (it came from a JSON API); this tells the type system
 * so for the `data` argument components receive. */
export function asJsonObject<T extends object>(data: T): JsonObject {
  return data as unknown as JsonObject;
}
