import mittModule from 'mitt';
import type { Emitter, EventHandlerMap, EventType } from 'mitt';

/** The factory mitt exports: `mitt(all?)`. */
type MittFactory = <Events extends Record<EventType, unknown>>(all?: EventHandlerMap<Events>) => Emitter<Events>;

/**
 * mitt 3.0.1 declares `export default` in CommonJS-typed `index.d.ts`, so under `nodenext`
 * TypeScript sees the default import as the module object (`{ default: mitt }`), while plain
 * Node (which loads `dist/mitt.mjs`) hands over the function itself. Take whichever one is
 * callable, once, here.
 */
const loaded: unknown = mittModule;
const createMitt: MittFactory =
  typeof loaded === 'function' ? (loaded as MittFactory) : (loaded as { readonly default: MittFactory }).default;

/**
 * A new mitt emitter, whatever way the bundler or runtime resolved mitt's default export.
 *
 * @example
 * ```ts
 * const emitter = createEmitter<{ event: ServiceEvent }>();
 * emitter.on('event', (event) => log(event.eventId));
 * ```
 * @internal
 */
export function createEmitter<Events extends Record<EventType, unknown>>(): Emitter<Events> {
  return createMitt<Events>();
}
