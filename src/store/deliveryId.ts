/**
 * Delivery ids now live in `src/events/deliveryId.ts` (planning gives them to requests, below
 * the stores); this re-export is kept while the stores that import it are being rewritten.
 * @internal
 * @packageDocumentation
 */
export { deliveryIdOf, endpointIdOf } from '../events/deliveryId.js';
