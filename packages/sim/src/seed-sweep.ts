import { formatFailure, runSeed } from './run.js';
import type { SeedRunOptions } from './run.js';
import type { SimulationResult } from './simulation.js';

/** The outcome of running a range of seeds: totals, and the full report of each failure. */
export interface SweepReport {
  readonly runs: number;
  readonly events: number;
  readonly failures: readonly string[];
  readonly elapsedMs: number;
}

/** Runs seeds [first, first + count); `nowMs` is injected so the package reads no clock itself. */
export function sweepSeeds(first: number, count: number, options: SeedRunOptions & { nowMs: () => number }): SweepReport {
  const seeds = Array.from({ length: count }, (_, i) => first + i);
  const startedMs = options.nowMs();
  let events = 0;
  const failures: string[] = [];
  for (const seed of seeds) {
    const result: SimulationResult = runSeed(seed, options);
    events += result.stats.events;
    if (!result.ok) failures.push(formatFailure(result));
  }
  return { runs: seeds.length, events, failures, elapsedMs: options.nowMs() - startedMs };
}
