import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { isMainThread } from 'node:worker_threads';

/**
 * Ports for processes that must know their own or their peers' ports before they start (a
 * cluster's controllers and brokers, Raft members), and that come back on the same port after
 * a kill.
 *
 * They are taken below the kernel's ephemeral range: the kernel picks an outbound socket's
 * local port (a client's connection) from that range, so a port from there (what `listen(0)`
 * hands out) can be taken by any connection while its node is not yet started, or is down
 * before a restart, and the node then fails with EADDRINUSE. Below the range only a listener
 * can take a port.
 *
 * Each process allocates from its own slice of that space, sequentially, so two vitest workers
 * never hand out the same port and one process does not hand out a port again (its node may be
 * down for a restart) until it has gone round its whole slice. A candidate some listener holds
 * is skipped.
 */

/** Where Linux says its ephemeral range is: "low<TAB>high". */
export const EPHEMERAL_RANGE_FILE = '/proc/sys/net/ipv4/ip_local_port_range';
/** The low end of the range when the file is absent (Linux's default). */
export const DEFAULT_EPHEMERAL_LOW = 32768;
/** How much of the space just below the ephemeral range the slices share (at most, and never below 1024). */
export const PORT_SPACE_SIZE = 16384;
/** Ports per slice: far more than one test file starts nodes with. */
export const SLICE_SIZE = 256;
const FIRST_UNPRIVILEGED_PORT = 1024;

/** The first port of the kernel's ephemeral range, from `rangeFile` when readable, else 32768. */
export function ephemeralLowPort(rangeFile = EPHEMERAL_RANGE_FILE): number {
  let text: string;
  try {
    text = readFileSync(rangeFile, 'utf8');
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
  const low = Number(text.trim().split(/\s+/)[0]);
  return Number.isInteger(low) && low > 0 && low <= 65535 ? low : DEFAULT_EPHEMERAL_LOW;
}

/** A half-open range of ports [first, end). */
export interface PortRange {
  first: number;
  end: number;
}

/** The slices below `ephemeralLow`: `PORT_SPACE_SIZE` ports (fewer when 1024 comes first) cut into `SLICE_SIZE` pieces. */
export function sliceCount(ephemeralLow: number): number {
  const space = ephemeralLow - Math.max(FIRST_UNPRIVILEGED_PORT, ephemeralLow - PORT_SPACE_SIZE);
  return Math.floor(space / SLICE_SIZE);
}

/** Slice number `index` (taken modulo the number of slices) below `ephemeralLow`. */
export function portSlice(ephemeralLow: number, index: number): PortRange {
  const count = sliceCount(ephemeralLow);
  if (count < 1) {
    throw new Error(`the ephemeral port range starts at ${ephemeralLow}: no room below it for ${SLICE_SIZE} test ports above ${FIRST_UNPRIVILEGED_PORT - 1}`);
  }
  const slot = ((index % count) + count) % count;
  const end = ephemeralLow - slot * SLICE_SIZE;
  return { first: end - SLICE_SIZE, end };
}

/**
 * Which slice this process takes. A vitest worker: its VITEST_POOL_ID, distinct among the
 * workers that run at once, shifted by the pid of the vitest process that runs them (the
 * parent of a forked worker, the process itself for a worker thread), so that two test runs
 * on one machine do not walk the same ports in step. Otherwise: the pid.
 */
export function sliceIndex(env: NodeJS.ProcessEnv = process.env): number {
  const poolId = Number(env.VITEST_POOL_ID);
  if (env.VITEST_POOL_ID === undefined || !Number.isInteger(poolId)) return process.pid;
  const run = isMainThread ? process.ppid : process.pid;
  return run + poolId;
}

/** True when a listener could bind `port` on 127.0.0.1 just now. */
export function canBind(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** Hands out the ports of `range` in order, round and round, skipping those `isFree` refuses. */
export class PortAllocator {
  private next: number;

  constructor(
    readonly range: PortRange,
    private readonly isFree: (port: number) => Promise<boolean> = canBind,
  ) {
    this.next = range.first;
  }

  async allocate(): Promise<number> {
    const size = this.range.end - this.range.first;
    for (let tried = 0; tried < size; tried++) {
      // Advance before the probe, so that concurrent calls probe different ports.
      const port = this.next;
      this.next = port + 1 < this.range.end ? port + 1 : this.range.first;
      if (await this.isFree(port)) return port;
    }
    throw new Error(`no free port in ${this.range.first}-${this.range.end - 1} on 127.0.0.1`);
  }
}

let shared: PortAllocator | undefined;

/**
 * A port below the ephemeral range that was free on 127.0.0.1 a moment ago and that this
 * process did not hand out recently (for processes that must know their peers' ports up front).
 */
export function freePort(): Promise<number> {
  shared ??= new PortAllocator(portSlice(ephemeralLowPort(), sliceIndex()));
  return shared.allocate();
}
