/**
 * A JSON value, as it is sent on the wire.
 *
 * @example
 * ```ts
 * const title: JsonValue = record.metadata.title; // a string is a JSON value
 * ```
 */
export type JsonValue = string | number | boolean | null | JsonArray | JsonObject;
/**
 * A JSON array.
 *
 * @example
 * ```ts
 * const creators: JsonArray = record.metadata.creators.map((creator) => creator.person_or_org.name);
 * ```
 */
export type JsonArray = readonly JsonValue[];
/**
 * A JSON object: what a `payload` is, and what request bodies are made of.
 *
 * @example
 * ```ts
 * const toDocument = ({ record }: PayloadArgs<'rdm_record', 'publish', Work>): JsonObject => ({
 *   _internal_id: record?.id ?? null,
 *   title: record?.metadata.title ?? '',
 * });
 * ```
 */
export type JsonObject = { readonly [key: string]: JsonValue };
