/**
 * One consumer group's state, as the coordinator keeps it in memory: its members, its
 * generation and chosen protocol, and its committed offsets. The rules that say when this
 * state changes live in coordinator.ts; this file keeps the state consistent (one leader who
 * is a member, one member per static instance id, legal state transitions).
 */
import type { Cancellable, Random } from '@rivulet/common';
import { assert } from '@rivulet/common';
import type { ParkedRequest } from './parked-request.js';
import type { OffsetCommitValue } from './records.js';
import type { GroupState, HeartbeatResult, JoinGroupProtocol, JoinGroupResult, SyncGroupResult } from './types.js';

export const EMPTY_BYTES = new Uint8Array(0);

/** Which partitions a member was assigned, by topic; null when its assignment cannot be read. */
export type AssignedPartitions = ReadonlyMap<string, ReadonlySet<number>> | null;

export interface MemberProfile {
  readonly clientId: string;
  readonly clientHost: string;
  readonly rebalanceTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly protocols: readonly JoinGroupProtocol[];
}

export class Member {
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** In the member's order of preference. */
  protocols: readonly JoinGroupProtocol[];
  /** What the leader assigned it, as last written to the log; empty until then. */
  assignment: Uint8Array = EMPTY_BYTES;
  /** The generation `assignment` belongs to; null when the member has none. */
  assignmentGenerationId: number | null = null;
  /** `assignment` decoded by the consumer protocol, once a commit needed it; undefined until then. */
  assignedPartitions: AssignedPartitions | undefined = undefined;
  /**
   * The assignment it held before `assignment` (or before a failed rebalance emptied it), with
   * its generation: a cooperative member commits the partitions it gives up after it learned
   * its new assignment.
   */
  previousAssignment: Uint8Array = EMPTY_BYTES;
  previousAssignmentGenerationId: number | null = null;
  /** `previousAssignment` decoded, once a commit needed it. */
  previousAssignedPartitions: AssignedPartitions | undefined = undefined;
  /** The generation in which the member last sent a SyncGroup. */
  syncedGenerationId: number | null = null;
  /** Its JoinGroup, parked until the rebalance completes. */
  awaitingJoin: ParkedRequest<JoinGroupResult> | null = null;
  /** Its SyncGroup, parked until the leader's assignment is written. */
  awaitingSync: ParkedRequest<SyncGroupResult> | null = null;
  /** Runs while the member has no parked request; removes the member when it fires. */
  sessionTimer: Cancellable | null = null;
  /** A heartbeat held until a rebalance starts or its wait ends (heartbeatUntilRebalance); the session runs meanwhile. */
  awaitingRebalance: { readonly parked: ParkedRequest<HeartbeatResult>; readonly timer: Cancellable } | null = null;

  constructor(
    readonly memberId: string,
    readonly groupInstanceId: string | null,
    profile: MemberProfile,
  ) {
    this.clientId = profile.clientId;
    this.clientHost = profile.clientHost;
    this.rebalanceTimeoutMs = profile.rebalanceTimeoutMs;
    this.sessionTimeoutMs = profile.sessionTimeoutMs;
    this.protocols = profile.protocols;
  }

  get hasParkedRequest(): boolean {
    return this.awaitingJoin !== null || this.awaitingSync !== null;
  }

  updateProfile(profile: MemberProfile): void {
    this.clientId = profile.clientId;
    this.clientHost = profile.clientHost;
    this.rebalanceTimeoutMs = profile.rebalanceTimeoutMs;
    this.sessionTimeoutMs = profile.sessionTimeoutMs;
    this.protocols = profile.protocols;
  }

  supports(protocolName: string): boolean {
    return this.protocols.some((protocol) => protocol.name === protocolName);
  }

  metadataFor(protocolName: string): Uint8Array {
    const protocol = this.protocols.find((candidate) => candidate.name === protocolName);
    assert(protocol !== undefined, `member ${this.memberId} does not support the group's protocol ${protocolName}`);
    return protocol.metadata;
  }

  /** Same protocols, in the same order, with the same metadata bytes. */
  hasSameProtocols(protocols: readonly JoinGroupProtocol[]): boolean {
    return protocols.length === this.protocols.length && protocols.every((protocol, index) => protocol.name === this.protocols[index]!.name && bytesEqual(protocol.metadata, this.protocols[index]!.metadata));
  }

  setAssignment(assignment: Uint8Array, generationId: number | null): void {
    if (this.assignmentGenerationId !== null && generationId !== this.assignmentGenerationId) {
      this.previousAssignment = this.assignment;
      this.previousAssignmentGenerationId = this.assignmentGenerationId;
      this.previousAssignedPartitions = undefined;
    }
    this.assignment = assignment;
    this.assignmentGenerationId = generationId;
    this.assignedPartitions = undefined;
  }
}

/** Kafka's legal transitions, by target state. */
const LEGAL_PREVIOUS_STATES: Readonly<Record<GroupState, readonly GroupState[]>> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Empty', 'Stable', 'CompletingRebalance'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Empty'],
};

export class Group {
  state: GroupState = 'Empty';
  /** Wall-clock time the group entered its state; null for a group known only from its offsets in the log. */
  stateSinceMs: number | null;
  generationId = 0;
  /** '' until a member joins: a group that only ever had simple commits has none. */
  protocolType = '';
  /** Chosen at each rebalance; null while the group has no members. */
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** In the order they joined. */
  readonly members = new Map<string, Member>();
  private readonly memberIdByInstanceId = new Map<string, string>();
  /** KIP-394: ids handed out with MEMBER_ID_REQUIRED, each with the timer that forgets it if it never rejoins. */
  readonly pendingMembers = new Map<string, Cancellable>();
  /** In PreparingRebalance: the rebalance timeout, or the next step of the initial delay. */
  rebalanceTimer: Cancellable | null = null;
  /** The first rebalance of an empty group is waiting for more members (Kafka's InitialDelayedJoin). */
  initialDelayRunning = false;
  /** A member joined during the current step of the initial delay, so it is extended. */
  memberJoinedDuringInitialDelay = false;
  /** After a rebalance: members that have not sent a SyncGroup by then are removed. */
  syncDeadlineTimer: Cancellable | null = null;
  /** The generation whose assignment is being appended to the log, if any. */
  assignmentWriteGenerationId: number | null = null;
  /** Committed offsets by topic, then partition. */
  readonly offsets = new Map<string, Map<number, OffsetCommitValue>>();
  /** Commits appended but not yet acknowledged, counted by topic, then partition. */
  private readonly commitsInFlight = new Map<string, Map<number, number>>();

  constructor(
    readonly groupId: string,
    stateSinceMs: number | null,
  ) {
    this.stateSinceMs = stateSinceMs;
  }

  transitionTo(state: GroupState, nowMs: number): void {
    assert(LEGAL_PREVIOUS_STATES[state].includes(this.state), `group ${this.groupId} cannot go from ${this.state} to ${state}`);
    this.state = state;
    this.stateSinceMs = nowMs;
  }

  /** A group just read back from the log is Stable when it has members (they must heartbeat to stay), Empty otherwise. */
  finishLoading(): void {
    assert(this.state === 'Empty', `group ${this.groupId} is loaded in state ${this.state}`);
    if (this.members.size > 0) this.state = 'Stable';
  }

  /** A deletion could not be written: the group is Empty again, since the time it was before. */
  undoDeletion(stateSinceMs: number | null): void {
    assert(this.state === 'Dead', `group ${this.groupId} undoes a deletion in state ${this.state}`);
    this.state = 'Empty';
    this.stateSinceMs = stateSinceMs;
  }

  /** The largest rebalance timeout of the members: how long a rebalance waits for them to rejoin. */
  get rebalanceTimeoutMs(): number {
    let timeoutMs = 0;
    for (const member of this.members.values()) timeoutMs = Math.max(timeoutMs, member.rebalanceTimeoutMs);
    return timeoutMs;
  }

  staticMemberId(groupInstanceId: string): string | undefined {
    return this.memberIdByInstanceId.get(groupInstanceId);
  }

  /** A request from an old member id of a static instance that has since rejoined under a new one. */
  isFencedInstance(groupInstanceId: string | null, memberId: string): boolean {
    if (groupInstanceId === null) return false;
    const currentMemberId = this.memberIdByInstanceId.get(groupInstanceId);
    return currentMemberId !== undefined && currentMemberId !== memberId;
  }

  addMember(member: Member, protocolType: string): void {
    assert(!this.members.has(member.memberId), `member ${member.memberId} joins group ${this.groupId} twice`);
    if (this.members.size === 0) this.protocolType = protocolType;
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) {
      assert(!this.memberIdByInstanceId.has(member.groupInstanceId), `instance ${member.groupInstanceId} already has a member in group ${this.groupId}`);
      this.memberIdByInstanceId.set(member.groupInstanceId, member.memberId);
    }
    this.leaderId ??= member.memberId;
  }

  removeMember(memberId: string): void {
    const member = this.members.get(memberId);
    assert(member !== undefined, `member ${memberId} is not in group ${this.groupId}`);
    this.members.delete(memberId);
    if (member.groupInstanceId !== null && this.memberIdByInstanceId.get(member.groupInstanceId) === memberId) {
      this.memberIdByInstanceId.delete(member.groupInstanceId);
    }
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
  }

  /** A static instance rejoined under a new member id: the new member takes the old one's place, leadership included. */
  replaceStaticMember(oldMember: Member, newMember: Member): void {
    assert(oldMember.groupInstanceId !== null && oldMember.groupInstanceId === newMember.groupInstanceId, 'only a static member is replaced, by the same instance');
    const wasLeader = this.leaderId === oldMember.memberId;
    this.removeMember(oldMember.memberId);
    this.addMember(newMember, this.protocolType);
    if (wasLeader) this.leaderId = newMember.memberId;
  }

  /**
   * Kafka's selectProtocol: among the protocols every member supports, each member votes for
   * the one it prefers most; the most votes wins. Ties go to the leader's preference.
   */
  selectProtocol(): string {
    const leader = this.leaderId === null ? undefined : this.members.get(this.leaderId);
    assert(leader !== undefined, `group ${this.groupId} selects a protocol without a leader`);
    const members = [...this.members.values()];
    const candidates = [...new Set(leader.protocols.map((protocol) => protocol.name))].filter((name) => members.every((member) => member.supports(name)));
    assert(candidates.length > 0, `group ${this.groupId} has no protocol every member supports`);
    const votes = new Map(candidates.map((name) => [name, 0]));
    for (const member of members) {
      const choice = member.protocols.find((protocol) => votes.has(protocol.name))!.name;
      votes.set(choice, votes.get(choice)! + 1);
    }
    let selected = candidates[0]!;
    for (const name of candidates) if (votes.get(name)! > votes.get(selected)!) selected = name;
    return selected;
  }

  /**
   * Whether a member (new, or `memberId` rejoining) with these protocols may be in the group:
   * the protocol type must be the group's while it has members, and one of its protocols must
   * be supported by every other member.
   */
  acceptsProtocols(protocolType: string, protocolNames: readonly string[], memberId: string | null): boolean {
    if (protocolType === '' || protocolNames.length === 0) return false;
    if (this.members.size > 0 && protocolType !== this.protocolType) return false;
    const others = [...this.members.values()].filter((member) => member.memberId !== memberId);
    return protocolNames.some((name) => others.every((member) => member.supports(name)));
  }

  /** Every member has a parked JoinGroup and no MEMBER_ID_REQUIRED answer is still waiting for its rejoin. */
  get allMembersRejoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const member of this.members.values()) if (member.awaitingJoin === null) return false;
    return true;
  }

  committedOffset(topic: string, partition: number): OffsetCommitValue | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  setCommittedOffset(topic: string, partition: number, value: OffsetCommitValue): void {
    let partitions = this.offsets.get(topic);
    if (partitions === undefined) this.offsets.set(topic, (partitions = new Map()));
    partitions.set(partition, value);
  }

  deleteCommittedOffset(topic: string, partition: number): void {
    const partitions = this.offsets.get(topic);
    partitions?.delete(partition);
    if (partitions?.size === 0) this.offsets.delete(topic);
  }

  get hasOffsets(): boolean {
    return this.offsets.size > 0;
  }

  hasCommitInFlight(topic: string, partition: number): boolean {
    return this.commitsInFlight.get(topic)?.has(partition) ?? false;
  }

  get hasCommitsInFlight(): boolean {
    return this.commitsInFlight.size > 0;
  }

  /** Every partition with a commit in flight, each once. */
  *partitionsWithCommitsInFlight(): Iterable<{ readonly topic: string; readonly partition: number }> {
    for (const [topic, partitions] of this.commitsInFlight) for (const partition of partitions.keys()) yield { topic, partition };
  }

  beginCommit(topic: string, partition: number): void {
    let partitions = this.commitsInFlight.get(topic);
    if (partitions === undefined) this.commitsInFlight.set(topic, (partitions = new Map()));
    partitions.set(partition, (partitions.get(partition) ?? 0) + 1);
  }

  endCommit(topic: string, partition: number): void {
    const partitions = this.commitsInFlight.get(topic);
    const count = partitions?.get(partition);
    assert(partitions !== undefined && count !== undefined, `group ${this.groupId} ends a commit of ${topic}-${partition} it did not begin`);
    if (count > 1) partitions.set(partition, count - 1);
    else partitions.delete(partition);
    if (partitions.size === 0) this.commitsInFlight.delete(topic);
  }

  /** An empty group with nothing left to remember: no offsets, no commit in flight, no pending member. */
  get isForgettable(): boolean {
    return this.state === 'Empty' && this.members.size === 0 && !this.hasOffsets && !this.hasCommitsInFlight && this.pendingMembers.size === 0;
  }
}

/** `${clientId}-${a random version-4 UUID}`, Kafka's shape of member id, from the injected randomness. */
export function newMemberId(clientId: string, random: Random): string {
  const bytes = Array.from({ length: 16 }, () => random.nextInt(256));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${clientId}-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function bytesEqual(left: Uint8Array, right: Uint8Array): boolean {
  if (left.byteLength !== right.byteLength) return false;
  for (let index = 0; index < left.byteLength; index++) if (left[index] !== right[index]) return false;
  return true;
}
