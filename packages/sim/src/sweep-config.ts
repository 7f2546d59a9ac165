/** Seeds per sweep file: two files, so 2 × this many runs in all (3 and 5 nodes, every fault mix). */
export const SWEEP_SEEDS_PER_FILE = 600;
/** Fault-phase events per run; liveness mode adds up to a few thousand more. */
export const SWEEP_EVENTS = 6000;

/** The seed to replay from SIM_SEED, or null for a normal sweep. */
export function simSeedFromEnv(): number | null {
  const raw = process.env['SIM_SEED'];
  if (raw === undefined || raw === '') return null;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`SIM_SEED must be a non-negative integer, got ${raw}`);
  return seed;
}
