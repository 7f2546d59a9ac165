/*
 * The group coordinator's contract: what a host (the broker) hands the pure core, and what the
 * core answers. Field names follow Kafka's JoinGroup/SyncGroup/... messages, camel-cased, so
 * that a Kafka handler maps onto them one to one and the gRPC client API can reuse them.
 *
 * Errors travel as Kafka error codes in `errorCode` (0 = none), with a human message in
 * `errorMessage` where the wire has room for one. The core throws only on impossible states.
 */

/** Kafka's group states, with Kafka's names (DescribeGroups and ListGroups report them). */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface GroupConfig {
  /** group.min.session.timeout.ms: the shortest session a member may ask for. */
  readonly minSessionTimeoutMs: number;
  /** group.max.session.timeout.ms: the longest session a member may ask for. */
  readonly maxSessionTimeoutMs: number;
  /** group.initial.rebalance.delay.ms: how long the first rebalance of an empty group waits for more members. */
  readonly initialRebalanceDelayMs: number;
  /** group.max.size: members per group; a join beyond it gets GROUP_MAX_SIZE_REACHED. */
  readonly maxGroupSize: number;
  /** The largest protocol metadata or assignment one member may carry; larger gets INVALID_REQUEST. */
  readonly maxMemberMetadataBytes: number;
  /** offset.metadata.max.bytes: the largest metadata string of a commit; larger gets OFFSET_METADATA_TOO_LARGE. */
  readonly offsetMetadataMaxBytes: number;
  /** offsets.retention.ms: committed offsets of a group that has been empty this long are removed. */
  readonly offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms: how often expired offsets are looked for. */
  readonly offsetsRetentionCheckIntervalMs: number;
}

export const DEFAULT_GROUP_CONFIG: GroupConfig = {
  minSessionTimeoutMs: 6_000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 3_000,
  maxGroupSize: 1_000,
  maxMemberMetadataBytes: 1024 * 1024,
  offsetMetadataMaxBytes: 4096,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
};

/** One record of the __consumer_offsets topic; a null value is a tombstone (compaction removes the key). */
export interface GroupRecord {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

/** A record read back from __consumer_offsets while loading a partition. */
export interface StoredGroupRecord extends GroupRecord {
  readonly offset: number;
  /** Wall-clock time the record was written (the batch's timestamp). */
  readonly timestampMs: number;
}

/**
 * Where the core's records go: the host appends them to partition `partition` of
 * __consumer_offsets as its leader, with acks=all, and resolves once they are committed (below
 * the high watermark). It rejects with a RivuletError when they cannot be (NOT_COORDINATOR when
 * leadership moved, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT...); the core then answers the
 * request with that error (leadership errors become NOT_COORDINATOR) and changes no state.
 */
export interface GroupLog {
  append(partition: number, records: readonly GroupRecord[]): Promise<void>;
}

export interface JoinGroupProtocol {
  readonly name: string;
  readonly metadata: Uint8Array;
}

export interface JoinGroupRequest {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  /** Before JoinGroup v1 this equals the session timeout. */
  readonly rebalanceTimeoutMs: number;
  /** '' for a member joining for the first time. */
  readonly memberId: string;
  /** Static membership (KIP-345); null for a dynamic member. */
  readonly groupInstanceId: string | null;
  readonly protocolType: string;
  readonly protocols: readonly JoinGroupProtocol[];
  /** JoinGroup v4+ (KIP-394): a new dynamic member first gets MEMBER_ID_REQUIRED with its id, then rejoins with it. */
  readonly requireKnownMemberId: boolean;
  readonly reason: string | null;
  readonly clientId: string;
  readonly clientHost: string;
}

export interface JoinGroupMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly metadata: Uint8Array;
}

export interface JoinGroupResult {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leader: string;
  /** KIP-814: true when a static leader rejoined without a change and must not recompute the assignment. */
  readonly skipAssignment: boolean;
  readonly memberId: string;
  /** Every member's metadata for the chosen protocol, to the leader only; empty for the others. */
  readonly members: readonly JoinGroupMember[];
}

export interface SyncGroupAssignment {
  readonly memberId: string;
  readonly assignment: Uint8Array;
}

export interface SyncGroupRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** SyncGroup v5+ checks these against the group's; null when the client did not send them. */
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** The leader's assignment for every member; empty from the other members. */
  readonly assignments: readonly SyncGroupAssignment[];
}

export interface SyncGroupResult {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignment: Uint8Array;
}

export interface HeartbeatRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface HeartbeatResult {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export interface LeavingMember {
  /** '' with a groupInstanceId: the static member is identified by its instance id alone. */
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly reason: string | null;
}

export interface LeaveGroupRequest {
  readonly groupId: string;
  readonly members: readonly LeavingMember[];
}

export interface LeaveGroupResult {
  /** Whole-request errors (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, ...). */
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly members: readonly { readonly memberId: string; readonly groupInstanceId: string | null; readonly errorCode: number }[];
}

export interface OffsetCommitPartition {
  readonly partitionIndex: number;
  readonly committedOffset: number;
  /** -1 when unknown. */
  readonly committedLeaderEpoch: number;
  readonly committedMetadata: string | null;
}

export interface OffsetCommitTopic {
  readonly name: string;
  readonly partitions: readonly OffsetCommitPartition[];
}

export interface OffsetCommitRequest {
  readonly groupId: string;
  /** -1 with memberId '' for a commit from outside group management (a "simple" commit). */
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** OffsetCommit v2-4: -1 for the broker's retention; ignored otherwise, as Kafka does. */
  readonly retentionTimeMs: number;
  readonly topics: readonly OffsetCommitTopic[];
}

export interface OffsetCommitResult {
  readonly topics: readonly {
    readonly name: string;
    readonly partitions: readonly { readonly partitionIndex: number; readonly errorCode: number }[];
  }[];
}

export interface OffsetFetchRequest {
  readonly groupId: string;
  /** null: every partition with a committed offset. */
  readonly topics: readonly { readonly name: string; readonly partitionIndexes: readonly number[] }[] | null;
  /** OffsetFetch v7+: refuse (UNSTABLE_OFFSET_COMMIT) while a commit for a partition is in flight. */
  readonly requireStable: boolean;
}

export interface FetchedOffset {
  readonly partitionIndex: number;
  /** -1 when the group has no committed offset for the partition. */
  readonly committedOffset: number;
  readonly committedLeaderEpoch: number;
  readonly metadata: string | null;
  readonly errorCode: number;
}

export interface OffsetFetchResult {
  /** Whole-group errors (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, GROUP_ID_NOT_FOUND is NOT used: unknown groups have no offsets). */
  readonly errorCode: number;
  readonly topics: readonly { readonly name: string; readonly partitions: readonly FetchedOffset[] }[];
}

export interface DescribedMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** The member's metadata for the group's chosen protocol. */
  readonly memberMetadata: Uint8Array;
  readonly memberAssignment: Uint8Array;
}

export interface GroupDescription {
  readonly groupId: string;
  /** NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS; an unknown group is described as Dead with no error, as Kafka does. */
  readonly errorCode: number;
  readonly groupState: GroupState;
  readonly protocolType: string;
  /** The chosen protocol's name (the assignor for consumer groups). */
  readonly protocolData: string;
  readonly members: readonly DescribedMember[];
}

export interface GroupListing {
  readonly groupId: string;
  readonly protocolType: string;
  readonly groupState: GroupState;
}

export interface DeletedGroup {
  readonly groupId: string;
  /** NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, INVALID_GROUP_ID. */
  readonly errorCode: number;
}

/**
 * The coordinator's operations, as the broker's Kafka handlers and gRPC services call them.
 * Every group lives in partition `partitionFor(groupId)` of __consumer_offsets; a group whose
 * partition this node does not lead is answered NOT_COORDINATOR, and one whose partition is
 * still loading COORDINATOR_LOAD_IN_PROGRESS.
 */
export interface GroupCoordinatorApi {
  /** Kafka's choice: abs(Java String.hashCode(groupId)) % partitionCount. */
  partitionFor(groupId: string): number;
  /** Leadership of `partition` gained at `leaderEpoch`: its groups answer COORDINATOR_LOAD_IN_PROGRESS until finishLoading. */
  beginLoading(partition: number, leaderEpoch: number): void;
  /** Feeds the partition's records, oldest first, while loading. */
  replay(partition: number, records: Iterable<StoredGroupRecord>): void;
  /** The partition's groups are served from now on; members of loaded groups get fresh session timers. */
  finishLoading(partition: number, leaderEpoch: number): void;
  /** Leadership lost (or the load failed): parked requests are answered NOT_COORDINATOR and the state is forgotten. */
  unload(partition: number): void;
  /** Answered when the rebalance completes (or fails); a long poll. */
  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult>;
  /** Answered once the leader's assignment is committed to the log. */
  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResult>;
  heartbeat(request: HeartbeatRequest): HeartbeatResult;
  /**
   * A heartbeat that waits: answered at once unless the member is in good standing (NONE),
   * otherwise held for up to `maxWaitMs` (never more than half the member's session) and
   * answered REBALANCE_IN_PROGRESS the moment a rebalance starts, so that a member learns of it
   * within a round trip instead of a heartbeat interval. Kafka's protocol has no such call;
   * the gRPC client API offers it. An aborted `signal` drops the wait without counting it as a
   * sign of life.
   */
  heartbeatUntilRebalance(request: HeartbeatRequest, maxWaitMs: number, signal?: AbortSignal): Promise<HeartbeatResult>;
  leaveGroup(request: LeaveGroupRequest): Promise<LeaveGroupResult>;
  commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitResult>;
  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResult;
  describeGroups(groupIds: readonly string[]): GroupDescription[];
  /** Groups of every loaded partition, optionally only those in `states`. */
  listGroups(states: readonly GroupState[] | null): GroupListing[];
  deleteGroups(groupIds: readonly string[]): Promise<DeletedGroup[]>;
  /** Stops timers and answers parked requests with NOT_COORDINATOR. */
  close(): void;
}
