import type { NetworkOptions } from './network.js';

/**
 * A named combination of faults for the fault phase. Every probability is per opportunity
 * (per message, per Ready, per fault event); everything is drawn from the run's seed.
 */
export interface FaultMix {
  readonly name: string;
  readonly network: NetworkOptions;
  /** Mean simulated time between fault events (partition changes, crashes). */
  readonly faultIntervalMs: number;
  /** Weights of the fault kinds drawn at each fault event. */
  readonly partitionWeight: number;
  readonly oneWayCutWeight: number;
  readonly crashWeight: number;
  readonly healWeight: number;
  /** Weight of membership changes (remove a voter, re-add it as learner, promote it). */
  readonly membershipWeight: number;
  /**
   * Weight of disk wipes: a node already removed from the configuration loses its whole disk
   * and rejoins under a fresh identity (a new node id), as a learner that is promoted to
   * voter once caught up. Its old id is retired for good.
   */
  readonly wipeWeight: number;
  /** Weight of leadership transfers to a random voter (TimeoutNow). */
  readonly transferWeight: number;
  /**
   * Weight of swizzle-clogging (FoundationDB): the links of a random subset of nodes are
   * clogged one by one (messages arrive hundreds of ms late) and unclogged in random order.
   */
  readonly swizzleWeight: number;
  /**
   * Probability that a newly elected leader is crashed or isolated within a few ticks, before
   * its first entries spread: the window in which Raft figure 8 and its relatives live.
   */
  readonly newLeaderFaultProbability: number;
  /** Probability that a node crashes in the middle of processing one Ready. */
  readonly readyCrashProbability: number;
  /** Largest relative deviation of a node's tick interval from nominal (clock drift). */
  readonly maxClockDrift: number;
}

const noFaultEvents = { partitionWeight: 0, oneWayCutWeight: 0, crashWeight: 0, healWeight: 0, membershipWeight: 0, wipeWeight: 0, transferWeight: 0, swizzleWeight: 0 };

export const faultMixes: readonly FaultMix[] = [
  {
    name: 'calm',
    network: { lossProbability: 0, duplicateProbability: 0, delayMinMs: 1, delayMaxMs: 5 },
    faultIntervalMs: 1000,
    ...noFaultEvents,
    newLeaderFaultProbability: 0,
    readyCrashProbability: 0,
    maxClockDrift: 0.05,
  },
  {
    name: 'lossy-network',
    network: { lossProbability: 0.2, duplicateProbability: 0.1, delayMinMs: 1, delayMaxMs: 40 },
    faultIntervalMs: 1000,
    ...noFaultEvents,
    newLeaderFaultProbability: 0,
    readyCrashProbability: 0,
    maxClockDrift: 0.1,
  },
  {
    name: 'partitions',
    network: { lossProbability: 0.02, duplicateProbability: 0.02, delayMinMs: 1, delayMaxMs: 15 },
    faultIntervalMs: 150,
    partitionWeight: 4,
    oneWayCutWeight: 3,
    crashWeight: 0,
    healWeight: 3,
    membershipWeight: 0,
    wipeWeight: 0,
    transferWeight: 1,
    swizzleWeight: 2,
    newLeaderFaultProbability: 0,
    readyCrashProbability: 0,
    maxClockDrift: 0.1,
  },
  {
    name: 'crashes',
    network: { lossProbability: 0.02, duplicateProbability: 0.02, delayMinMs: 1, delayMaxMs: 10 },
    faultIntervalMs: 150,
    partitionWeight: 0,
    oneWayCutWeight: 0,
    crashWeight: 5,
    healWeight: 1,
    membershipWeight: 0,
    wipeWeight: 0,
    transferWeight: 0,
    swizzleWeight: 0,
    newLeaderFaultProbability: 0,
    readyCrashProbability: 0.003,
    maxClockDrift: 0.1,
  },
  {
    name: 'chaos',
    network: { lossProbability: 0.1, duplicateProbability: 0.05, delayMinMs: 1, delayMaxMs: 30 },
    faultIntervalMs: 100,
    partitionWeight: 3,
    oneWayCutWeight: 2,
    crashWeight: 3,
    healWeight: 3,
    membershipWeight: 2,
    wipeWeight: 1,
    transferWeight: 1,
    swizzleWeight: 2,
    newLeaderFaultProbability: 0.2,
    readyCrashProbability: 0.002,
    maxClockDrift: 0.3,
  },
  {
    // Rapid leader changes: the leader is isolated or killed often and the network heals
    // quickly, so logs of several terms interleave (the raw material of Raft figure 8).
    name: 'leader-churn',
    network: { lossProbability: 0.05, duplicateProbability: 0.05, delayMinMs: 1, delayMaxMs: 20 },
    faultIntervalMs: 40,
    partitionWeight: 4,
    oneWayCutWeight: 1,
    crashWeight: 3,
    healWeight: 6,
    membershipWeight: 0,
    wipeWeight: 0,
    transferWeight: 2,
    swizzleWeight: 1,
    newLeaderFaultProbability: 0.5,
    readyCrashProbability: 0.002,
    maxClockDrift: 0.2,
  },
  {
    // Membership churn under mild faults: voters are removed (the leader too), come back
    // as learners and are promoted, while nodes crash and links flap; a removed node may
    // have its disk wiped and rejoin as a new member (fresh id, learner, then voter).
    name: 'membership',
    network: { lossProbability: 0.05, duplicateProbability: 0.02, delayMinMs: 1, delayMaxMs: 15 },
    faultIntervalMs: 60,
    partitionWeight: 1,
    oneWayCutWeight: 1,
    crashWeight: 1,
    healWeight: 2,
    membershipWeight: 6,
    wipeWeight: 3,
    transferWeight: 1,
    swizzleWeight: 1,
    newLeaderFaultProbability: 0,
    readyCrashProbability: 0.001,
    maxClockDrift: 0.1,
  },
];

export function faultMixByName(name: string): FaultMix {
  const mix = faultMixes.find((candidate) => candidate.name === name);
  if (mix === undefined) throw new Error(`unknown fault mix ${name}; known: ${faultMixes.map((m) => m.name).join(', ')}`);
  return mix;
}
