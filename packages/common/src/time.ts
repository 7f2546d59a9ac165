/**
 * Time and randomness are injected everywhere, so a seeded simulation can replay any run.
 * Pure cores (raft, metadata, replication) only see these interfaces; the system
 * implementations below are used by the I/O edges (server, broker, controller).
 */
export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  nowMs(): number;
  /** Wall-clock milliseconds since the Unix epoch, for record timestamps. */
  wallClockMs(): number;
}

export interface Cancellable {
  cancel(): void;
}

export interface Scheduler {
  /** Runs `task` once after `delayMs`. */
  schedule(delayMs: number, task: () => void): Cancellable;
}

export interface Random {
  /** A uniformly distributed integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
  /** A uniformly distributed float in [0, 1). */
  nextFloat(): number;
}

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  wallClockMs: () => Date.now(),
};

export const systemScheduler: Scheduler = {
  schedule(delayMs, task) {
    const handle = setTimeout(task, delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
};

export const systemRandom: Random = {
  nextInt: (maxExclusive) => Math.floor(Math.random() * maxExclusive),
  nextFloat: () => Math.random(),
};

/**
 * A small, fast, seeded PRNG (mulberry32) for simulations and property tests. Deterministic:
 * the same seed yields the same sequence on every machine.
 */
export class SeededRandom implements Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  private next32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  nextFloat(): number {
    return this.next32() / 4294967296;
  }
  nextInt(maxExclusive: number): number {
    return Math.floor(this.nextFloat() * maxExclusive);
  }
}
