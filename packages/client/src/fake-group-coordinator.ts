import type { clientApi } from '@rivulet/proto';
import { decodeAssignment } from './group/consumer-protocol.js';
import { tpKey } from './types.js';

/*
 * An in-memory group coordinator for unit tests of the client's group logic, with Kafka's
 * classic rules where the client can tell the difference: MEMBER_ID_REQUIRED for new dynamic
 * members, a join barrier that waits for every known member (or drops those that miss the
 * rebalance timeout), the leader's assignment handed out by SyncGroup, REBALANCE_IN_PROGRESS /
 * ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID answers, static members fenced by a newer instance,
 * sessions that expire, and committed offsets — a member's only for partitions it was assigned
 * in its generation, as Rivulet's coordinator rules. It keeps no log and has one coordinator.
 */

const NONE = 0;
const ILLEGAL_GENERATION = 22;
const UNKNOWN_MEMBER_ID = 25;
const REBALANCE_IN_PROGRESS = 27;
const MEMBER_ID_REQUIRED = 79;
const FENCED_INSTANCE_ID = 82;
const INCONSISTENT_GROUP_PROTOCOL = 23;

type FakeGroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

interface FakeMember {
  readonly memberId: string;
  readonly groupInstanceId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: clientApi.JoinGroupProtocol[];
  assignment: Buffer;
  lastSeenMs: number;
  pendingJoin: ((response: clientApi.JoinGroupResponse) => void) | undefined;
  pendingSync: ((response: clientApi.SyncGroupResponse) => void) | undefined;
  /** A waiting heartbeat (maxWaitMs), answered when its wait ends or a rebalance starts. */
  pendingHeartbeat: ((errorCode: number) => void) | undefined;
}

export interface FakeGroup {
  state: FakeGroupState;
  generationId: number;
  protocolName: string;
  leaderId: string;
  readonly members: Map<string, FakeMember>;
  /** Member ids handed out with MEMBER_ID_REQUIRED, not joined yet. */
  readonly pendingMemberIds: Set<string>;
  readonly offsets: Map<string, number>;
  rebalanceTimer: NodeJS.Timeout | undefined;
}

export class FakeGroupCoordinator {
  readonly groups = new Map<string, FakeGroup>();
  private nextMemberNumber = 1;
  private sessionTimer: NodeJS.Timeout | undefined;

  group(groupId: string): FakeGroup {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { state: 'Empty', generationId: 0, protocolName: '', leaderId: '', members: new Map(), pendingMemberIds: new Set(), offsets: new Map(), rebalanceTimer: undefined };
      this.groups.set(groupId, group);
    }
    return group;
  }

  joinGroup(request: clientApi.JoinGroupRequest): Promise<clientApi.JoinGroupResponse> {
    this.watchSessions();
    const group = this.group(request.groupId);
    const failed = (errorCode: number, memberId = request.memberId): Promise<clientApi.JoinGroupResponse> =>
      Promise.resolve({ errorCode, errorMessage: '', generationId: -1, protocolType: '', protocolName: '', leader: '', skipAssignment: false, memberId, members: [] });
    if (group.members.size > 0 && !request.protocols.some((p) => [...group.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)))) {
      return failed(INCONSISTENT_GROUP_PROTOCOL);
    }
    let memberId = request.memberId;
    if (request.groupInstanceId !== '') {
      // A static member: a join under its instance id replaces (fences) the previous member id.
      const previous = [...group.members.values()].find((m) => m.groupInstanceId === request.groupInstanceId);
      if (previous !== undefined && previous.memberId !== memberId) {
        group.members.delete(previous.memberId);
        previous.pendingJoin?.({ errorCode: FENCED_INSTANCE_ID, errorMessage: '', generationId: -1, protocolType: '', protocolName: '', leader: '', skipAssignment: false, memberId: previous.memberId, members: [] });
        previous.pendingSync?.({ errorCode: FENCED_INSTANCE_ID, errorMessage: '', protocolType: '', protocolName: '', assignment: Buffer.alloc(0) });
        this.fencedInstances.set(previous.memberId, request.groupInstanceId);
      }
      if (memberId === '') memberId = `${request.groupInstanceId}-${this.nextMemberNumber++}`;
    } else if (memberId === '') {
      memberId = `${request.clientId}-${this.nextMemberNumber++}`;
      group.pendingMemberIds.add(memberId);
      return failed(MEMBER_ID_REQUIRED, memberId);
    } else if (!group.members.has(memberId) && !group.pendingMemberIds.has(memberId)) {
      return failed(UNKNOWN_MEMBER_ID);
    }
    group.pendingMemberIds.delete(memberId);
    const existing = group.members.get(memberId);
    const member: FakeMember = existing ?? {
      memberId,
      groupInstanceId: request.groupInstanceId,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      protocols: [],
      assignment: Buffer.alloc(0),
      lastSeenMs: Date.now(),
      pendingJoin: undefined,
      pendingSync: undefined,
      pendingHeartbeat: undefined,
    };
    member.protocols = request.protocols;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    member.lastSeenMs = Date.now();
    group.members.set(memberId, member);
    return new Promise((resolve) => {
      member.pendingJoin = resolve;
      if (group.state !== 'PreparingRebalance') this.prepareRebalance(group);
      this.maybeCompleteJoin(group);
    });
  }

  syncGroup(request: clientApi.SyncGroupRequest): Promise<clientApi.SyncGroupResponse> {
    const group = this.group(request.groupId);
    const answer = (errorCode: number, assignment: Buffer = Buffer.alloc(0)): clientApi.SyncGroupResponse => ({ errorCode, errorMessage: '', protocolType: 'consumer', protocolName: group.protocolName, assignment });
    const fenced = this.fencedInstances.get(request.memberId);
    if (fenced !== undefined) return Promise.resolve(answer(FENCED_INSTANCE_ID));
    const member = group.members.get(request.memberId);
    if (member === undefined) return Promise.resolve(answer(UNKNOWN_MEMBER_ID));
    if (request.generationId !== group.generationId) return Promise.resolve(answer(ILLEGAL_GENERATION));
    if (group.state === 'PreparingRebalance') return Promise.resolve(answer(REBALANCE_IN_PROGRESS));
    member.lastSeenMs = Date.now();
    if (group.state === 'Stable') return Promise.resolve(answer(NONE, member.assignment));
    return new Promise((resolve) => {
      member.pendingSync = resolve;
      if (request.memberId !== group.leaderId) return;
      for (const m of group.members.values()) m.assignment = Buffer.from(request.assignments.find((a) => a.memberId === m.memberId)?.assignment ?? Buffer.alloc(0));
      group.state = 'Stable';
      for (const m of group.members.values()) {
        const reply = m.pendingSync;
        m.pendingSync = undefined;
        reply?.(answer(NONE, m.assignment));
      }
    });
  }

  /** With maxWaitMs, a member in good standing waits up to that long (at most half its session), or until a rebalance starts. */
  heartbeat(request: clientApi.HeartbeatRequest, signal?: AbortSignal): Promise<clientApi.HeartbeatResponse> {
    const answer = (errorCode: number): clientApi.HeartbeatResponse => ({ errorCode, errorMessage: '' });
    const errorCode = this.checkMember(request.groupId, request.memberId, request.generationId, true);
    const member = this.group(request.groupId).members.get(request.memberId);
    if (errorCode !== NONE || request.maxWaitMs <= 0 || member === undefined) return Promise.resolve(answer(errorCode));
    member.pendingHeartbeat?.(NONE);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(this.checkMember(request.groupId, request.memberId, request.generationId, true)), Math.min(request.maxWaitMs, member.sessionTimeoutMs / 2));
      const finish = (code: number): void => {
        clearTimeout(timer);
        if (member.pendingHeartbeat === finish) member.pendingHeartbeat = undefined;
        resolve(answer(code));
      };
      member.pendingHeartbeat = finish;
      signal?.addEventListener('abort', () => finish(NONE), { once: true });
    });
  }

  leaveGroup(request: clientApi.LeaveGroupRequest): clientApi.LeaveGroupResponse {
    const group = this.group(request.groupId);
    const members = request.members.map((leaving) => {
      const member = group.members.get(leaving.memberId);
      if (member === undefined) return { memberId: leaving.memberId, groupInstanceId: leaving.groupInstanceId, errorCode: UNKNOWN_MEMBER_ID };
      this.removeMember(group, member);
      return { memberId: leaving.memberId, groupInstanceId: leaving.groupInstanceId, errorCode: NONE };
    });
    return { errorCode: NONE, errorMessage: '', members };
  }

  offsetCommit(request: clientApi.OffsetCommitRequest): clientApi.OffsetCommitResponse {
    const group = this.group(request.groupId);
    let errorCode = NONE;
    if (request.generationId >= 0 || request.memberId !== '' || group.members.size > 0) {
      errorCode = this.checkMember(request.groupId, request.memberId, request.generationId, false);
      if (errorCode === NONE && group.state === 'CompletingRebalance') errorCode = REBALANCE_IN_PROGRESS;
    }
    const member = request.generationId >= 0 ? group.members.get(request.memberId) : undefined;
    const assigned = member === undefined ? undefined : new Set(decodeAssignment(member.assignment).partitions.map((tp) => tpKey(tp.topic, tp.partition)));
    return {
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const key = tpKey(t.name, p.partitionIndex);
          const partitionCode = errorCode === NONE && assigned !== undefined && !assigned.has(key) ? ILLEGAL_GENERATION : errorCode;
          if (partitionCode === NONE) group.offsets.set(key, p.committedOffset);
          return { partitionIndex: p.partitionIndex, errorCode: partitionCode };
        }),
      })),
    };
  }

  /** No topics asks for every committed offset of the group, as Kafka's OffsetFetch. */
  offsetFetch(request: clientApi.OffsetFetchRequest): clientApi.OffsetFetchResponse {
    const group = this.group(request.groupId);
    if (request.topics.length === 0) {
      const byTopic = new Map<string, clientApi.FetchedOffset[]>();
      for (const [key, committedOffset] of group.offsets) {
        const [topic, partition] = key.split('\u0000') as [string, string];
        byTopic.set(topic, [...(byTopic.get(topic) ?? []), { partitionIndex: Number(partition), committedOffset, committedLeaderEpoch: -1, metadata: '', errorCode: NONE }]);
      }
      return { errorCode: NONE, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
    }
    return {
      errorCode: NONE,
      topics: request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => ({
          partitionIndex,
          committedOffset: group.offsets.get(tpKey(t.name, partitionIndex)) ?? -1,
          committedLeaderEpoch: -1,
          metadata: '',
          errorCode: NONE,
        })),
      })),
    };
  }

  /** Groups as Kafka's DescribeGroups reports them: unknown ones Dead; protocol, metadata and assignments once Stable. */
  describeGroups(request: clientApi.DescribeGroupsRequest): clientApi.DescribeGroupsResponse {
    return {
      groups: request.groupIds.map((groupId) => {
        const group = this.groups.get(groupId);
        if (group === undefined) return { groupId, errorCode: NONE, groupState: 'Dead', protocolType: '', protocolData: '', members: [] };
        const stable = group.state === 'Stable';
        return {
          groupId,
          errorCode: NONE,
          groupState: group.state,
          protocolType: 'consumer',
          protocolData: stable ? group.protocolName : '',
          members: [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: '',
            clientHost: '',
            memberMetadata: stable ? Buffer.from(m.protocols.find((p) => p.name === group.protocolName)!.metadata) : Buffer.alloc(0),
            memberAssignment: stable ? m.assignment : Buffer.alloc(0),
          })),
        };
      }),
    };
  }

  /** Member ids replaced by a newer instance of their static member, and that instance id. */
  private readonly fencedInstances = new Map<string, string>();

  private checkMember(groupId: string, memberId: string, generationId: number, isHeartbeat: boolean): number {
    if (this.fencedInstances.has(memberId)) return FENCED_INSTANCE_ID;
    const group = this.group(groupId);
    const member = group.members.get(memberId);
    if (member === undefined) return UNKNOWN_MEMBER_ID;
    member.lastSeenMs = Date.now();
    if (generationId !== group.generationId) return ILLEGAL_GENERATION;
    if (isHeartbeat && group.state === 'PreparingRebalance') return REBALANCE_IN_PROGRESS;
    return NONE;
  }

  private prepareRebalance(group: FakeGroup): void {
    group.state = 'PreparingRebalance';
    for (const member of group.members.values()) member.pendingHeartbeat?.(REBALANCE_IN_PROGRESS);
    clearTimeout(group.rebalanceTimer);
    const timeoutMs = Math.max(...[...group.members.values()].map((m) => m.rebalanceTimeoutMs));
    group.rebalanceTimer = setTimeout(() => {
      // Members that did not rejoin within the rebalance timeout are dropped.
      for (const member of [...group.members.values()]) if (member.pendingJoin === undefined) group.members.delete(member.memberId);
      this.maybeCompleteJoin(group);
    }, timeoutMs);
    group.rebalanceTimer.unref();
  }

  private maybeCompleteJoin(group: FakeGroup): void {
    if (group.state !== 'PreparingRebalance') return;
    const members = [...group.members.values()];
    if (members.length === 0) {
      clearTimeout(group.rebalanceTimer);
      group.state = 'Empty';
      return;
    }
    if (members.some((m) => m.pendingJoin === undefined)) return;
    clearTimeout(group.rebalanceTimer);
    group.generationId++;
    group.state = 'CompletingRebalance';
    if (!group.members.has(group.leaderId)) group.leaderId = members[0]!.memberId;
    const leader = group.members.get(group.leaderId)!;
    group.protocolName = leader.protocols.find((p) => members.every((m) => m.protocols.some((q) => q.name === p.name)))!.name;
    const metadataOf = (m: FakeMember): Buffer => Buffer.from(m.protocols.find((p) => p.name === group.protocolName)!.metadata);
    for (const member of members) {
      const reply = member.pendingJoin!;
      member.pendingJoin = undefined;
      const isLeader = member.memberId === group.leaderId;
      reply({
        errorCode: NONE,
        errorMessage: '',
        generationId: group.generationId,
        protocolType: 'consumer',
        protocolName: group.protocolName,
        leader: group.leaderId,
        skipAssignment: false,
        memberId: member.memberId,
        members: isLeader ? members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: metadataOf(m) })) : [],
      });
    }
  }

  private removeMember(group: FakeGroup, member: FakeMember): void {
    group.members.delete(member.memberId);
    member.pendingHeartbeat?.(UNKNOWN_MEMBER_ID);
    member.pendingSync?.({ errorCode: UNKNOWN_MEMBER_ID, errorMessage: '', protocolType: '', protocolName: '', assignment: Buffer.alloc(0) });
    if (group.members.size === 0) {
      clearTimeout(group.rebalanceTimer);
      group.state = 'Empty';
      return;
    }
    if (group.state !== 'PreparingRebalance') this.prepareRebalance(group);
    this.maybeCompleteJoin(group);
  }

  /** Expires members not heard from for their session timeout (members waiting in a join are not). */
  private watchSessions(): void {
    if (this.sessionTimer !== undefined) return;
    this.sessionTimer = setInterval(() => {
      const nowMs = Date.now();
      for (const group of this.groups.values()) {
        for (const member of [...group.members.values()]) {
          if (member.pendingJoin === undefined && nowMs - member.lastSeenMs > member.sessionTimeoutMs) this.removeMember(group, member);
        }
      }
    }, 10);
    this.sessionTimer.unref();
  }
}
