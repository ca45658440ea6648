/**
 * The URL of a request: the endpoint, or what the config's `url_factory` returns, held to the
 * endpoint's origin unless `allowed_origins` says otherwise.
 * @internal
 * @packageDocumentation
 */
import { UrlError } from '../errors.js';
import { messageOf } from '../util/describeValue.js';
import { assertHttpUrl, sameOrigin } from '../util/urls.js';
import { PlanFailure } from './planFailure.js';
import { asUrlError, type PreparedTarget } from './target.js';

/**
 * The URL of the request for a target and the call's arguments, or why there is none
 * (reason `url`).
 *
 * @example
 * ```ts
 * requestUrl(target, { record }, 'record q1'); // 'https://search.example.org/api/v1/documents/q1'
 * ```
 * @internal
 */
export function requestUrl(target: PreparedTarget, args: Readonly<Record<string, unknown>>, subject: string): string | PlanFailure {
  const { endpoint, eventConfig, path, endpointUrl } = target;
  if (endpointUrl instanceof UrlError) return new PlanFailure('url', endpointUrl);
  const factory = eventConfig.url_factory as ((record: unknown, args: Readonly<Record<string, unknown>>) => unknown) | undefined;
  if (factory === undefined) return endpoint;

  let produced: unknown;
  try {
    produced = factory(args['record'], args);
  } catch (error) {
    return new PlanFailure('url', new UrlError(`The url_factory of ${path} threw for ${subject}: ${messageOf(error)}`, { cause: error }));
  }
  let url: URL;
  try {
    url = assertHttpUrl(produced, `the URL returned by the url_factory of ${path} for ${subject}`);
  } catch (error) {
    return new PlanFailure('url', asUrlError(error));
  }
  const allowed = eventConfig.allowed_origins;
  if (!sameOrigin(url, endpointUrl) && allowed !== true && !(allowed ?? []).includes(url.origin)) {
    return new PlanFailure(
      'url',
      new UrlError(
        `Expected the url_factory URL of ${path} to have the endpoint's origin ${endpointUrl.origin} for ${subject}, got ${url.origin} (list it in \`allowed_origins\` to allow it)`,
      ),
    );
  }
  return typeof produced === 'string' ? produced : url.href;
}
