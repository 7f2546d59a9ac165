import type { NodeId, Random } from '@rivulet/common';

/** How the simulated network misbehaves; one run may change these between phases. */
export interface NetworkOptions {
  /** Probability that a message is silently lost. */
  lossProbability: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  duplicateProbability: number;
  /** One-way delay bounds; random delays in between reorder messages. */
  delayMinMs: number;
  delayMaxMs: number;
}

export const calmNetwork: NetworkOptions = { lossProbability: 0, duplicateProbability: 0, delayMinMs: 1, delayMaxMs: 5 };

/**
 * The links of the simulated network. A cut link drops everything sent on it (and what is
 * in flight when it arrives). Cuts are directed, so one-way partitions are expressible.
 */
export class SimNetwork {
  private readonly cutLinks = new Set<string>();
  /** Clogged links deliver, but only after this much extra delay (FoundationDB's swizzle-clogging). */
  private readonly cloggedLinks = new Map<string, number>();

  constructor(
    public options: NetworkOptions,
    private readonly random: Random,
  ) {}

  private static key(from: NodeId, to: NodeId): string {
    return `${from}>${to}`;
  }

  isConnected(from: NodeId, to: NodeId): boolean {
    return !this.cutLinks.has(SimNetwork.key(from, to));
  }

  cut(from: NodeId, to: NodeId): void {
    this.cutLinks.add(SimNetwork.key(from, to));
  }

  /** Cuts every link between the two groups, in both directions. */
  partition(groupA: readonly NodeId[], groupB: readonly NodeId[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.cut(a, b);
        this.cut(b, a);
      }
    }
  }

  clog(from: NodeId, to: NodeId, extraDelayMs: number): void {
    this.cloggedLinks.set(SimNetwork.key(from, to), extraDelayMs);
  }

  unclog(from: NodeId, to: NodeId): void {
    this.cloggedLinks.delete(SimNetwork.key(from, to));
  }

  /** Reconnects every cut link and unclogs every clogged one. */
  healAll(): void {
    this.cutLinks.clear();
    this.cloggedLinks.clear();
  }

  get cutCount(): number {
    return this.cutLinks.size;
  }

  /** The delivery delays for one send: none when lost, two when duplicated. */
  deliveryDelaysMs(from: NodeId, to: NodeId): number[] {
    if (!this.isConnected(from, to)) return [];
    const options = this.options;
    if (this.random.nextFloat() < options.lossProbability) return [];
    const copies = this.random.nextFloat() < options.duplicateProbability ? 2 : 1;
    const extraDelayMs = this.cloggedLinks.get(SimNetwork.key(from, to)) ?? 0;
    const delays: number[] = [];
    for (let i = 0; i < copies; i++) {
      delays.push(extraDelayMs + options.delayMinMs + this.random.nextInt(options.delayMaxMs - options.delayMinMs + 1));
    }
    return delays;
  }
}
