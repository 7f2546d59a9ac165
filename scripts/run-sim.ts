// Runs the deterministic Raft simulator from the command line.
//   npx tsx --conditions=@rivulet/source scripts/run-sim.ts --seed 42      replay one seed, print its trace on failure
//   npx tsx --conditions=@rivulet/source scripts/run-sim.ts --seeds 2000   long mode: seeds [start, start + count)
//   options: --start N (first seed of long mode), --events N (fault-phase events, default 6000 as in
//   the vitest sweep), --verbose (one line per seed).
// The --conditions flag makes workspace packages resolve to their TypeScript sources rather
// than to a possibly stale dist.
import { formatFailure, runSeed, SWEEP_EVENTS } from '../packages/sim/src/index.js';

interface CliOptions {
  seed: number | null;
  seeds: number;
  start: number;
  faultPhaseEvents: number | undefined;
  verbose: boolean;
}

function parseArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = { seed: null, seeds: 0, start: 1, faultPhaseEvents: undefined, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): number => {
      const parsed = Number(argv[++i]);
      if (!Number.isSafeInteger(parsed)) throw new Error(`${flag} needs an integer`);
      return parsed;
    };
    if (flag === '--seed') options.seed = value();
    else if (flag === '--seeds') options.seeds = value();
    else if (flag === '--start') options.start = value();
    else if (flag === '--events') options.faultPhaseEvents = value();
    else if (flag === '--verbose') options.verbose = true;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (options.seed === null && options.seeds === 0) options.seeds = 100;
  return options;
}

function main(): number {
  const options = parseArgs(process.argv.slice(2));
  const seeds = options.seed !== null ? [options.seed] : Array.from({ length: options.seeds }, (_, i) => options.start + i);
  const startedMs = performance.now();
  let failures = 0;
  let events = 0;
  for (const seed of seeds) {
    const result = runSeed(seed, { faultPhaseEvents: options.faultPhaseEvents ?? SWEEP_EVENTS });
    events += result.stats.events;
    if (options.verbose || seeds.length === 1) console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${result.description} ${JSON.stringify(result.stats)}`);
    if (!result.ok) {
      failures++;
      console.log(formatFailure(result));
    }
  }
  const elapsedMs = Math.round(performance.now() - startedMs);
  console.log(`${seeds.length} seeds, ${failures} failed, ${events} events, ${elapsedMs} ms`);
  return failures === 0 ? 0 : 1;
}

process.exitCode = main();
