// Seeded simulation runs, part 1 of 2 (split so vitest runs the halves in parallel).
// Replay any seed with: SIM_SEED=<n> npx vitest run --project unit packages/sim
import { describe, expect, it } from 'vitest';
import { sweepSeeds } from './seed-sweep.js';
import { SWEEP_EVENTS, SWEEP_SEEDS_PER_FILE, simSeedFromEnv } from './sweep-config.js';

const replaySeed = simSeedFromEnv();

describe('simulation sweep, seeds 1..', () => {
  it.runIf(replaySeed === null)(`keeps every invariant and converges after healing, over ${SWEEP_SEEDS_PER_FILE} seeds`, () => {
    const report = sweepSeeds(1, SWEEP_SEEDS_PER_FILE, { faultPhaseEvents: SWEEP_EVENTS, nowMs: () => performance.now() });
    console.log(`sim sweep A: ${report.runs} runs, ${report.events} events, ${Math.round(report.elapsedMs)} ms`);
    expect(report.failures.join('\n\n')).toBe('');
  }, 240_000);

  // Runs only when SIM_SEED names a seed to replay; the sweep above covers every seed otherwise.
  it.runIf(replaySeed !== null)(`replays SIM_SEED=${replaySeed}`, () => {
    const report = sweepSeeds(replaySeed ?? 0, 1, { faultPhaseEvents: SWEEP_EVENTS, nowMs: () => performance.now() });
    console.log(`sim replay of seed ${replaySeed}: ${report.events} events, ${report.failures.length === 0 ? 'ok' : 'FAILED'}`);
    expect(report.failures.join('\n\n')).toBe('');
  }, 240_000);
});
