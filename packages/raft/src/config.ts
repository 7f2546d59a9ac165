import { AssertionError, noopLogger } from '@rivulet/common';
import type { Logger, NodeId, Random, RaftIndex } from '@rivulet/common';
import type { RaftStorage } from './storage.js';

/**
 * Everything a node needs, passed explicitly. Time is counted in calls to `tick()`; the
 * driver decides how long a tick is (the controller uses 30 ms, the simulator 10 ms).
 */
export interface RaftConfig {
  /** This node's id; never 0 or negative. */
  readonly id: NodeId;
  /**
   * The voting members as of `appliedIndex` (on a fresh cluster: the bootstrap membership).
   * Ignored when storage holds a snapshot at exactly `appliedIndex`: the snapshot's
   * membership is used then, and the driver replays later config changes as it applies them.
   */
  readonly voters: readonly NodeId[];
  /** Non-voting members that receive the log, as of `appliedIndex`. Default none. */
  readonly learners?: readonly NodeId[];
  /** Read side of the durable log and hard state; the driver writes it. */
  readonly storage: RaftStorage;
  /** Seeds the randomized election timeout; inject a SeededRandom in tests. */
  readonly random: Random;
  readonly logger?: Logger;
  /** A follower campaigns after a random timeout in [this, 2 × this) ticks without a leader. */
  readonly electionTimeoutTicks: number;
  /** A leader sends heartbeats this often; must be well below the election timeout. */
  readonly heartbeatIntervalTicks: number;
  /** Run a pre-vote round before bumping the term (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /** Leaders step down without contact from a quorum for an election timeout. Default true. */
  readonly checkQuorum?: boolean;
  /** Most entries in one append message. Default 64. */
  readonly maxEntriesPerMessage?: number;
  /** Soft byte limit of one append message or snapshot chunk (at least one entry is sent). Default 1 MiB. */
  readonly maxBytesPerMessage?: number;
  /** Append messages in flight per follower in the replicate state. Default 16. */
  readonly maxInflightAppends?: number;
  /** The leader refuses proposals when this many entries are not yet committed. Default 4096. */
  readonly maxUncommittedEntries?: number;
  /** Most committed entries one Ready hands to the state machine. Default 1024. */
  readonly maxCommittedEntriesPerReady?: number;
  /** The largest snapshot a follower accepts, bounding its receive buffer. Default 256 MiB. */
  readonly maxSnapshotBytes?: number;
  /** Outstanding ReadIndex requests a leader tracks. Default 1024. */
  readonly maxPendingReads?: number;
  /** The index the driver's state machine has applied (after a restart: its snapshot). Default 0. */
  readonly appliedIndex?: RaftIndex;
}

/** The config with every default filled in, as the core uses it. */
export interface ResolvedRaftConfig extends Required<Omit<RaftConfig, 'appliedIndex'>> {
  readonly appliedIndex: RaftIndex;
}

const MAX_TICKS = 1_000_000;

/**
 * Fills defaults and rejects combinations that cannot work, before anything runs. A bad
 * config is a programmer error of the driver, so it throws AssertionError.
 */
export function resolveConfig(config: RaftConfig): ResolvedRaftConfig {
  const resolved: ResolvedRaftConfig = {
    logger: noopLogger,
    learners: [],
    preVote: true,
    checkQuorum: true,
    maxEntriesPerMessage: 64,
    maxBytesPerMessage: 1024 * 1024,
    maxInflightAppends: 16,
    maxUncommittedEntries: 4096,
    maxCommittedEntriesPerReady: 1024,
    maxSnapshotBytes: 256 * 1024 * 1024,
    maxPendingReads: 1024,
    ...stripUndefined(config),
    appliedIndex: config.appliedIndex ?? (0 as RaftIndex),
  };
  validateConfig(resolved);
  return resolved;
}

function stripUndefined(config: RaftConfig): RaftConfig {
  return Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined)) as unknown as RaftConfig;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new AssertionError(`invalid raft config: ${message}`);
}

function positiveInt(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0;
}

export function validateConfig(config: ResolvedRaftConfig): void {
  check(positiveInt(config.id), `id must be a positive integer, got ${config.id}`);
  check(config.voters.length > 0, 'voters must not be empty');
  check(new Set(config.voters).size === config.voters.length, 'voters must be distinct');
  check(config.voters.every(positiveInt), 'voter ids must be positive integers');
  check(config.learners.every(positiveInt), 'learner ids must be positive integers');
  check(!config.learners.some((id) => config.voters.includes(id)), 'a node is either a voter or a learner');
  check(positiveInt(config.heartbeatIntervalTicks), 'heartbeatIntervalTicks must be positive');
  check(
    config.electionTimeoutTicks > config.heartbeatIntervalTicks,
    `electionTimeoutTicks (${config.electionTimeoutTicks}) must exceed heartbeatIntervalTicks (${config.heartbeatIntervalTicks})`,
  );
  check(config.electionTimeoutTicks <= MAX_TICKS, 'electionTimeoutTicks is unreasonably large');
  check(positiveInt(config.maxEntriesPerMessage), 'maxEntriesPerMessage must be positive');
  check(positiveInt(config.maxBytesPerMessage), 'maxBytesPerMessage must be positive');
  check(positiveInt(config.maxInflightAppends), 'maxInflightAppends must be positive');
  check(positiveInt(config.maxUncommittedEntries), 'maxUncommittedEntries must be positive');
  check(positiveInt(config.maxCommittedEntriesPerReady), 'maxCommittedEntriesPerReady must be positive');
  check(positiveInt(config.maxSnapshotBytes), 'maxSnapshotBytes must be positive');
  check(positiveInt(config.maxPendingReads), 'maxPendingReads must be positive');
  check(Number.isSafeInteger(config.appliedIndex) && config.appliedIndex >= 0, 'appliedIndex must be >= 0');
}
