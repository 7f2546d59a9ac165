import { RivuletError, type Logger } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import type { MemberSubscription, PartitionAssignor, RebalanceProtocol } from '../assignors/assignor.js';
import { backoffDelayMs, sleep, type BackoffPolicy } from '../backoff.js';
import type { Cluster } from '../cluster.js';
import { toRivuletError } from '../errors.js';
import { Signal } from '../signal.js';
import { tpKey, type TopicPartitionRef } from '../types.js';
import { decodeAssignment, decodeSubscription, encodeAssignment, encodeSubscription } from './consumer-protocol.js';
import { CoordinatorLink, isCoordinatorMoved } from './coordinator-link.js';
import { GroupOffsets, NO_GENERATION, type CommitterIdentity } from './group-offsets.js';

/** What the member asks of the consumer it manages partitions for. */
export interface MembershipHost {
  /** The partitions the consumer consumes now. */
  ownedPartitions(): TopicPartitionRef[];
  /**
   * Gives partitions up in a rebalance, first committing what was consumed of them (when
   * committing automatically) if `commit`: before rejoining, while the member still holds
   * them, since the coordinator refuses commits for partitions another member holds.
   */
  revokePartitions(partitions: readonly TopicPartitionRef[], commit: boolean): Promise<void>;
  /** Commits what was consumed of every partition (when committing automatically), before a cooperative rejoin. */
  commitConsumed(): Promise<void>;
  /** Drops partitions another member may already own: nothing is committed for them. */
  losePartitions(partitions: readonly TopicPartitionRef[]): Promise<void>;
  /** Starts consuming newly assigned partitions (called after every rebalance, also with none). */
  assignPartitions(partitions: readonly TopicPartitionRef[]): Promise<void>;
  /** The membership failed for good (FENCED_INSTANCE_ID, ...): readers get `error`. */
  fail(error: RivuletError): void;
}

/** Topics by name, or every topic whose name matches. */
export type TopicSubscription = readonly string[] | RegExp;

export interface GroupMemberOptions {
  readonly groupId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** In order of preference; the coordinator picks the first one every member offers. */
  readonly assignors: readonly PartitionAssignor[];
  readonly requestTimeoutMs: number;
  readonly backoff: BackoffPolicy;
  /** How often the subscription is looked up again: new topics matching a pattern, partitions added to subscribed topics. */
  readonly metadataMaxAgeMs: number;
  readonly logger: Logger;
}

/** Time a JoinGroup may take beyond the rebalance timeout, by which the coordinator answers at the latest (Kafka's margin). */
const JOIN_DEADLINE_MARGIN_MS = 5_000;

/** Errors no retry can mend: the consumer stops and its readers get them. */
const FATAL_ERRORS: ReadonlySet<string> = new Set([
  'FENCED_INSTANCE_ID',
  'GROUP_MAX_SIZE_REACHED',
  'INCONSISTENT_GROUP_PROTOCOL',
  'INVALID_SESSION_TIMEOUT',
  'INVALID_GROUP_ID',
  'INVALID_REQUEST',
  'UNSUPPORTED_VERSION',
]);

/**
 * - unjoined: no generation (before the first join, or after the coordinator forgot us);
 * - joining: a JoinGroup is out (no heartbeats: the coordinator waits for the join instead);
 * - syncing: joined a generation, waiting for its assignment;
 * - stable: consuming the generation's assignment, heartbeating.
 */
type MemberState = 'unjoined' | 'joining' | 'syncing' | 'stable';

/**
 * One consumer's membership in a group, Kafka's classic protocol: find the coordinator, join
 * (the leader computes the assignment with the chosen assignor), sync, then heartbeat on a
 * timer until the coordinator calls for a rebalance, and rejoin.
 *
 * Rebalances run one at a time in a loop. Heartbeats are timers of their own, so a slow async
 * record handler does not stop them (a handler that blocks the event loop does: nothing runs
 * then, as with any Node code). Under the eager protocol every partition is revoked before
 * joining; under the cooperative one (KIP-429) partitions stay consumed through the rebalance,
 * and only those the new assignment leaves out are revoked after it, followed by a second
 * rebalance that hands them to their new members.
 */
export class GroupMember {
  readonly protocol: RebalanceProtocol;
  readonly offsets: GroupOffsets;
  private readonly link: CoordinatorLink;
  private readonly logger: Logger;
  private memberIdValue = '';
  private generationIdValue = -1;
  private protocolName = '';
  private state: MemberState = 'unjoined';
  private isLeader = false;
  private subscription: RegExp | readonly string[] | undefined;
  private subscribedTopics: readonly string[] = [];
  /** The leader's view when it assigned: every topic of the group's subscriptions and its partition count (0: missing). */
  private assignedPartitionCounts: ReadonlyMap<string, number> = new Map();
  /** Set while a rebalance is called for; why, for logs and JoinGroup's reason. */
  private rejoinReason: string | undefined;
  private readonly wake = new Signal();
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Aborts the heartbeat in flight (a waiting one may be held for a heartbeat interval). */
  private heartbeatInFlight: AbortController | undefined;
  private metadataTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly options: GroupMemberOptions,
    private readonly host: MembershipHost,
  ) {
    if (options.assignors.length === 0) throw new RivuletError('INVALID_CONFIG', 'a group member needs at least one partition assignor');
    this.logger = options.logger.child({ groupId: options.groupId });
    // Kafka's rule: cooperative only when every assignor offered supports it, else eager.
    this.protocol = options.assignors.every((a) => a.supportedProtocols.includes('cooperative')) ? 'cooperative' : 'eager';
    this.link = new CoordinatorLink(cluster, { groupId: options.groupId, requestTimeoutMs: options.requestTimeoutMs, backoff: options.backoff, logger: this.logger });
    this.offsets = new GroupOffsets(this.link, {
      groupId: options.groupId,
      requestTimeoutMs: options.requestTimeoutMs,
      backoff: options.backoff,
      logger: this.logger,
      identity: () => this.commitIdentity(),
      onMembershipRejection: (error, identity) => this.onCommitRejected(error, identity),
    });
  }

  get memberId(): string {
    return this.memberIdValue;
  }

  get generationId(): number {
    return this.generationIdValue;
  }

  get groupInstanceId(): string | null {
    return this.options.groupInstanceId;
  }

  /** Whether the member consumes the assignment of its generation, heartbeating (commits are accepted then). */
  get isStable(): boolean {
    return this.state === 'stable';
  }

  /** Whether the member still has a generation (it has not learnt that the coordinator forgot it): its partitions are its own. */
  get hasGeneration(): boolean {
    return this.generationIdValue >= 0;
  }

  private get isStopping(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Joins with `subscription`, or rejoins with it when it changed. */
  subscribe(subscription: TopicSubscription): void {
    const next = subscription instanceof RegExp ? new RegExp(subscription.source, subscription.flags.replace(/[gy]/g, '')) : [...new Set(subscription)].sort();
    if (this.subscription !== undefined && String(this.subscription) === String(next) && next instanceof RegExp === this.subscription instanceof RegExp) return;
    this.subscription = next;
    this.requestRejoin('the subscription changed');
    this.loop ??= this.runRebalances();
    this.scheduleMetadataCheck();
  }

  /** Calls for a rebalance; the loop starts it as soon as the one in progress (if any) ends. */
  requestRejoin(reason: string): void {
    if (this.isStopping) return;
    if (this.rejoinReason === undefined) this.logger.info({ reason }, 'rebalance needed');
    this.rejoinReason ??= reason;
    this.wake.notify();
  }

  /** Stops rebalancing (a JoinGroup in flight is abandoned) and the subscription checks; heartbeats go on until `leave`. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.wake.notify();
    clearTimeout(this.metadataTimer);
    await this.loop;
  }

  /** Leaves the group (LeaveGroup), as a dynamic member does on close; a static member stays until its session times out. */
  async leave(reason: string): Promise<void> {
    this.stopHeartbeats();
    const memberId = this.memberIdValue;
    this.resetMember(true);
    if (this.options.groupInstanceId !== null || memberId === '') return;
    try {
      const transport = await this.link.transport(Date.now() + this.options.requestTimeoutMs);
      const response = await transport.leaveGroup({ groupId: this.options.groupId, members: [{ memberId, groupInstanceId: '', reason }] }, this.options.requestTimeoutMs);
      const code = response.errorCode || (response.members.find((m) => m.errorCode !== 0)?.errorCode ?? 0);
      if (code !== 0) this.logger.info({ err: RivuletError.fromCode(code) }, 'LeaveGroup refused; the session timeout will remove this member');
      else this.logger.info({ memberId }, 'left the group');
    } catch (err) {
      this.logger.info({ err }, 'LeaveGroup failed; the session timeout will remove this member');
    }
  }

  /**
   * Who a commit is sent as: a consumer that assigns its own partitions commits outside group
   * management; a member only while stable, as Kafka's (during a rebalance the coordinator would refuse).
   */
  private commitIdentity(): CommitterIdentity {
    if (this.subscription === undefined) return NO_GENERATION;
    if (this.state !== 'stable') throw new RivuletError('REBALANCE_IN_PROGRESS', `group ${this.options.groupId} is rebalancing: commit after the rebalance`);
    return { generationId: this.generationIdValue, memberId: this.memberIdValue, groupInstanceId: this.options.groupInstanceId };
  }

  /** A commit refusal says something only about the generation it was sent in, and only while that is the one consumed. */
  private onCommitRejected(error: RivuletError, identity: CommitterIdentity): void {
    if (this.state !== 'stable' || identity.generationId !== this.generationIdValue || identity.memberId !== this.memberIdValue) return;
    this.onMembershipError(error, 'OffsetCommit');
  }

  /** What Kafka's consumer does when the coordinator says this member is out of date; answers of an earlier generation are ignored by the callers. */
  private onMembershipError(error: RivuletError, api: string): void {
    switch (error.errorName) {
      case 'REBALANCE_IN_PROGRESS':
        this.requestRejoin(`${api}: the group is rebalancing`);
        return;
      case 'ILLEGAL_GENERATION': {
        const generationId = this.generationIdValue;
        // The member id may still be good: keep it, so the rejoin does not wait for the old one to expire.
        this.resetMember(false);
        this.requestRejoin(`${api}: generation ${generationId} is over`);
        return;
      }
      case 'UNKNOWN_MEMBER_ID':
        this.resetMember(true);
        this.requestRejoin(`${api}: the coordinator does not know this member`);
        return;
      case 'FENCED_INSTANCE_ID':
        this.fail(error);
        return;
      default:
        return;
    }
  }

  /** Forgets the generation (its partitions are lost at the next join) and, with `memberIdToo`, the member id. */
  private resetMember(memberIdToo: boolean): void {
    this.generationIdValue = -1;
    if (memberIdToo) this.memberIdValue = '';
    this.state = 'unjoined';
    this.isLeader = false;
    this.stopHeartbeats();
  }

  private fail(error: RivuletError): void {
    this.logger.error({ err: error }, 'group membership failed');
    this.stopping.abort();
    this.wake.notify();
    this.stopHeartbeats();
    clearTimeout(this.metadataTimer);
    this.host.fail(error);
  }

  private async runRebalances(): Promise<void> {
    let failures = 0;
    while (!this.isStopping) {
      if (this.rejoinReason === undefined) {
        await this.wake.wait();
        continue;
      }
      try {
        await this.rebalance(this.rejoinReason);
        failures = 0;
      } catch (err) {
        if (this.isStopping) break;
        const error = toRivuletError(err);
        if (FATAL_ERRORS.has(error.errorName)) {
          this.fail(error);
          break;
        }
        failures++;
        this.rejoinReason ??= `retrying after ${error.errorName}`;
        this.logger.warn({ err: error, attempt: failures }, 'rebalance failed; retrying');
        await sleep(backoffDelayMs(this.options.backoff, failures), this.stopping.signal);
      }
    }
  }

  private async rebalance(reason: string): Promise<void> {
    this.subscribedTopics = await this.resolveSubscription();
    await this.prepareToJoin();
    if (this.isStopping) return;
    // A reason arising from here on calls for another round after this one.
    this.rejoinReason = undefined;
    const joined = await this.join(reason);
    if (joined === undefined) return;
    const assigned = await this.sync(joined);
    if (assigned === undefined) return;
    this.state = 'stable';
    // At once: the heartbeat waits at the coordinator, so a rebalance that starts right away is heard of right away.
    this.scheduleHeartbeat(0);
    this.logger.info({ generationId: this.generationIdValue, memberId: this.memberIdValue, leader: this.isLeader, protocol: this.protocolName, partitions: assigned.length }, 'joined the group');
    await this.applyAssignment(assigned);
  }

  /**
   * Kafka's onJoinPrepare: partitions of a generation the coordinator forgot are lost; eager
   * revokes the rest; cooperative commits what was consumed (partitions the new assignment takes
   * away can no longer be committed after it) and revokes only what left the subscription.
   */
  private async prepareToJoin(): Promise<void> {
    const owned = this.host.ownedPartitions();
    if (owned.length === 0) return;
    if (this.generationIdValue < 0) {
      await this.host.losePartitions(owned);
      return;
    }
    if (this.protocol === 'eager') {
      await this.host.revokePartitions(owned, true);
      return;
    }
    await this.host.commitConsumed();
    const unsubscribed = owned.filter((tp) => !this.subscribedTopics.includes(tp.topic));
    if (unsubscribed.length > 0) await this.host.revokePartitions(unsubscribed, true);
  }

  private async join(reason: string): Promise<clientApi.JoinGroupResponse | undefined> {
    this.stopHeartbeats();
    this.state = 'joining';
    for (;;) {
      const request: clientApi.JoinGroupRequest = {
        groupId: this.options.groupId,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
        rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
        memberId: this.memberIdValue,
        groupInstanceId: this.options.groupInstanceId ?? '',
        protocolType: 'consumer',
        protocols: this.options.assignors.map((a) => ({ name: a.name, metadata: this.subscriptionMetadata() })),
        requireKnownMemberId: true,
        reason,
        clientId: this.options.clientId,
      };
      let response: clientApi.JoinGroupResponse;
      try {
        const transport = await this.link.transport(Number.POSITIVE_INFINITY, this.stopping.signal);
        const deadlineMs = Math.max(this.options.requestTimeoutMs, this.options.rebalanceTimeoutMs + JOIN_DEADLINE_MARGIN_MS);
        response = await transport.joinGroup(request, deadlineMs, this.stopping.signal);
      } catch (err) {
        const error = toRivuletError(err);
        this.link.noteFailure(error);
        this.state = 'unjoined';
        throw error;
      }
      if (this.isStopping) return undefined;
      if (response.errorCode === 0) return response;
      const error = RivuletError.fromCode(response.errorCode, `JoinGroup of group ${this.options.groupId}: ${response.errorMessage || RivuletError.fromCode(response.errorCode).message}`);
      this.state = 'unjoined';
      if (error.errorName === 'MEMBER_ID_REQUIRED') {
        // KIP-394: the coordinator named this member; join again under that id.
        this.memberIdValue = response.memberId;
        this.state = 'joining';
        continue;
      }
      if (error.errorName === 'UNKNOWN_MEMBER_ID') this.resetMember(true);
      if (isCoordinatorMoved(error)) this.link.noteFailure(error);
      throw error;
    }
  }

  /** The Subscription of this member's JoinGroup: the same for every assignor (none uses user data). */
  private subscriptionMetadata(): Buffer {
    return encodeSubscription({
      topics: this.subscribedTopics,
      userData: null,
      ownedPartitions: this.host.ownedPartitions(),
      generationId: this.generationIdValue,
      rackId: null,
    });
  }

  /** Syncs the generation just joined; the assigned partitions, or undefined when another round is needed. */
  private async sync(joined: clientApi.JoinGroupResponse): Promise<TopicPartitionRef[] | undefined> {
    this.memberIdValue = joined.memberId;
    this.generationIdValue = joined.generationId;
    this.protocolName = joined.protocolName;
    this.isLeader = joined.leader === joined.memberId;
    this.state = 'syncing';
    const assignments = this.isLeader && !joined.skipAssignment ? await this.computeAssignments(joined) : [];
    const request: clientApi.SyncGroupRequest = {
      groupId: this.options.groupId,
      generationId: joined.generationId,
      memberId: joined.memberId,
      groupInstanceId: this.options.groupInstanceId ?? '',
      protocolType: 'consumer',
      protocolName: joined.protocolName,
      assignments,
    };
    let response: clientApi.SyncGroupResponse;
    try {
      const transport = await this.link.transport(Number.POSITIVE_INFINITY, this.stopping.signal);
      // Followers wait for the leader's assignment, which the coordinator waits a session timeout for.
      response = await transport.syncGroup(request, this.options.requestTimeoutMs + this.options.sessionTimeoutMs, this.stopping.signal);
    } catch (err) {
      const error = toRivuletError(err);
      this.link.noteFailure(error);
      this.state = 'unjoined';
      throw error;
    }
    if (this.isStopping) return undefined;
    if (response.errorCode === 0) return [...decodeAssignment(response.assignment).partitions];
    const error = RivuletError.fromCode(response.errorCode, `SyncGroup of group ${this.options.groupId}: ${response.errorMessage || RivuletError.fromCode(response.errorCode).message}`);
    this.state = 'unjoined';
    if (isCoordinatorMoved(error)) {
      this.link.noteFailure(error);
      this.requestRejoin('the coordinator moved during SyncGroup');
      return undefined;
    }
    this.onMembershipError(error, 'SyncGroup');
    if (this.rejoinReason === undefined) throw error;
    return undefined;
  }

  /** The leader's part: every member's assignment by the chosen assignor, from each member's subscription. */
  private async computeAssignments(joined: clientApi.JoinGroupResponse): Promise<clientApi.SyncGroupAssignment[]> {
    const assignor = this.options.assignors.find((a) => a.name === joined.protocolName);
    if (assignor === undefined) {
      throw new RivuletError('INCONSISTENT_GROUP_PROTOCOL', `the coordinator chose assignor ${joined.protocolName}, which this member does not offer`);
    }
    const members = joined.members.map((m): MemberSubscription => {
      const subscription = decodeSubscription(m.metadata);
      return {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId === '' ? null : m.groupInstanceId,
        topics: subscription.topics,
        ownedPartitions: subscription.ownedPartitions,
        generationId: subscription.generationId,
      };
    });
    const partitionCounts = await this.partitionCounts([...new Set(members.flatMap((m) => m.topics))]);
    const assignment = assignor.assign(members, new Map([...partitionCounts].filter(([, count]) => count > 0)));
    this.assignedPartitionCounts = partitionCounts;
    this.logger.info({ generationId: joined.generationId, members: members.length, assignor: assignor.name }, 'computed the group assignment as leader');
    return members.map((m) => ({ memberId: m.memberId, assignment: encodeAssignment({ partitions: assignment.get(m.memberId) ?? [], userData: null }) }));
  }

  /** Starts consuming what the generation assigned: revokes what it took away (cooperative: then rejoins), adds what it gave. */
  private async applyAssignment(assigned: readonly TopicPartitionRef[]): Promise<void> {
    const assignedKeys = new Set(assigned.map((tp) => tpKey(tp.topic, tp.partition)));
    const owned = this.host.ownedPartitions();
    const ownedKeys = new Set(owned.map((tp) => tpKey(tp.topic, tp.partition)));
    const revoked = owned.filter((tp) => !assignedKeys.has(tpKey(tp.topic, tp.partition)));
    const added = assigned.filter((tp) => !ownedKeys.has(tpKey(tp.topic, tp.partition)));
    if (revoked.length > 0) {
      // Their offsets were committed before the join; the coordinator refuses them now.
      await this.host.revokePartitions(revoked, false);
      // KIP-429: partitions given up are handed to their new members by the next rebalance.
      if (this.protocol === 'cooperative') this.requestRejoin(`gave up ${revoked.length} partitions that move to other members`);
    }
    await this.host.assignPartitions(added);
    if (assigned.some((tp) => !this.subscribedTopics.includes(tp.topic))) this.requestRejoin('the assignment names topics this member does not subscribe to');
  }

  private async resolveSubscription(): Promise<readonly string[]> {
    const subscription = this.subscription;
    if (subscription === undefined) return [];
    if (!(subscription instanceof RegExp)) return subscription;
    const topics = await this.cluster.refreshAllTopics();
    return topics
      .filter((t) => !t.isInternal && subscription.test(t.name))
      .map((t) => t.name)
      .sort();
  }

  /** Each topic's partition count, 0 for a topic that does not exist (yet). */
  private async partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    await this.cluster.refreshMetadata(topics);
    return new Map(topics.map((topic) => [topic, this.cluster.topic(topic)?.partitions.length ?? 0]));
  }

  private scheduleMetadataCheck(): void {
    clearTimeout(this.metadataTimer);
    if (this.isStopping) return;
    this.metadataTimer = setTimeout(() => void this.checkMetadata(), this.options.metadataMaxAgeMs);
    this.metadataTimer.unref();
  }

  /** Rejoins when the subscription now names other topics (a pattern), or, as leader, when a subscribed topic gained partitions. */
  private async checkMetadata(): Promise<void> {
    try {
      if (this.state !== 'stable') return;
      const topics = await this.resolveSubscription();
      if (topics.join('\u0000') !== this.subscribedTopics.join('\u0000')) {
        this.requestRejoin('the topics matching the subscription changed');
        return;
      }
      if (!this.isLeader) return;
      const counts = await this.partitionCounts([...this.assignedPartitionCounts.keys()]);
      const changed = [...this.assignedPartitionCounts].some(([topic, count]) => counts.get(topic) !== count);
      if (changed) this.requestRejoin('subscribed topics appeared or changed their partition count');
    } catch (err) {
      this.logger.debug({ err }, 'subscription metadata check failed; trying again later');
    } finally {
      this.scheduleMetadataCheck();
    }
  }

  private scheduleHeartbeat(delayMs: number): void {
    clearTimeout(this.heartbeatTimer);
    if (this.state !== 'stable' || this.isStopping) return;
    this.heartbeatTimer = setTimeout(() => void this.heartbeat(), delayMs);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeats(): void {
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.heartbeatInFlight?.abort();
    this.heartbeatInFlight = undefined;
  }

  /**
   * One heartbeat, a waiting one: the coordinator holds it for up to a heartbeat interval and
   * answers REBALANCE_IN_PROGRESS the moment a rebalance starts, so the member learns of one
   * within a round trip. The next is sent when it is answered (at once after a full wait), so one
   * at most is in flight.
   */
  private async heartbeat(): Promise<void> {
    const startedMs = Date.now();
    const generationId = this.generationIdValue;
    const memberId = this.memberIdValue;
    const intervalMs = this.options.heartbeatIntervalMs;
    const abandon = new AbortController();
    this.heartbeatInFlight = abandon;
    let nextDelayMs = intervalMs;
    try {
      // A heartbeat answered after the session timeout is useless: wait no longer than that, and the wait.
      const timeoutMs = Math.min(this.options.requestTimeoutMs, this.options.sessionTimeoutMs);
      const transport = await this.link.transport(Date.now() + timeoutMs);
      const request = { groupId: this.options.groupId, generationId, memberId, groupInstanceId: this.options.groupInstanceId ?? '', maxWaitMs: intervalMs };
      const response = await transport.heartbeat(request, timeoutMs + intervalMs, abandon.signal);
      nextDelayMs = Math.max(0, intervalMs - (Date.now() - startedMs));
      // An answer about another generation, or arriving after this member started to rejoin, is stale.
      if (response.errorCode === 0 || this.state !== 'stable' || generationId !== this.generationIdValue || memberId !== this.memberIdValue) return;
      const error = RivuletError.fromCode(response.errorCode, `Heartbeat of group ${this.options.groupId}: ${response.errorMessage || RivuletError.fromCode(response.errorCode).message}`);
      if (isCoordinatorMoved(error) || error.errorName === 'COORDINATOR_LOAD_IN_PROGRESS') {
        this.link.noteFailure(error);
        nextDelayMs = Math.min(intervalMs, backoffDelayMs(this.options.backoff, 1));
        return;
      }
      this.onMembershipError(error, 'Heartbeat');
      if (!['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID'].includes(error.errorName)) {
        this.logger.warn({ err: error }, 'unexpected heartbeat answer');
      }
    } catch (err) {
      // Abandoned by this member (it is rejoining or leaving): nothing to learn about the coordinator.
      if (abandon.signal.aborted) return;
      const error = toRivuletError(err);
      this.link.noteFailure(error);
      this.logger.debug({ err: error }, 'heartbeat failed');
      nextDelayMs = Math.min(intervalMs, backoffDelayMs(this.options.backoff, 1));
    } finally {
      if (this.heartbeatInFlight === abandon) this.heartbeatInFlight = undefined;
      if (!abandon.signal.aborted) this.scheduleHeartbeat(nextDelayMs);
    }
  }
}
