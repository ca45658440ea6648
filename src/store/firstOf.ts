import { Observable, from, type ObservableInput, type Subscription } from 'rxjs';

/** What {@link firstOf} hands on: the first value, or why there was none. @internal */
export type First<T> = { readonly kind: 'value'; readonly value: T } | { readonly kind: 'error'; readonly error: unknown };

/**
 * An Observable of one value known when it is made (a plan reached without waiting):
 * {@link firstOf} hands the value on without subscribing; anyone else sees `of(value)`.
 *
 * @example
 * ```ts
 * const plan = (delivery) => new Immediate(skippedPlanOf(delivery));
 * ```
 * @internal
 */
export class Immediate<T> extends Observable<T> {
  readonly value: T;

  constructor(value: T) {
    super((subscriber) => {
      subscriber.next(value);
      subscriber.complete();
    });
    this.value = value;
  }
}

/**
 * Subscribes to what a store handler returned (an Observable or a Promise) and hands on its
 * first value, its error, or an error when it completes without a value; once, and
 * synchronously when the handler answers synchronously (virtual time in marble tests). A
 * handler that throws instead of returning is an error too. Unsubscribing the result
 * abandons the handler (aborting an Observable's request).
 *
 * @example
 * ```ts
 * const running = firstOf(() => handlers.attempt(input), (first) => settle(first));
 * ```
 * @internal
 */
export function firstOf<T>(call: () => ObservableInput<T>, done: (first: First<T>) => void): Subscription | null {
  let answer: ObservableInput<T>;
  try {
    answer = call();
  } catch (error) {
    done({ kind: 'error', error });
    return null;
  }
  if (answer instanceof Immediate) {
    done({ kind: 'value', value: answer.value as T });
    return null;
  }
  let settled = false;
  let subscription: Subscription | undefined;
  const finish = (first: First<T>): void => {
    if (settled) return;
    settled = true;
    subscription?.unsubscribe();
    done(first);
  };
  try {
    subscription = from(answer).subscribe({
      next: (value) => finish({ kind: 'value', value }),
      error: (error: unknown) => finish({ kind: 'error', error }),
      complete: () => {
        if (!settled) finish({ kind: 'error', error: new Error('the handler completed without a value') });
      },
    });
  } catch (error) {
    finish({ kind: 'error', error });
    return null;
  }
  if (settled) {
    subscription.unsubscribe();
    return null;
  }
  return subscription;
}

/**
 * The first value of a handler's answer as a Promise; with `abort`, its `onAbort` value when
 * the signal aborts first (the handler is then abandoned). For stores whose engine awaits
 * (Redis).
 *
 * @example
 * ```ts
 * const result = await firstValue(() => handlers.attempt(input), { signal, onAbort: () => abortedResult });
 * ```
 * @internal
 */
export function firstValue<T>(call: () => ObservableInput<T>, abort?: { readonly signal: AbortSignal; readonly onAbort: () => T }): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (abort?.signal.aborted === true) {
      resolve(abort.onAbort());
      return;
    }
    let running: Subscription | null = null;
    const abandon = (): void => {
      running?.unsubscribe();
      if (abort !== undefined) resolve(abort.onAbort());
    };
    abort?.signal.addEventListener('abort', abandon, { once: true });
    running = firstOf(call, (first) => {
      abort?.signal.removeEventListener('abort', abandon);
      if (first.kind === 'value') resolve(first.value);
      else reject(first.error instanceof Error ? first.error : new Error(String(first.error)));
    });
  });
}
