/**
 * The ordering key now lives in `src/events/deliveryKey.ts`; this re-export is kept while the
 * delivery pipeline and the stores that import it are being rewritten.
 * @internal
 * @packageDocumentation
 */
export { deliveryKey } from '../events/deliveryKey.js';
