/**
 * The URL rules now live in `src/util/urls.ts`; this re-export is kept while the files of the
 * delivery pipeline and of the ky transport that import it are being rewritten.
 * @internal
 * @packageDocumentation
 */
export { assertHttpUrl, describeUrl, recordUrl, sameOrigin } from '../util/urls.js';
