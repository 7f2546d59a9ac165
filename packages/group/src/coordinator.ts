/**
 * The group coordinator: Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup) and committed offsets, for the groups of the __consumer_offsets partitions this
 * node leads. Pure: time, timers, randomness, logging and the log itself are injected.
 *
 * States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable, back to
 * PreparingRebalance whenever membership or a member's protocols change, and to Empty when the
 * last member is gone. A group is Dead only while its deletion is being written.
 *
 * What is written to the log: the group (members and assignments) when the leader's
 * assignment arrives, when a static member takes a new member id, and when the group becomes
 * empty; offsets on commit; tombstones on expiry and deletion. Requests that depend on a write
 * are answered only once it is committed; state that depends on it changes only then too.
 */
import type { Cancellable, Clock, ErrorCodeValue, Logger, Random, Scheduler } from '@rivulet/common';
import { AssertionError, ErrorCode, RivuletError, assert, unreachable } from '@rivulet/common';
import { MalformedBytesError, utf8ByteLength } from './binary.js';
import { CONSUMER_PROTOCOL_TYPE, decodeConsumerAssignment } from './consumer-protocol.js';
import type { AssignedPartitions, MemberProfile } from './group.js';
import { EMPTY_BYTES, Group, Member, newMemberId } from './group.js';
import { groupPartition } from './group-partition.js';
import { ParkedRequest } from './parked-request.js';
import type { GroupMetadataValue, OffsetCommitValue } from './records.js';
import { decodeGroupMetadataValue, decodeOffsetCommitValue, decodeRecordKey, groupMetadataRecord, offsetCommitRecord } from './records.js';
import type {
  DeletedGroup,
  GroupConfig,
  GroupCoordinatorApi,
  GroupDescription,
  GroupListing,
  GroupLog,
  GroupRecord,
  GroupState,
  HeartbeatRequest,
  HeartbeatResult,
  JoinGroupMember,
  JoinGroupRequest,
  JoinGroupResult,
  LeaveGroupRequest,
  LeaveGroupResult,
  OffsetCommitRequest,
  OffsetCommitResult,
  OffsetFetchRequest,
  OffsetFetchResult,
  FetchedOffset,
  StoredGroupRecord,
  SyncGroupAssignment,
  SyncGroupRequest,
  SyncGroupResult,
} from './types.js';

/** Whether a member may commit an offset of a topic-partition. */
type OwnershipCheck = (topic: string, partition: number) => boolean;

export interface GroupCoordinatorOptions {
  readonly config: GroupConfig;
  /** Partitions of __consumer_offsets. */
  readonly partitionCount: number;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly random: Random;
  readonly logger: Logger;
  readonly log: GroupLog;
}

/** What was read back from a partition while it loads; later records replace earlier ones. */
interface ReplayedRecords {
  readonly groupValues: Map<string, GroupMetadataValue>;
  /** By group, then topic, then partition. */
  readonly offsets: Map<string, Map<string, Map<number, OffsetCommitValue>>>;
}

/** One partition of __consumer_offsets that this node leads. */
interface CoordinatedPartition {
  readonly partition: number;
  readonly leaderEpoch: number;
  /** Non-null while loading: requests are answered COORDINATOR_LOAD_IN_PROGRESS. */
  replayed: ReplayedRecords | null;
  readonly groups: Map<string, Group>;
  /** Requests waiting for an append (commits, deletions), answered with the error if the partition is unloaded first. */
  readonly writesInFlight: Set<(errorCode: number) => void>;
  expiryInFlight: boolean;
}

/** Why a record batch is appended: it decides how an append error is told to the client (as Kafka does). */
/** What a write of the coordinator is for, which decides how its failure is answered. */
export type WritePurpose = 'membership' | 'offsets' | 'deletion';

/** One partition's offset, being committed or expired. */
interface PartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly value: OffsetCommitValue;
}

export class GroupCoordinator implements GroupCoordinatorApi {
  private readonly config: GroupConfig;
  private readonly partitionCount: number;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly log: GroupLog;
  private readonly partitions = new Map<number, CoordinatedPartition>();
  private expiryTimer: Cancellable | null;
  private closed = false;

  constructor(options: GroupCoordinatorOptions) {
    assert(Number.isSafeInteger(options.partitionCount) && options.partitionCount > 0, `partitionCount must be a positive integer, got ${options.partitionCount}`);
    this.config = options.config;
    this.partitionCount = options.partitionCount;
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    this.random = options.random;
    this.logger = options.logger;
    this.log = options.log;
    this.expiryTimer = this.scheduleExpiry();
  }

  partitionFor(groupId: string): number {
    return groupPartition(groupId, this.partitionCount);
  }

  // ---- Loading and unloading ----

  beginLoading(partition: number, leaderEpoch: number): void {
    assert(!this.closed, 'a closed coordinator loads no partition');
    assert(Number.isInteger(partition) && partition >= 0 && partition < this.partitionCount, `partition ${partition} is not one of 0-${this.partitionCount - 1}`);
    if (this.partitions.has(partition)) this.unload(partition);
    this.partitions.set(partition, {
      partition,
      leaderEpoch,
      replayed: { groupValues: new Map(), offsets: new Map() },
      groups: new Map(),
      writesInFlight: new Set(),
      expiryInFlight: false,
    });
    this.logger.info({ partition, leaderEpoch }, 'loading group coordinator partition');
  }

  replay(partition: number, records: Iterable<StoredGroupRecord>): void {
    const replayed = this.partitions.get(partition)?.replayed;
    if (replayed === null || replayed === undefined) {
      this.logger.warn({ partition }, 'ignoring records replayed for a partition that is not loading');
      return;
    }
    for (const record of records) replayRecord(replayed, record, partition, this.logger);
  }

  finishLoading(partition: number, leaderEpoch: number): void {
    const coordinated = this.partitions.get(partition);
    const replayed = coordinated?.replayed;
    if (coordinated === undefined || replayed === null || replayed === undefined || coordinated.leaderEpoch !== leaderEpoch) {
      this.logger.warn({ partition, leaderEpoch }, 'ignoring the end of a load that is no longer current');
      return;
    }
    for (const [groupId, value] of replayed.groupValues) coordinated.groups.set(groupId, groupFromLog(groupId, value));
    let offsetCount = 0;
    for (const [groupId, topics] of replayed.offsets) {
      let group = coordinated.groups.get(groupId);
      if (group === undefined) coordinated.groups.set(groupId, (group = new Group(groupId, null)));
      for (const [topic, partitions] of topics) {
        for (const [topicPartition, value] of partitions) {
          group.setCommittedOffset(topic, topicPartition, value);
          offsetCount++;
        }
      }
    }
    coordinated.replayed = null;
    for (const group of coordinated.groups.values()) {
      group.finishLoading();
      for (const member of group.members.values()) this.restartSessionTimer(coordinated, group, member);
    }
    this.logger.info({ partition, leaderEpoch, groupCount: coordinated.groups.size, offsetCount }, 'group coordinator partition loaded');
  }

  unload(partition: number): void {
    const coordinated = this.partitions.get(partition);
    if (coordinated === undefined) return;
    this.partitions.delete(partition);
    for (const group of coordinated.groups.values()) abandonGroup(group, ErrorCode.NOT_COORDINATOR);
    for (const answerWithError of coordinated.writesInFlight) answerWithError(ErrorCode.NOT_COORDINATOR);
    coordinated.writesInFlight.clear();
    this.logger.info({ partition, leaderEpoch: coordinated.leaderEpoch, groupCount: coordinated.groups.size }, 'group coordinator partition unloaded');
  }

  close(): void {
    for (const partition of [...this.partitions.keys()]) this.unload(partition);
    this.expiryTimer?.cancel();
    this.expiryTimer = null;
    this.closed = true;
  }

  // ---- JoinGroup ----

  joinGroup(request: JoinGroupRequest): Promise<JoinGroupResult> {
    return Promise.resolve(this.handleJoin(request));
  }

  private handleJoin(request: JoinGroupRequest): JoinGroupResult | Promise<JoinGroupResult> {
    const coordinated = this.coordinatedPartitionOf(request.groupId);
    if (typeof coordinated === 'number') return joinFailure(request.memberId, coordinated);
    if (request.groupId === '') return joinFailure(request.memberId, ErrorCode.INVALID_GROUP_ID);
    const { minSessionTimeoutMs, maxSessionTimeoutMs, maxMemberMetadataBytes } = this.config;
    if (!(request.sessionTimeoutMs >= minSessionTimeoutMs && request.sessionTimeoutMs <= maxSessionTimeoutMs)) {
      return joinFailure(request.memberId, ErrorCode.INVALID_SESSION_TIMEOUT, `session timeout ${request.sessionTimeoutMs} ms is outside the allowed ${minSessionTimeoutMs}-${maxSessionTimeoutMs} ms`);
    }
    if (!Number.isSafeInteger(request.rebalanceTimeoutMs) || request.rebalanceTimeoutMs < 0) {
      return joinFailure(request.memberId, ErrorCode.INVALID_REQUEST, `rebalance timeout ${request.rebalanceTimeoutMs} ms is not a non-negative integer`);
    }
    const oversized = request.protocols.find((protocol) => protocol.metadata.byteLength > maxMemberMetadataBytes);
    if (oversized !== undefined) {
      return joinFailure(request.memberId, ErrorCode.INVALID_REQUEST, `metadata of protocol ${oversized.name} is ${oversized.metadata.byteLength} bytes, more than the ${maxMemberMetadataBytes} bytes a member may carry`);
    }
    const group = coordinated.groups.get(request.groupId);
    if (group?.state === 'Dead') return joinFailure(request.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (request.memberId === '') return this.joinNewMember(coordinated, group, request);
    if (group === undefined) return joinFailure(request.memberId, ErrorCode.UNKNOWN_MEMBER_ID);
    return this.joinKnownMember(coordinated, group, request);
  }

  /** A JoinGroup without a member id: a new dynamic member, a new static member, or a static member restarting. */
  private joinNewMember(coordinated: CoordinatedPartition, existingGroup: Group | undefined, request: JoinGroupRequest): JoinGroupResult | Promise<JoinGroupResult> {
    const protocolNames = request.protocols.map((protocol) => protocol.name);
    if (request.groupInstanceId !== null && existingGroup !== undefined) {
      const currentMemberId = existingGroup.staticMemberId(request.groupInstanceId);
      if (currentMemberId !== undefined) {
        if (!existingGroup.acceptsProtocols(request.protocolType, protocolNames, currentMemberId)) return inconsistentProtocol(request);
        return this.replaceStaticMember(coordinated, existingGroup, existingGroup.members.get(currentMemberId)!, request);
      }
    }
    const group = existingGroup ?? new Group(request.groupId, this.clock.wallClockMs());
    if (group.members.size + group.pendingMembers.size >= this.config.maxGroupSize) {
      return joinFailure(request.memberId, ErrorCode.GROUP_MAX_SIZE_REACHED, `group ${request.groupId} already has its maximum of ${this.config.maxGroupSize} members`);
    }
    if (!group.acceptsProtocols(request.protocolType, protocolNames, null)) return inconsistentProtocol(request);

    const memberId = newMemberId(request.clientId, this.random);
    if (existingGroup === undefined) coordinated.groups.set(group.groupId, group);
    if (request.groupInstanceId === null && request.requireKnownMemberId) {
      const forgetTimer = this.scheduler.schedule(request.sessionTimeoutMs, () => this.forgetPendingMember(coordinated, group, memberId));
      group.pendingMembers.set(memberId, forgetTimer);
      this.logger.debug({ groupId: group.groupId, memberId }, 'new member must rejoin with its member id');
      return joinFailure(memberId, ErrorCode.MEMBER_ID_REQUIRED);
    }
    return this.addMemberAndRebalance(coordinated, group, new Member(memberId, request.groupInstanceId, profileOf(request)), request.protocolType);
  }

  private joinKnownMember(coordinated: CoordinatedPartition, group: Group, request: JoinGroupRequest): JoinGroupResult | Promise<JoinGroupResult> {
    const protocolNames = request.protocols.map((protocol) => protocol.name);
    if (!group.acceptsProtocols(request.protocolType, protocolNames, request.memberId)) return inconsistentProtocol(request);
    if (request.groupInstanceId === null && group.pendingMembers.has(request.memberId)) {
      if (group.members.size >= this.config.maxGroupSize) {
        return joinFailure(request.memberId, ErrorCode.GROUP_MAX_SIZE_REACHED, `group ${request.groupId} already has its maximum of ${this.config.maxGroupSize} members`);
      }
      group.pendingMembers.get(request.memberId)!.cancel();
      group.pendingMembers.delete(request.memberId);
      return this.addMemberAndRebalance(coordinated, group, new Member(request.memberId, null, profileOf(request)), request.protocolType);
    }
    if (group.isFencedInstance(request.groupInstanceId, request.memberId)) return joinFailure(request.memberId, ErrorCode.FENCED_INSTANCE_ID);
    const member = group.members.get(request.memberId);
    if (member === undefined || (request.groupInstanceId !== null && group.staticMemberId(request.groupInstanceId) === undefined)) {
      return joinFailure(request.memberId, ErrorCode.UNKNOWN_MEMBER_ID);
    }
    switch (group.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(coordinated, group, member, request);
      case 'CompletingRebalance':
        // Unchanged: the member lost our answer; it gets the same one again.
        if (member.hasSameProtocols(request.protocols)) return this.answerJoinNow(coordinated, group, member);
        return this.updateMemberAndRebalance(coordinated, group, member, request);
      case 'Stable':
        // A rejoining leader asks for a new assignment (e.g. its topics' metadata changed).
        if (group.leaderId === member.memberId || !member.hasSameProtocols(request.protocols)) return this.updateMemberAndRebalance(coordinated, group, member, request);
        return this.answerJoinNow(coordinated, group, member);
      case 'Empty':
      case 'Dead':
        throw new AssertionError(`group ${group.groupId} has member ${member.memberId} in state ${group.state}`);
      default:
        return unreachable(group.state);
    }
  }

  private answerJoinNow(coordinated: CoordinatedPartition, group: Group, member: Member): JoinGroupResult {
    this.restartSessionTimer(coordinated, group, member);
    return joinSuccess(group, member, false);
  }

  private addMemberAndRebalance(coordinated: CoordinatedPartition, group: Group, member: Member, protocolType: string): Promise<JoinGroupResult> {
    group.addMember(member, protocolType);
    const parked = this.parkJoin(member);
    if (group.initialDelayRunning) group.memberJoinedDuringInitialDelay = true;
    this.logger.info(
      { groupId: group.groupId, memberId: member.memberId, groupInstanceId: member.groupInstanceId, generationId: group.generationId, memberCount: group.members.size },
      'member joined group',
    );
    this.prepareRebalanceUnlessPreparing(coordinated, group, `member ${member.memberId} joined`);
    this.completeJoinIfAllRejoined(coordinated, group);
    return parked.promise;
  }

  private updateMemberAndRebalance(coordinated: CoordinatedPartition, group: Group, member: Member, request: JoinGroupRequest): Promise<JoinGroupResult> {
    member.updateProfile(profileOf(request));
    const parked = this.parkJoin(member);
    this.prepareRebalanceUnlessPreparing(coordinated, group, `member ${member.memberId} rejoined${request.reason === null ? '' : `: ${request.reason}`}`);
    this.completeJoinIfAllRejoined(coordinated, group);
    return parked.promise;
  }

  /**
   * KIP-345: a static member restarted and joined without its member id. Its new id takes the
   * old one's place (requests from the old id are fenced from now on). In a Stable group with
   * unchanged protocols there is no rebalance: the group is written with the new id and the
   * member gets the current generation, the leader with skipAssignment (KIP-814).
   */
  private replaceStaticMember(coordinated: CoordinatedPartition, group: Group, oldMember: Member, request: JoinGroupRequest): Promise<JoinGroupResult> {
    const newMember = new Member(newMemberId(request.clientId, this.random), request.groupInstanceId, profileOf(request));
    newMember.setAssignment(oldMember.assignment, oldMember.assignmentGenerationId);
    newMember.syncedGenerationId = oldMember.syncedGenerationId;
    const protocolsUnchanged = oldMember.hasSameProtocols(request.protocols);
    stopSessionTimer(oldMember);
    answerParkedRequests(oldMember, ErrorCode.FENCED_INSTANCE_ID);
    group.replaceStaticMember(oldMember, newMember);
    const parked = this.parkJoin(newMember);
    this.logger.info(
      { groupId: group.groupId, groupInstanceId: request.groupInstanceId, oldMemberId: oldMember.memberId, memberId: newMember.memberId, generationId: group.generationId, memberCount: group.members.size },
      'static member rejoined under a new member id',
    );
    switch (group.state) {
      case 'Stable':
        if (protocolsUnchanged) this.writeStaticReplacement(coordinated, group, oldMember, newMember, parked);
        else this.prepareRebalance(coordinated, group, `static member ${request.groupInstanceId} rejoined with other protocols`);
        break;
      case 'CompletingRebalance':
        // The leader may have been given the old member id: its assignment would miss the new one.
        this.prepareRebalance(coordinated, group, `static member ${request.groupInstanceId} rejoined during the sync`);
        break;
      case 'PreparingRebalance':
        this.completeJoinIfAllRejoined(coordinated, group);
        break;
      case 'Empty':
      case 'Dead':
        throw new AssertionError(`group ${group.groupId} has a static member in state ${group.state}`);
      default:
        return unreachable(group.state);
    }
    return parked.promise;
  }

  private writeStaticReplacement(coordinated: CoordinatedPartition, group: Group, oldMember: Member, newMember: Member, parked: ParkedRequest<JoinGroupResult>): void {
    const generationId = group.generationId;
    const record = groupMetadataRecord(group.groupId, this.groupValue(group, null));
    void this.append(coordinated, [record], 'membership').then((errorCode) => {
      // Answered already (unloaded, fenced again), or a rebalance began and will answer it.
      if (parked.isAnswered || !this.isCurrent(coordinated, group) || group.state !== 'Stable' || group.generationId !== generationId) return;
      assert(newMember.awaitingJoin === parked, `static member ${newMember.memberId} lost its parked join`);
      newMember.awaitingJoin = null;
      if (errorCode === ErrorCode.NONE) {
        parked.answer(joinSuccess(group, newMember, group.leaderId === newMember.memberId));
        this.restartSessionTimer(coordinated, group, newMember);
        return;
      }
      parked.answer(joinFailure(newMember.memberId, errorCode));
      group.replaceStaticMember(newMember, oldMember);
      this.restartSessionTimer(coordinated, group, oldMember);
      this.logger.info({ groupId: group.groupId, groupInstanceId: newMember.groupInstanceId, memberId: oldMember.memberId, errorCode }, 'static member replacement undone: it could not be written');
    });
  }

  /** Parks a member's JoinGroup; a JoinGroup it had parked already is answered first, so each is answered once. */
  private parkJoin(member: Member): ParkedRequest<JoinGroupResult> {
    member.awaitingJoin?.answer(joinFailure(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS, 'superseded by a newer JoinGroup from the same member'));
    const parked = new ParkedRequest<JoinGroupResult>();
    member.awaitingJoin = parked;
    stopSessionTimer(member);
    return parked;
  }

  private forgetPendingMember(coordinated: CoordinatedPartition, group: Group, memberId: string): void {
    if (!this.isCurrent(coordinated, group) || !group.pendingMembers.delete(memberId)) return;
    this.logger.debug({ groupId: group.groupId, memberId }, 'forgot a member id that was never used to rejoin');
    this.completeJoinIfAllRejoined(coordinated, group);
  }

  // ---- Rebalances ----

  private prepareRebalanceUnlessPreparing(coordinated: CoordinatedPartition, group: Group, reason: string): void {
    if (group.state !== 'PreparingRebalance') this.prepareRebalance(coordinated, group, reason);
  }

  private prepareRebalance(coordinated: CoordinatedPartition, group: Group, reason: string): void {
    if (group.state === 'CompletingRebalance') this.failParkedSyncs(coordinated, group, ErrorCode.REBALANCE_IN_PROGRESS);
    group.syncDeadlineTimer?.cancel();
    group.syncDeadlineTimer = null;
    const startsEmpty = group.state === 'Empty';
    group.transitionTo('PreparingRebalance', this.clock.wallClockMs());
    for (const member of group.members.values()) answerRebalanceNotice(member, ErrorCode.REBALANCE_IN_PROGRESS);
    const rebalanceTimeoutMs = group.rebalanceTimeoutMs;
    if (startsEmpty) {
      // Kafka's InitialDelayedJoin: wait for more members before the first generation, and
      // keep waiting while they arrive, up to the rebalance timeout.
      group.initialDelayRunning = true;
      group.memberJoinedDuringInitialDelay = false;
      const delayMs = this.config.initialRebalanceDelayMs;
      this.scheduleInitialDelayStep(coordinated, group, delayMs, Math.max(rebalanceTimeoutMs - delayMs, 0));
    } else {
      group.rebalanceTimer = this.scheduler.schedule(rebalanceTimeoutMs, () => {
        group.rebalanceTimer = null;
        if (this.isCurrent(coordinated, group)) this.completeJoin(coordinated, group);
      });
    }
    this.logger.info({ groupId: group.groupId, generationId: group.generationId, memberCount: group.members.size, rebalanceTimeoutMs, reason }, 'preparing rebalance');
  }

  private scheduleInitialDelayStep(coordinated: CoordinatedPartition, group: Group, delayMs: number, remainingMs: number): void {
    group.rebalanceTimer = this.scheduler.schedule(delayMs, () => {
      group.rebalanceTimer = null;
      if (!this.isCurrent(coordinated, group)) return;
      if (group.memberJoinedDuringInitialDelay && remainingMs > 0) {
        group.memberJoinedDuringInitialDelay = false;
        const nextDelayMs = Math.min(this.config.initialRebalanceDelayMs, remainingMs);
        this.scheduleInitialDelayStep(coordinated, group, nextDelayMs, remainingMs - nextDelayMs);
        return;
      }
      group.initialDelayRunning = false;
      this.completeJoin(coordinated, group);
    });
  }

  private completeJoinIfAllRejoined(coordinated: CoordinatedPartition, group: Group): void {
    if (group.state === 'PreparingRebalance' && !group.initialDelayRunning && group.allMembersRejoined) this.completeJoin(coordinated, group);
  }

  /**
   * The rebalance ends: members that did not rejoin are removed, the generation advances, and
   * every parked JoinGroup is answered, the leader's with every member's metadata.
   */
  private completeJoin(coordinated: CoordinatedPartition, group: Group): void {
    assert(group.state === 'PreparingRebalance', `group ${group.groupId} completes a join in state ${group.state}`);
    group.rebalanceTimer?.cancel();
    group.rebalanceTimer = null;
    group.initialDelayRunning = false;
    for (const member of [...group.members.values()]) {
      if (member.awaitingJoin === null) this.removeMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID, 'it did not rejoin before the rebalance timeout');
    }
    const nowMs = this.clock.wallClockMs();
    group.generationId += 1;
    if (group.members.size === 0) {
      group.protocolName = null;
      group.transitionTo('Empty', nowMs);
      this.logger.info({ groupId: group.groupId, generationId: group.generationId, memberCount: 0 }, 'group is empty');
      this.writeInBackground(coordinated, [groupMetadataRecord(group.groupId, this.groupValue(group, null))], `empty group ${group.groupId}`);
      return;
    }
    group.protocolName = group.selectProtocol();
    group.transitionTo('CompletingRebalance', nowMs);
    this.logger.info(
      { groupId: group.groupId, generationId: group.generationId, memberCount: group.members.size, leader: group.leaderId, protocolName: group.protocolName },
      'rebalance completed: waiting for the leader to assign',
    );
    for (const member of group.members.values()) {
      const parked = member.awaitingJoin!;
      member.awaitingJoin = null;
      parked.answer(joinSuccess(group, member, false));
      this.restartSessionTimer(coordinated, group, member);
    }
    const generationId = group.generationId;
    group.syncDeadlineTimer = this.scheduler.schedule(group.rebalanceTimeoutMs, () => {
      group.syncDeadlineTimer = null;
      if (this.isCurrent(coordinated, group)) this.removeMembersThatDidNotSync(coordinated, group, generationId);
    });
  }

  /** Kafka's pending-sync timeout: a member that joined a generation but never synced holds the group back; it is removed. */
  private removeMembersThatDidNotSync(coordinated: CoordinatedPartition, group: Group, generationId: number): void {
    if (group.generationId !== generationId || (group.state !== 'CompletingRebalance' && group.state !== 'Stable')) return;
    const laggards = [...group.members.values()].filter((member) => member.syncedGenerationId !== generationId);
    if (laggards.length === 0) return;
    for (const member of laggards) this.removeMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID, 'it did not send a SyncGroup before the rebalance timeout');
    this.rebalanceAfterRemoval(coordinated, group, `${laggards.length} members did not sync`);
  }

  /** Takes a member out of the group, answering its parked requests with `errorCode`; the caller then rebalances. */
  private removeMember(group: Group, member: Member, errorCode: ErrorCodeValue, reason: string): void {
    stopSessionTimer(member);
    answerParkedRequests(member, errorCode);
    group.removeMember(member.memberId);
    this.logger.info(
      { groupId: group.groupId, memberId: member.memberId, groupInstanceId: member.groupInstanceId, generationId: group.generationId, memberCount: group.members.size, reason },
      'member removed from group',
    );
  }

  private rebalanceAfterRemoval(coordinated: CoordinatedPartition, group: Group, reason: string): void {
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.prepareRebalance(coordinated, group, reason);
        break;
      case 'PreparingRebalance':
        break;
      case 'Empty':
      case 'Dead':
        throw new AssertionError(`group ${group.groupId} lost a member in state ${group.state}`);
      default:
        return unreachable(group.state);
    }
    this.completeJoinIfAllRejoined(coordinated, group);
  }

  // ---- SyncGroup ----

  syncGroup(request: SyncGroupRequest): Promise<SyncGroupResult> {
    return Promise.resolve(this.handleSync(request));
  }

  private handleSync(request: SyncGroupRequest): SyncGroupResult | Promise<SyncGroupResult> {
    const coordinated = this.coordinatedPartitionOf(request.groupId);
    if (typeof coordinated === 'number') return syncFailure(coordinated);
    if (request.groupId === '') return syncFailure(ErrorCode.INVALID_GROUP_ID);
    const group = coordinated.groups.get(request.groupId);
    if (group === undefined) return syncFailure(ErrorCode.UNKNOWN_MEMBER_ID);
    if (group.state === 'Dead') return syncFailure(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (group.isFencedInstance(request.groupInstanceId, request.memberId)) return syncFailure(ErrorCode.FENCED_INSTANCE_ID);
    const member = group.members.get(request.memberId);
    if (member === undefined) return syncFailure(ErrorCode.UNKNOWN_MEMBER_ID);
    if (request.generationId !== group.generationId) return syncFailure(ErrorCode.ILLEGAL_GENERATION);
    if (request.protocolType !== null && request.protocolType !== group.protocolType) {
      return syncFailure(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `protocol type ${request.protocolType} is not the group's ${group.protocolType}`);
    }
    if (request.protocolName !== null && request.protocolName !== group.protocolName) {
      return syncFailure(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `protocol ${request.protocolName} is not the group's ${String(group.protocolName)}`);
    }
    const oversized = request.assignments.find((entry) => entry.assignment.byteLength > this.config.maxMemberMetadataBytes);
    if (oversized !== undefined) {
      return syncFailure(ErrorCode.INVALID_REQUEST, `assignment of member ${oversized.memberId} is ${oversized.assignment.byteLength} bytes, more than the ${this.config.maxMemberMetadataBytes} bytes a member may carry`);
    }
    switch (group.state) {
      case 'PreparingRebalance':
        return syncFailure(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        // The member lost our answer: the assignment is settled, it gets it again.
        member.syncedGenerationId = group.generationId;
        this.restartSessionTimer(coordinated, group, member);
        return syncSuccess(group, member.assignment);
      case 'CompletingRebalance': {
        member.syncedGenerationId = group.generationId;
        member.awaitingSync?.answer(syncFailure(ErrorCode.REBALANCE_IN_PROGRESS, 'superseded by a newer SyncGroup from the same member'));
        const parked = new ParkedRequest<SyncGroupResult>();
        member.awaitingSync = parked;
        stopSessionTimer(member);
        if (member.memberId === group.leaderId && group.assignmentWriteGenerationId !== group.generationId) this.writeAssignment(coordinated, group, request.assignments);
        return parked.promise;
      }
      case 'Empty':
        throw new AssertionError(`group ${group.groupId} has member ${member.memberId} in state ${group.state}`);
      default:
        return unreachable(group.state);
    }
  }

  /** Writes the leader's assignment; once it is committed every parked SyncGroup gets its part and the group is Stable. */
  private writeAssignment(coordinated: CoordinatedPartition, group: Group, assignments: readonly SyncGroupAssignment[]): void {
    const generationId = group.generationId;
    const sentByMember = new Map(assignments.map((entry) => [entry.memberId, entry.assignment]));
    const assignmentByMember = new Map([...group.members.keys()].map((memberId) => [memberId, sentByMember.get(memberId) ?? EMPTY_BYTES]));
    group.assignmentWriteGenerationId = generationId;
    const record = groupMetadataRecord(group.groupId, this.groupValue(group, assignmentByMember));
    void this.append(coordinated, [record], 'membership').then((errorCode) => {
      if (group.assignmentWriteGenerationId === generationId) group.assignmentWriteGenerationId = null;
      // The group moved on (a member joined or left, or the partition was unloaded): its parked syncs were answered then.
      if (!this.isCurrent(coordinated, group) || group.state !== 'CompletingRebalance' || group.generationId !== generationId) return;
      if (errorCode !== ErrorCode.NONE) {
        this.failParkedSyncs(coordinated, group, errorCode);
        this.prepareRebalance(coordinated, group, `the assignment of generation ${generationId} could not be written (error ${errorCode})`);
        return;
      }
      for (const member of group.members.values()) {
        const assignment = assignmentByMember.get(member.memberId);
        assert(assignment !== undefined, `member ${member.memberId} of group ${group.groupId} has no written assignment`);
        member.setAssignment(assignment, generationId);
      }
      group.transitionTo('Stable', this.clock.wallClockMs());
      this.logger.info({ groupId: group.groupId, generationId, memberCount: group.members.size }, 'group is stable');
      for (const member of group.members.values()) {
        const parked = member.awaitingSync;
        if (parked === null) continue;
        member.awaitingSync = null;
        parked.answer(syncSuccess(group, member.assignment));
        this.restartSessionTimer(coordinated, group, member);
      }
    });
  }

  /** Answers every parked SyncGroup with an error and forgets the assignments being handed out (Kafka's resetAndPropagateAssignmentError). */
  private failParkedSyncs(coordinated: CoordinatedPartition, group: Group, errorCode: number): void {
    for (const member of group.members.values()) {
      member.setAssignment(EMPTY_BYTES, null);
      const parked = member.awaitingSync;
      if (parked === null) continue;
      member.awaitingSync = null;
      parked.answer(syncFailure(errorCode));
      this.restartSessionTimer(coordinated, group, member);
    }
  }

  // ---- Heartbeat and LeaveGroup ----

  heartbeat(request: HeartbeatRequest): HeartbeatResult {
    const coordinated = this.coordinatedPartitionOf(request.groupId);
    if (typeof coordinated === 'number') return heartbeatResult(coordinated);
    if (request.groupId === '') return heartbeatResult(ErrorCode.INVALID_GROUP_ID);
    const group = coordinated.groups.get(request.groupId);
    if (group === undefined) return heartbeatResult(ErrorCode.UNKNOWN_MEMBER_ID);
    if (group.state === 'Dead') return heartbeatResult(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (group.isFencedInstance(request.groupInstanceId, request.memberId)) return heartbeatResult(ErrorCode.FENCED_INSTANCE_ID);
    const member = group.members.get(request.memberId);
    if (member === undefined) return heartbeatResult(ErrorCode.UNKNOWN_MEMBER_ID);
    if (request.generationId !== group.generationId) return heartbeatResult(ErrorCode.ILLEGAL_GENERATION);
    this.restartSessionTimer(coordinated, group, member);
    return heartbeatResult(group.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE);
  }

  heartbeatUntilRebalance(request: HeartbeatRequest, maxWaitMs: number, signal?: AbortSignal): Promise<HeartbeatResult> {
    const answer = this.heartbeat(request);
    if (answer.errorCode !== ErrorCode.NONE || maxWaitMs <= 0 || signal?.aborted === true) return Promise.resolve(answer);
    const coordinated = this.coordinatedPartitionOf(request.groupId);
    assert(typeof coordinated !== 'number', 'a heartbeat answered NONE comes from a loaded partition');
    const member = coordinated.groups.get(request.groupId)?.members.get(request.memberId);
    assert(member !== undefined, 'a heartbeat answered NONE comes from a member');
    // A member waits in one heartbeat at a time: a newer one takes the place of the older.
    answerRebalanceNotice(member, ErrorCode.NONE);
    const parked = new ParkedRequest<HeartbeatResult>();
    const waitMs = Math.min(maxWaitMs, Math.floor(member.sessionTimeoutMs / 2));
    const timer = this.scheduler.schedule(waitMs, () => {
      if (member.awaitingRebalance?.parked !== parked) return;
      member.awaitingRebalance = null;
      // Answered as a heartbeat arriving now: the member was still waiting, so it is alive.
      parked.answer(this.heartbeat(request));
    });
    member.awaitingRebalance = { parked, timer };
    signal?.addEventListener('abort', () => {
      if (member.awaitingRebalance?.parked === parked) answerRebalanceNotice(member, ErrorCode.NONE);
    }, { once: true });
    return parked.promise;
  }

  leaveGroup(request: LeaveGroupRequest): Promise<LeaveGroupResult> {
    return Promise.resolve(this.handleLeave(request));
  }

  private handleLeave(request: LeaveGroupRequest): LeaveGroupResult {
    const coordinated = this.coordinatedPartitionOf(request.groupId);
    if (typeof coordinated === 'number') return { errorCode: coordinated, errorMessage: null, members: [] };
    if (request.groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: null, members: [] };
    const group = coordinated.groups.get(request.groupId);
    const leaving = (errorCode: number) => request.members.map(({ memberId, groupInstanceId }) => ({ memberId, groupInstanceId, errorCode }));
    if (group === undefined) return { errorCode: ErrorCode.NONE, errorMessage: null, members: leaving(ErrorCode.UNKNOWN_MEMBER_ID) };
    if (group.state === 'Dead') return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null, members: [] };

    let removedMembers = 0;
    let forgotPendingMember = false;
    const members = request.members.map(({ memberId, groupInstanceId, reason }) => {
      const answer = (errorCode: number) => ({ memberId, groupInstanceId, errorCode });
      const removalReason = `it left the group${reason === null ? '' : `: ${reason}`}`;
      if (memberId === '') {
        // An administrator removes a static member by its instance id alone.
        const currentMemberId = groupInstanceId === null ? undefined : group.staticMemberId(groupInstanceId);
        if (currentMemberId === undefined) return answer(ErrorCode.UNKNOWN_MEMBER_ID);
        this.removeMember(group, group.members.get(currentMemberId)!, ErrorCode.UNKNOWN_MEMBER_ID, removalReason);
        removedMembers++;
        return answer(ErrorCode.NONE);
      }
      const pendingTimer = group.pendingMembers.get(memberId);
      if (pendingTimer !== undefined) {
        pendingTimer.cancel();
        group.pendingMembers.delete(memberId);
        forgotPendingMember = true;
        return answer(ErrorCode.NONE);
      }
      if (group.isFencedInstance(groupInstanceId, memberId)) return answer(ErrorCode.FENCED_INSTANCE_ID);
      const member = group.members.get(memberId);
      if (member === undefined) return answer(ErrorCode.UNKNOWN_MEMBER_ID);
      this.removeMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID, removalReason);
      removedMembers++;
      return answer(ErrorCode.NONE);
    });
    if (removedMembers > 0) this.rebalanceAfterRemoval(coordinated, group, `${removedMembers} members left`);
    else if (forgotPendingMember) this.completeJoinIfAllRejoined(coordinated, group);
    return { errorCode: ErrorCode.NONE, errorMessage: null, members };
  }

  // ---- Offsets ----

  commitOffsets(request: OffsetCommitRequest): Promise<OffsetCommitResult> {
    return Promise.resolve(this.handleCommit(request));
  }

  private handleCommit(request: OffsetCommitRequest): OffsetCommitResult | Promise<OffsetCommitResult> {
    const everyPartition = (errorCode: number): OffsetCommitResult => ({
      topics: request.topics.map((topic) => ({ name: topic.name, partitions: topic.partitions.map(({ partitionIndex }) => ({ partitionIndex, errorCode })) })),
    });
    const coordinated = this.coordinatedPartitionOf(request.groupId);
    if (typeof coordinated === 'number') return everyPartition(coordinated);
    const existingGroup = coordinated.groups.get(request.groupId);
    const validation = validateCommit(existingGroup, request);
    if (typeof validation === 'number') return everyPartition(validation);
    const committer = validation.member;
    if (existingGroup !== undefined && committer !== null) this.restartSessionTimer(coordinated, existingGroup, committer);
    const isOwnedByCommitter =
      existingGroup !== undefined && committer !== null && existingGroup.protocolType === CONSUMER_PROTOCOL_TYPE ? this.ownershipCheck(existingGroup, committer) : null;

    const commitTimestampMs = this.clock.wallClockMs();
    const accepted: PartitionOffset[] = [];
    const acceptedCodes: { partitionIndex: number; errorCode: number }[] = [];
    const topics = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((offset) => {
        const refusal = this.commitRefusal(topic.name, offset, isOwnedByCommitter);
        if (refusal !== ErrorCode.NONE) return { partitionIndex: offset.partitionIndex, errorCode: refusal };
        accepted.push({
          topic: topic.name,
          partition: offset.partitionIndex,
          value: { committedOffset: offset.committedOffset, committedLeaderEpoch: offset.committedLeaderEpoch, metadata: offset.committedMetadata, commitTimestampMs },
        });
        const answer = { partitionIndex: offset.partitionIndex, errorCode: ErrorCode.NONE as number };
        acceptedCodes.push(answer);
        return answer;
      }),
    }));
    if (accepted.length === 0) return { topics };

    // A simple commit (from outside group management) to an unknown group creates it, Empty.
    const group = existingGroup ?? new Group(request.groupId, commitTimestampMs);
    if (existingGroup === undefined) coordinated.groups.set(group.groupId, group);
    for (const { topic, partition } of accepted) group.beginCommit(topic, partition);
    const parked = new ParkedRequest<OffsetCommitResult>();
    const answer = (errorCode: number): void => {
      if (parked.isAnswered) return;
      for (const entry of acceptedCodes) entry.errorCode = errorCode;
      parked.answer({ topics });
    };
    coordinated.writesInFlight.add(answer);
    const records = accepted.map(({ topic, partition, value }) => offsetCommitRecord({ groupId: group.groupId, topic, partition }, value));
    void this.append(coordinated, records, 'offsets').then((errorCode) => {
      coordinated.writesInFlight.delete(answer);
      if (this.isCurrent(coordinated, group)) {
        for (const { topic, partition, value } of accepted) {
          group.endCommit(topic, partition);
          if (errorCode === ErrorCode.NONE) group.setCommittedOffset(topic, partition, value);
        }
        if (existingGroup === undefined && group.isForgettable) coordinated.groups.delete(group.groupId);
      }
      answer(errorCode);
    });
    return parked.promise;
  }

  /** Why one partition of a validated commit is refused, or NONE. */
  private commitRefusal(topic: string, offset: OffsetCommitRequest['topics'][number]['partitions'][number], isOwnedByCommitter: OwnershipCheck | null): number {
    if (!Number.isInteger(offset.partitionIndex) || offset.partitionIndex < 0 || offset.partitionIndex > 0x7fffffff) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (!Number.isSafeInteger(offset.committedOffset) || !Number.isInteger(offset.committedLeaderEpoch) || offset.committedLeaderEpoch < -0x80000000 || offset.committedLeaderEpoch > 0x7fffffff) {
      return ErrorCode.INVALID_REQUEST;
    }
    if (offset.committedMetadata !== null && utf8ByteLength(offset.committedMetadata) > this.config.offsetMetadataMaxBytes) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
    // Ours, beyond Kafka: a consumer commits only what it owns (see ownershipCheck).
    if (isOwnedByCommitter !== null && !isOwnedByCommitter(topic, offset.partitionIndex)) return ErrorCode.ILLEGAL_GENERATION;
    return ErrorCode.NONE;
  }

  /**
   * Which partitions a consumer-protocol member may commit: those assigned to it in the current
   * generation, and those it held in its previous assignment that no member holds now — a
   * cooperative member gives partitions up (and commits them, in onPartitionsRevoked) after it
   * learned its new assignment, and the group hands them over only in the next rebalance. null
   * (no check) when its assignment cannot be decoded.
   */
  private ownershipCheck(group: Group, member: Member): OwnershipCheck | null {
    const assigned = this.assignedPartitionsOf(group, member);
    if (assigned === null) return null;
    return (topic, partition) => {
      if (assigned.get(topic)?.has(partition) === true) return true;
      if (member.previousAssignmentGenerationId === null) return false;
      if (member.previousAssignedPartitions === undefined) member.previousAssignedPartitions = this.decodeAssignedPartitions(group, member, member.previousAssignment);
      if (member.previousAssignedPartitions?.get(topic)?.has(partition) !== true) return false;
      for (const other of group.members.values()) {
        if (other !== member && this.assignedPartitionsOf(group, other)?.get(topic)?.has(partition) === true) return false;
      }
      return true;
    };
  }

  /**
   * What a consumer-protocol member was assigned in the current generation: nothing if it has
   * no assignment of this generation, null (no check) if its assignment cannot be decoded.
   */
  private assignedPartitionsOf(group: Group, member: Member): AssignedPartitions {
    if (member.assignmentGenerationId !== group.generationId) return new Map();
    if (member.assignedPartitions === undefined) member.assignedPartitions = this.decodeAssignedPartitions(group, member, member.assignment);
    return member.assignedPartitions;
  }

  private decodeAssignedPartitions(group: Group, member: Member, bytes: Uint8Array): AssignedPartitions {
    try {
      const assignment = decodeConsumerAssignment(bytes);
      const byTopic = new Map<string, Set<number>>();
      for (const { topic, partitions } of assignment.assignedPartitions) {
        const assigned = byTopic.get(topic) ?? new Set<number>();
        for (const partition of partitions) assigned.add(partition);
        byTopic.set(topic, assigned);
      }
      return byTopic;
    } catch (error) {
      if (!(error instanceof MalformedBytesError)) throw error;
      this.logger.warn(
        { groupId: group.groupId, memberId: member.memberId, generationId: group.generationId, err: error },
        "member's assignment is not a consumer protocol assignment: its commits are not checked against it",
      );
      return null;
    }
  }

  fetchOffsets(request: OffsetFetchRequest): OffsetFetchResult {
    const coordinated = this.coordinatedPartitionOf(request.groupId);
    if (typeof coordinated === 'number') return { errorCode: coordinated, topics: [] };
    const found = coordinated.groups.get(request.groupId);
    const group = found?.state === 'Dead' ? undefined : found;
    const fetched = (topic: string, partitionIndex: number): FetchedOffset => {
      if (request.requireStable && group?.hasCommitInFlight(topic, partitionIndex) === true) {
        return { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: null, errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT };
      }
      const committed = group?.committedOffset(topic, partitionIndex);
      if (committed === undefined) return { partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: null, errorCode: ErrorCode.NONE };
      return { partitionIndex, committedOffset: committed.committedOffset, committedLeaderEpoch: committed.committedLeaderEpoch, metadata: committed.metadata, errorCode: ErrorCode.NONE };
    };
    if (request.topics !== null) {
      return {
        errorCode: ErrorCode.NONE,
        topics: request.topics.map((topic) => ({ name: topic.name, partitions: topic.partitionIndexes.map((partitionIndex) => fetched(topic.name, partitionIndex)) })),
      };
    }
    const topics = group === undefined ? [] : [...group.offsets.keys()].sort();
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((name) => ({
        name,
        partitions: [...group!.offsets.get(name)!.keys()].sort((left, right) => left - right).map((partitionIndex) => fetched(name, partitionIndex)),
      })),
    };
  }

  // ---- Describe, list, delete ----

  describeGroups(groupIds: readonly string[]): GroupDescription[] {
    return groupIds.map((groupId) => {
      const dead = (errorCode: number): GroupDescription => ({ groupId, errorCode, groupState: 'Dead', protocolType: '', protocolData: '', members: [] });
      const coordinated = this.coordinatedPartitionOf(groupId);
      if (typeof coordinated === 'number') return dead(coordinated);
      const group = coordinated.groups.get(groupId);
      if (group === undefined || group.state === 'Dead') return dead(ErrorCode.NONE);
      // As Kafka: metadata and assignments only once they are settled (Stable).
      const protocolName = group.state === 'Stable' ? group.protocolName : null;
      return {
        groupId,
        errorCode: ErrorCode.NONE,
        groupState: group.state,
        protocolType: group.protocolType,
        protocolData: protocolName ?? '',
        members: [...group.members.values()].map((member) => ({
          memberId: member.memberId,
          groupInstanceId: member.groupInstanceId,
          clientId: member.clientId,
          clientHost: member.clientHost,
          memberMetadata: protocolName === null ? EMPTY_BYTES : member.metadataFor(protocolName),
          memberAssignment: protocolName === null ? EMPTY_BYTES : member.assignment,
        })),
      };
    });
  }

  listGroups(states: readonly GroupState[] | null): GroupListing[] {
    const listings: GroupListing[] = [];
    for (const coordinated of this.partitions.values()) {
      if (coordinated.replayed !== null) continue;
      for (const group of coordinated.groups.values()) {
        if (states === null || states.includes(group.state)) listings.push({ groupId: group.groupId, protocolType: group.protocolType, groupState: group.state });
      }
    }
    return listings;
  }

  deleteGroups(groupIds: readonly string[]): Promise<DeletedGroup[]> {
    const answers = new Map<string, number | Promise<number>>();
    const deletable = new Map<CoordinatedPartition, Group[]>();
    for (const groupId of new Set(groupIds)) {
      const coordinated = this.coordinatedPartitionOf(groupId);
      if (typeof coordinated === 'number') {
        answers.set(groupId, coordinated);
        continue;
      }
      const group = coordinated.groups.get(groupId);
      if (group === undefined || group.state === 'Dead') answers.set(groupId, ErrorCode.GROUP_ID_NOT_FOUND);
      else if (group.state !== 'Empty') answers.set(groupId, ErrorCode.NON_EMPTY_GROUP);
      else deletable.set(coordinated, [...(deletable.get(coordinated) ?? []), group]);
    }
    for (const [coordinated, groups] of deletable) {
      const answer = this.deleteEmptyGroups(coordinated, groups);
      for (const group of groups) answers.set(group.groupId, answer);
    }
    return Promise.all(groupIds.map(async (groupId) => ({ groupId, errorCode: await answers.get(groupId)! })));
  }

  /** Dead while the tombstones are written (requests get COORDINATOR_NOT_AVAILABLE), removed once they are, Empty again if they are not. */
  private deleteEmptyGroups(coordinated: CoordinatedPartition, groups: readonly Group[]): Promise<number> {
    const nowMs = this.clock.wallClockMs();
    const emptySinceMs = new Map(groups.map((group) => [group, group.stateSinceMs]));
    const records: GroupRecord[] = [];
    for (const group of groups) {
      group.transitionTo('Dead', nowMs);
      records.push(...offsetTombstones(group), groupMetadataRecord(group.groupId, null));
    }
    const parked = new ParkedRequest<number>();
    const answer = (errorCode: number): void => {
      if (!parked.isAnswered) parked.answer(errorCode);
    };
    coordinated.writesInFlight.add(answer);
    void this.append(coordinated, records, 'deletion').then((errorCode) => {
      coordinated.writesInFlight.delete(answer);
      for (const group of groups) {
        if (!this.isCurrent(coordinated, group)) continue;
        if (errorCode !== ErrorCode.NONE) {
          group.undoDeletion(emptySinceMs.get(group)!);
          continue;
        }
        for (const forgetTimer of group.pendingMembers.values()) forgetTimer.cancel();
        coordinated.groups.delete(group.groupId);
        this.logger.info({ groupId: group.groupId, generationId: group.generationId }, 'group deleted');
      }
      answer(errorCode);
    });
    return parked.promise;
  }

  // ---- Offset expiry (KIP-211) ----

  private scheduleExpiry(): Cancellable {
    return this.scheduler.schedule(this.config.offsetsRetentionCheckIntervalMs, () => {
      this.expiryTimer = this.scheduleExpiry();
      for (const coordinated of this.partitions.values()) {
        if (coordinated.replayed === null && !coordinated.expiryInFlight) this.expireOffsets(coordinated);
      }
    });
  }

  /**
   * Removes the offsets of groups that have been Empty for the retention time, counted from
   * when the group became empty or from the offset's commit, whichever is later; an Empty
   * group left without offsets is removed too. Partitions with a commit in flight wait.
   */
  private expireOffsets(coordinated: CoordinatedPartition): void {
    const nowMs = this.clock.wallClockMs();
    const plans: { group: Group; expired: PartitionOffset[]; removesGroup: boolean }[] = [];
    const records: GroupRecord[] = [];
    for (const group of coordinated.groups.values()) {
      if (group.state !== 'Empty' || group.hasCommitsInFlight) continue;
      const expired: PartitionOffset[] = [];
      let offsetCount = 0;
      for (const [topic, partitions] of group.offsets) {
        for (const [partition, value] of partitions) {
          offsetCount++;
          const retainedSinceMs = Math.max(group.stateSinceMs ?? value.commitTimestampMs, value.commitTimestampMs);
          if (nowMs - retainedSinceMs >= this.config.offsetsRetentionMs) expired.push({ topic, partition, value });
        }
      }
      const removesGroup = expired.length === offsetCount && group.pendingMembers.size === 0;
      if (expired.length === 0 && !removesGroup) continue;
      for (const { topic, partition } of expired) records.push(offsetCommitRecord({ groupId: group.groupId, topic, partition }, null));
      if (removesGroup) records.push(groupMetadataRecord(group.groupId, null));
      plans.push({ group, expired, removesGroup });
    }
    if (records.length === 0) return;
    coordinated.expiryInFlight = true;
    void this.append(coordinated, records, 'offsets').then((errorCode) => {
      coordinated.expiryInFlight = false;
      if (this.partitions.get(coordinated.partition) !== coordinated) return;
      if (errorCode !== ErrorCode.NONE) {
        this.logger.warn({ partition: coordinated.partition, errorCode }, 'expired offsets could not be removed; trying again at the next check');
        return;
      }
      let removedOffsets = 0;
      for (const { group, expired, removesGroup } of plans) {
        if (!this.isCurrent(coordinated, group)) continue;
        for (const { topic, partition, value } of expired) {
          // A newer commit of the partition landed meanwhile: it stays.
          if (group.committedOffset(topic, partition) !== value) continue;
          group.deleteCommittedOffset(topic, partition);
          removedOffsets++;
        }
        if (removesGroup && group.isForgettable) {
          coordinated.groups.delete(group.groupId);
          this.logger.info({ groupId: group.groupId, generationId: group.generationId }, 'empty group without offsets removed');
        }
      }
      if (removedOffsets > 0) this.logger.info({ partition: coordinated.partition, offsetCount: removedOffsets }, 'expired offsets removed');
    });
  }

  // ---- Helpers ----

  /** The loaded partition that holds `groupId`, or the error that says why this node cannot serve it. */
  private coordinatedPartitionOf(groupId: string): CoordinatedPartition | ErrorCodeValue {
    const coordinated = this.partitions.get(this.partitionFor(groupId));
    if (coordinated === undefined) return ErrorCode.NOT_COORDINATOR;
    if (coordinated.replayed !== null) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return coordinated;
  }

  /** The partition is still loaded and the group still the one it holds under its id. */
  private isCurrent(coordinated: CoordinatedPartition, group: Group): boolean {
    return this.partitions.get(coordinated.partition) === coordinated && coordinated.groups.get(group.groupId) === group;
  }

  /** (Re)starts a member's session; it does not run while the member has a parked request. */
  private restartSessionTimer(coordinated: CoordinatedPartition, group: Group, member: Member): void {
    stopSessionTimer(member);
    if (member.hasParkedRequest) return;
    member.sessionTimer = this.scheduler.schedule(member.sessionTimeoutMs, () => {
      member.sessionTimer = null;
      if (!this.isCurrent(coordinated, group) || group.members.get(member.memberId) !== member) return;
      assert(!member.hasParkedRequest, `member ${member.memberId} timed out with a parked request`);
      this.removeMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID, 'its session timed out');
      this.rebalanceAfterRemoval(coordinated, group, `member ${member.memberId}'s session timed out`);
    });
  }

  /** The group as written to the log, with `assignments` in place of the members' current ones when given. */
  private groupValue(group: Group, assignments: ReadonlyMap<string, Uint8Array> | null): GroupMetadataValue {
    const protocolName = group.protocolName;
    return {
      protocolType: group.protocolType,
      generationId: group.generationId,
      protocolName,
      leader: group.leaderId,
      stateTimestampMs: group.stateSinceMs ?? this.clock.wallClockMs(),
      members: [...group.members.values()].map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        rebalanceTimeoutMs: member.rebalanceTimeoutMs,
        sessionTimeoutMs: member.sessionTimeoutMs,
        subscription: member.metadataFor(protocolName!),
        assignment: assignments?.get(member.memberId) ?? member.assignment,
      })),
    };
  }

  /** Appends and settles with the error code to answer: NONE, or the append's error as a client should see it. */
  private append(coordinated: CoordinatedPartition, records: readonly GroupRecord[], purpose: WritePurpose): Promise<number> {
    let appended: Promise<void>;
    try {
      appended = this.log.append(coordinated.partition, records);
    } catch (error) {
      appended = Promise.reject(error);
    }
    return appended.then(
      () => ErrorCode.NONE,
      (error: unknown) => {
        const errorCode = coordinatorErrorCode(error, purpose);
        this.logger.debug({ partition: coordinated.partition, recordCount: records.length, errorCode, err: error }, 'group coordinator append failed');
        return errorCode;
      },
    );
  }

  /** A write nobody waits for (an emptied group); a failure is only logged. */
  private writeInBackground(coordinated: CoordinatedPartition, records: readonly GroupRecord[], what: string): void {
    void this.append(coordinated, records, 'membership').then((errorCode) => {
      if (errorCode !== ErrorCode.NONE) this.logger.warn({ partition: coordinated.partition, errorCode }, `could not write ${what}`);
    });
  }
}

/**
 * Kafka's order of offset-commit checks. Returns the error for every partition, or the member
 * committing (null for a simple commit from outside group management).
 */
function validateCommit(group: Group | undefined, request: OffsetCommitRequest): ErrorCodeValue | { member: Member | null } {
  if (group === undefined) return request.generationId < 0 ? { member: null } : ErrorCode.ILLEGAL_GENERATION;
  if (group.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  if (request.generationId < 0 && group.state === 'Empty') return { member: null };
  if (request.generationId < 0 && request.memberId === '' && request.groupInstanceId === null) return ErrorCode.UNKNOWN_MEMBER_ID;
  if (request.groupInstanceId !== null) {
    const currentMemberId = group.staticMemberId(request.groupInstanceId);
    if (currentMemberId === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (currentMemberId !== request.memberId) return ErrorCode.FENCED_INSTANCE_ID;
  }
  const member = group.members.get(request.memberId);
  if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
  if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
  if (group.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
  return { member };
}

/**
 * How a failure of the coordinator's log reaches a group client, as Kafka's coordinator maps
 * them: errors of the __consumer_offsets partition become NOT_COORDINATOR (leadership moved:
 * find the coordinator again) or COORDINATOR_NOT_AVAILABLE (retry), never partition errors that
 * group clients do not expect. `purpose` is what the write was for: a timed-out assignment makes
 * members rejoin, a too-large commit is INVALID_COMMIT_OFFSET_SIZE.
 */
export function coordinatorErrorCode(error: unknown, purpose: WritePurpose): number {
  if (error instanceof AssertionError) throw error;
  const errorCode = error instanceof RivuletError ? error.code : ErrorCode.UNKNOWN_SERVER_ERROR;
  switch (errorCode) {
    case ErrorCode.NOT_COORDINATOR:
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.FENCED_LEADER_EPOCH:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.REQUEST_TIMED_OUT:
      // A consumer answers a timed-out SyncGroup by rejoining, a timed-out commit by retrying.
      return purpose === 'membership' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return purpose === 'offsets' ? ErrorCode.INVALID_COMMIT_OFFSET_SIZE : ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      return errorCode;
  }
}

function replayRecord(replayed: ReplayedRecords, record: StoredGroupRecord, partition: number, logger: Logger): void {
  const key = decodeRecordKey(record.key);
  switch (key.type) {
    case 'unknown':
      logger.warn({ partition, offset: record.offset, keyVersion: key.keyVersion }, 'skipping a __consumer_offsets record of an unknown key version');
      return;
    case 'groupMetadata':
      if (record.value === null) replayed.groupValues.delete(key.groupId);
      else replayed.groupValues.set(key.groupId, decodeGroupMetadataValue(record.value));
      return;
    case 'offsetCommit': {
      let topics = replayed.offsets.get(key.groupId);
      if (record.value === null) {
        const partitions = topics?.get(key.topic);
        partitions?.delete(key.partition);
        if (partitions?.size === 0) topics!.delete(key.topic);
        if (topics?.size === 0) replayed.offsets.delete(key.groupId);
        return;
      }
      const value = decodeOffsetCommitValue(record.value);
      if (topics === undefined) replayed.offsets.set(key.groupId, (topics = new Map()));
      let partitions = topics.get(key.topic);
      if (partitions === undefined) topics.set(key.topic, (partitions = new Map()));
      partitions.set(key.partition, value);
      return;
    }
    default:
      return unreachable(key);
  }
}

function groupFromLog(groupId: string, value: GroupMetadataValue): Group {
  const group = new Group(groupId, value.stateTimestampMs);
  group.generationId = value.generationId;
  group.protocolType = value.protocolType;
  group.protocolName = value.protocolName;
  for (const stored of value.members) {
    const member = new Member(stored.memberId, stored.groupInstanceId, {
      clientId: stored.clientId,
      clientHost: stored.clientHost,
      rebalanceTimeoutMs: stored.rebalanceTimeoutMs,
      sessionTimeoutMs: stored.sessionTimeoutMs,
      protocols: [{ name: value.protocolName!, metadata: stored.subscription }],
    });
    member.setAssignment(stored.assignment, value.generationId);
    member.syncedGenerationId = value.generationId;
    group.addMember(member, value.protocolType);
  }
  group.leaderId = value.leader;
  return group;
}

/** Tombstones for every offset a group has or is committing. */
function offsetTombstones(group: Group): GroupRecord[] {
  const keys = new Map<string, { topic: string; partition: number }>();
  for (const [topic, partitions] of group.offsets) for (const partition of partitions.keys()) keys.set(`${partition}:${topic}`, { topic, partition });
  for (const { topic, partition } of group.partitionsWithCommitsInFlight()) keys.set(`${partition}:${topic}`, { topic, partition });
  return [...keys.values()].map(({ topic, partition }) => offsetCommitRecord({ groupId: group.groupId, topic, partition }, null));
}

/** Cancels a group's timers and answers its parked requests: its partition is no longer ours. */
function abandonGroup(group: Group, errorCode: ErrorCodeValue): void {
  group.rebalanceTimer?.cancel();
  group.rebalanceTimer = null;
  group.syncDeadlineTimer?.cancel();
  group.syncDeadlineTimer = null;
  for (const forgetTimer of group.pendingMembers.values()) forgetTimer.cancel();
  group.pendingMembers.clear();
  for (const member of group.members.values()) {
    stopSessionTimer(member);
    answerParkedRequests(member, errorCode);
  }
}

function answerParkedRequests(member: Member, errorCode: ErrorCodeValue): void {
  const { awaitingJoin, awaitingSync } = member;
  member.awaitingJoin = null;
  member.awaitingSync = null;
  awaitingJoin?.answer(joinFailure(member.memberId, errorCode));
  awaitingSync?.answer(syncFailure(errorCode));
  answerRebalanceNotice(member, errorCode);
}

/** Ends a member's waiting heartbeat, if any, with `errorCode`. */
function answerRebalanceNotice(member: Member, errorCode: number): void {
  const waiting = member.awaitingRebalance;
  if (waiting === null) return;
  member.awaitingRebalance = null;
  waiting.timer.cancel();
  waiting.parked.answer(heartbeatResult(errorCode));
}

function stopSessionTimer(member: Member): void {
  member.sessionTimer?.cancel();
  member.sessionTimer = null;
}

function profileOf(request: JoinGroupRequest): MemberProfile {
  return {
    clientId: request.clientId,
    clientHost: request.clientHost,
    rebalanceTimeoutMs: request.rebalanceTimeoutMs,
    sessionTimeoutMs: request.sessionTimeoutMs,
    protocols: request.protocols,
  };
}

function memberMetadata(group: Group): JoinGroupMember[] {
  return [...group.members.values()].map((member) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId, metadata: member.metadataFor(group.protocolName!) }));
}

function joinSuccess(group: Group, member: Member, skipAssignment: boolean): JoinGroupResult {
  const isLeader = group.leaderId === member.memberId;
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    generationId: group.generationId,
    protocolType: group.protocolType,
    protocolName: group.protocolName,
    leader: group.leaderId!,
    skipAssignment,
    memberId: member.memberId,
    members: isLeader ? memberMetadata(group) : [],
  };
}

function joinFailure(memberId: string, errorCode: number, errorMessage: string | null = null): JoinGroupResult {
  return { errorCode, errorMessage, generationId: -1, protocolType: null, protocolName: null, leader: '', skipAssignment: false, memberId, members: [] };
}

function inconsistentProtocol(request: JoinGroupRequest): JoinGroupResult {
  const names = request.protocols.map((protocol) => protocol.name).join(', ');
  return joinFailure(request.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL, `protocol type "${request.protocolType}" with protocols [${names}] is not compatible with the group's members`);
}

function syncSuccess(group: Group, assignment: Uint8Array): SyncGroupResult {
  return { errorCode: ErrorCode.NONE, errorMessage: null, protocolType: group.protocolType, protocolName: group.protocolName, assignment };
}

function syncFailure(errorCode: number, errorMessage: string | null = null): SyncGroupResult {
  return { errorCode, errorMessage, protocolType: null, protocolName: null, assignment: EMPTY_BYTES };
}

function heartbeatResult(errorCode: number): HeartbeatResult {
  return { errorCode, errorMessage: null };
}
