export type { EpochEndOffset, EpochEntry } from './epoch-entries.js';
export {
  UNDEFINED_EPOCH,
  UNDEFINED_EPOCH_END_OFFSET,
  UNDEFINED_EPOCH_OFFSET,
  assertEpochEntries,
  endOffsetForEpoch,
  latestLeaderEpoch,
} from './epoch-entries.js';
export type { TruncationStep } from './follower-rules.js';
export { followerHighWatermark, truncationPoint } from './follower-rules.js';
export type { AlterPartitionProposal, IsrChangeRejection } from './alter-partition.js';
export { classifyIsrChangeRejection } from './alter-partition.js';
export type {
  AcksAllCompletion,
  FollowerFetch,
  FollowerProgress,
  HighWatermarkUpdate,
  LeaderPartitionConfig,
  ReplicaIsrEligibility,
} from './leader-partition-state.js';
export { LeaderPartitionState, UNKNOWN_OFFSET } from './leader-partition-state.js';
