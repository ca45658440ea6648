import type { MethodArgs, MethodOf, ServiceType } from 'remote-api-provisioner';

/**
 * A service component, as InvenioRDM services have them: an object with a method per service
 * method it takes part in, called with that method's arguments inside the unit of work.
 * `provisioner.hooks('rdm_record')` is one.
 */
export type Component<S extends ServiceType, R> = {
  readonly [M in MethodOf<S>]?: (args: MethodArgs<S, M, R>) => unknown;
};

/** The components of one service, run in the order they were added. */
export class Components<S extends ServiceType, R> {
  readonly #components: Component<S, R>[] = [];

  add(component: Component<S, R>): void {
    this.#components.push(component);
  }

  /** Runs `method` of every component, one after the other; a throw aborts the operation. */
  async run<M extends MethodOf<S>>(method: M, args: MethodArgs<S, M, R>): Promise<void> {
    for (const component of this.#components) {
      const run = component[method] as ((args: MethodArgs<S, M, R>) => unknown) | undefined;
      if (run !== undefined) await run.call(component, args);
    }
  }
}
