/** A JSON value, as it is sent on the wire. */
export type JsonValue = string | number | boolean | null | JsonArray | JsonObject;
/** A JSON array. */
export type JsonArray = readonly JsonValue[];
/** A JSON object: what a `payload` is, and what request bodies are made of. */
export type JsonObject = { readonly [key: string]: JsonValue };
