/**
 * The package's name and version, for the OpenTelemetry tracer and meter (and anything else
 * that names the library). A test keeps the version equal to package.json's.
 * @internal
 * @packageDocumentation
 */

/** The npm name of this package. @internal */
export const PACKAGE_NAME = 'remote-api-provisioner';

/** The version of this package, as in package.json. @internal */
export const PACKAGE_VERSION = '0.1.0';
