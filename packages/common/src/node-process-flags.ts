/**
 * The flags a node process should give V8: `node ${NODE_PROCESS_FLAGS} bin.js start`. Every
 * launcher in the repository passes them (the Docker image, `npm start`, `pnpm rivulet`,
 * `scripts/cluster.ts`, the test kit); a node started without them logs a warning.
 *
 * `--initial-old-space-size`: a node's JavaScript heap is small (about 20 MB live) while
 * every request churns its young generation. V8 starts a full mark-compact whenever the old
 * generation's headroom under its allocation limit falls below the young generation's
 * capacity; with a limit sized from so small a heap that happened every 100–150 ms under
 * replicated load, 7–30 ms of the event loop each, and took a fifth of a broker's CPU with
 * the concurrent marking threads. A 128 MB floor for that limit leaves only the collections
 * that external (Buffer) memory asks for: 12 instead of 50–60 per broker in the benchmark
 * of README's "Replication" section. It is a limit, not a reservation.
 */
export const NODE_PROCESS_FLAGS: readonly string[] = ['--initial-old-space-size=128'];

/** The NODE_PROCESS_FLAGS settings that `execArgv` (a process's node flags) does not set. */
export function missingNodeProcessFlags(execArgv: readonly string[]): string[] {
  const settingName = (flag: string): string => flag.split('=')[0]!.replaceAll('_', '-');
  const given = new Set(execArgv.map(settingName));
  return NODE_PROCESS_FLAGS.filter((flag) => !given.has(settingName(flag)));
}
