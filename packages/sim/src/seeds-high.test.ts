// Seeded simulation runs, part 2 of 2 (split so vitest runs the halves in parallel).
// With SIM_SEED set, part 1 replays that seed and this part is skipped.
import { describe, expect, it } from 'vitest';
import { sweepSeeds } from './seed-sweep.js';
import { SWEEP_EVENTS, SWEEP_SEEDS_PER_FILE, simSeedFromEnv } from './sweep-config.js';

describe('simulation sweep, seeds continued', () => {
  it.skipIf(simSeedFromEnv() !== null)(`keeps every invariant and converges after healing, over ${SWEEP_SEEDS_PER_FILE} more seeds`, () => {
    const report = sweepSeeds(1 + SWEEP_SEEDS_PER_FILE, SWEEP_SEEDS_PER_FILE, { faultPhaseEvents: SWEEP_EVENTS, nowMs: () => performance.now() });
    console.log(`sim sweep B: ${report.runs} runs, ${report.events} events, ${Math.round(report.elapsedMs)} ms`);
    expect(report.failures.join('\n\n')).toBe('');
  }, 240_000);
});
