/**
 * Interleaved rounds: every contender of a measurement runs once per round, the first one
 * rotating, so that drift of the machine does not favour one of them.
 */
import { collectGarbage } from './stats.js';

/** A measured round: how many deliveries (or calls), in how long, for how much CPU. */
export type Round = { readonly done: number; readonly wallNs: number; readonly cpuUs: number };

/** One contender of a section: warmed up once, then measured once per round. */
export type Contender = {
  readonly name: string;
  warmUp(): Promise<void>;
  measure(round: number): Promise<Round>;
  /**
   * A few untimed deliveries after the full collection that precedes each round. The
   * collection also throws away code optimized for objects that died with the round before
   * (V8's "embedded weak objects cleared"); without this, a short round would measure that
   * code's re-optimization rather than the steady state an app runs in.
   */
  rewarm?(): Promise<void>;
  close(): Promise<void>;
};

/** Measures every contender once per round, rotating who goes first. */
export async function interleave(
  contenders: readonly Contender[],
  rounds: number,
  log: (message: string) => void,
): Promise<Map<string, Round[]>> {
  const results = new Map<string, Round[]>(contenders.map((c) => [c.name, []]));
  for (const contender of contenders) await contender.warmUp();
  for (let round = 0; round < rounds; round += 1) {
    for (let i = 0; i < contenders.length; i += 1) {
      const contender = contenders[(round + i) % contenders.length] as Contender;
      // A full collection first: the garbage of the contender before is not collected on this one's clock.
      collectGarbage();
      // The cleanup the collection scheduled (finalization registries) runs off the clock too.
      await new Promise((resolve) => setTimeout(resolve, 20));
      await contender.rewarm?.();
      const result = await contender.measure(round);
      results.get(contender.name)?.push(result);
      log(
        `  ${contender.name}: ${result.done} in ${(result.wallNs / 1e6).toFixed(0)} ms, ` +
          `${(result.cpuUs / result.done).toFixed(1)} µs CPU each`,
      );
    }
  }
  return results;
}

export const perSecond = (r: Round): number => r.done / (r.wallNs / 1e9);
export const cpuPerItem = (r: Round): number => r.cpuUs / r.done;
