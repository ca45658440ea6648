/**
 * A value now, or one to come: plans are built synchronously unless the app's functions
 * (payload, `resolveOwner`) are async, and the synchronous case pays for no Observable.
 * @internal
 * @packageDocumentation
 */
import { isObservable, mergeMap, of, type Observable } from 'rxjs';

/**
 * A value now, or an Observable of the one value to come.
 *
 * @example
 * ```ts
 * const owner: Eventually<Owner> = isSystemIdentity(identity) ? SYSTEM_OWNER : from(lookup(identity));
 * ```
 * @internal
 */
export type Eventually<T> = T | Observable<T>;

/**
 * Applies `next` to a value now, or to the value to come. (Not named `then`: a module
 * exporting `then` is itself a thenable to `await import()`.)
 *
 * @example
 * ```ts
 * andThen(ownerOf(), (owner) => ({ ...args, owner }));
 * ```
 * @internal
 */
export function andThen<T, U>(value: Eventually<T>, next: (value: T) => Eventually<U>): Eventually<U> {
  if (!isObservable(value)) return next(value);
  return value.pipe(
    mergeMap((resolved) => {
      const result = next(resolved);
      return isObservable(result) ? result : of(result);
    }),
  );
}

/**
 * Whether a value returned by the app is a Promise (or any thenable).
 *
 * @example
 * ```ts
 * isPromiseLike(Promise.resolve(1)); // true
 * ```
 * @internal
 */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
