import { faultMixes } from './fault-mix.js';
import type { FaultMix } from './fault-mix.js';
import { Simulation } from './simulation.js';
import type { SimulationOptions, SimulationResult } from './simulation.js';

export interface SeedRunOptions {
  /** Events in the fault phase. Default 3000. */
  readonly faultPhaseEvents?: number;
  /** Liveness must converge within this many events. Default 30000. */
  readonly livenessEventsMax?: number;
  readonly traceLength?: number;
}

/**
 * The whole run follows from the seed, including the cluster size and fault mix, so a
 * single integer replays any failure: odd seeds run 3 nodes, even seeds 5, and the mix
 * cycles with seed / 2.
 */
export function simulationOptionsForSeed(seed: number, options: SeedRunOptions = {}): SimulationOptions {
  const faultMix: FaultMix | undefined = faultMixes[Math.floor(seed / 2) % faultMixes.length];
  if (faultMix === undefined) throw new Error('no fault mixes defined');
  return {
    seed,
    nodeCount: seed % 2 === 1 ? 3 : 5,
    faultMix,
    faultPhaseEvents: options.faultPhaseEvents ?? 3000,
    livenessEventsMax: options.livenessEventsMax ?? 30_000,
    traceLength: options.traceLength ?? 200,
  };
}

export function runSeed(seed: number, options: SeedRunOptions = {}): SimulationResult {
  return new Simulation(simulationOptionsForSeed(seed, options)).run();
}

/** The report printed for a failed run: what broke, how to replay it, and the last events. */
export function formatFailure(result: SimulationResult): string {
  const lines = [`simulation failed: ${result.failure ?? 'unknown'}`, `stats: ${JSON.stringify(result.stats)}`, `last ${result.trace?.length ?? 0} events:`];
  for (const line of result.trace ?? []) lines.push(`  ${line}`);
  return lines.join('\n');
}
