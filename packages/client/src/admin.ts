import { ErrorCode, noopLogger, RivuletError } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import type { BrokerAddress, Cluster, TopicInfo } from './cluster.js';
import { backoffDelayMs, sleep } from './backoff.js';
import { resultError, RivuletAggregateError, toRivuletError, type OperationFailure } from './errors.js';
import { decodeAssignment, decodeSubscription } from './group/consumer-protocol.js';
import { CoordinatorLink } from './group/coordinator-link.js';
import { computeGroupLag, type PartitionLag } from './group/group-lag.js';
import { checkOffsetsToCommit, NO_GENERATION, offsetCommitRequest, type CommittedOffset, type OffsetToCommit } from './group/group-offsets.js';
import { describeQuorum, type ControllerAddress, type QuorumDescription } from './quorum.js';
import type { BrokerTransport } from './transport.js';
import { tpKey, type TopicPartitionRef } from './types.js';

export interface NewTopic {
  readonly name: string;
  /** Default: the broker's defaultPartitions. */
  readonly partitions?: number;
  /** Default: the broker's defaultReplicationFactor. */
  readonly replicationFactor?: number;
  /** Kafka topic configs: retention.ms, retention.bytes, max.message.bytes, ... */
  readonly configs?: Readonly<Record<string, string>>;
}

export interface PartitionDescription {
  readonly partition: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly logEndOffset: number;
  readonly sizeBytes: number;
}

export interface TopicDescription {
  readonly name: string;
  readonly isInternal: boolean;
  readonly configs: Readonly<Record<string, string>>;
  readonly partitions: readonly PartitionDescription[];
}

/** Which offset `listOffsets` looks up. */
export type OffsetSpec = 'earliest' | 'latest' | { readonly timestampMs: number };

export interface OffsetQuery extends TopicPartitionRef {
  readonly spec: OffsetSpec;
}

export interface ListedOffset extends TopicPartitionRef {
  /** -1 for a timestamp with no record at or after it. */
  readonly offset: number;
  readonly timestamp: number;
}

export interface DeleteRecordsQuery extends TopicPartitionRef {
  /** Delete every record below this offset; -1 means up to the high watermark. */
  readonly beforeOffset: number;
}

export interface DeletedRecords extends TopicPartitionRef {
  readonly lowWatermark: number;
}

export interface ClusterDescription {
  readonly clusterId: string;
  readonly controllerId: number;
  readonly brokers: readonly BrokerAddress[];
  /** The answering node's view of itself. */
  readonly node: clientApi.NodeStatus | undefined;
  /** The controller quorum the answering node is configured with (empty from older nodes). */
  readonly controllers: readonly ControllerAddress[];
}

export interface ClusterMetadata {
  readonly clusterId: string;
  readonly controllerId: number;
  readonly brokers: readonly BrokerAddress[];
  readonly topics: readonly TopicInfo[];
}

/** A new target for a partition's replicas (preferred leader first), or `null` to cancel its reassignment in progress. */
export interface PartitionReassignment extends TopicPartitionRef {
  readonly replicas: readonly number[] | null;
}

/** A reassignment in progress. */
export interface OngoingReassignment extends TopicPartitionRef {
  /** The target replicas in order, then the ones being removed. */
  readonly replicas: readonly number[];
  readonly addingReplicas: readonly number[];
  readonly removingReplicas: readonly number[];
  readonly isr: readonly number[];
  readonly leaderId: number;
  /** Adding replicas not in the ISR yet: what the reassignment waits for. */
  readonly addingNotInIsr: readonly number[];
}

/** A reassignment a drain started. */
export interface DrainedPartition extends TopicPartitionRef {
  readonly targetReplicas: readonly number[];
  /** The partition's leader once the drain is committed. */
  readonly leaderId: number;
}

/** A group as ListGroups reports it. */
export interface GroupListing {
  readonly groupId: string;
  /** 'consumer' for consumer groups. */
  readonly protocolType: string;
  /** Kafka's state names: Empty, PreparingRebalance, CompletingRebalance, Stable, Dead. */
  readonly state: string;
}

export interface GroupMemberDescription {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** For consumer groups: the topics the member subscribes to and the partitions it was assigned. */
  readonly subscribedTopics: readonly string[];
  readonly assignment: readonly TopicPartitionRef[];
}

export interface GroupDescription {
  readonly groupId: string;
  readonly state: string;
  readonly protocolType: string;
  /** The chosen protocol: for consumer groups, the assignor. */
  readonly assignor: string;
  readonly members: readonly GroupMemberDescription[];
}

/** A partition of a group's lag, with the member it is assigned to. */
export interface GroupPartitionLag extends PartitionLag {
  /** The member the partition is assigned to; null when no member holds it (only its committed offset is known). */
  readonly memberId: string | null;
}

/** A group with its lag: every partition it has a committed offset for or a member holds. */
export interface GroupLagDescription {
  readonly group: GroupDescription;
  /** By topic and partition. */
  readonly partitions: readonly GroupPartitionLag[];
  /** The sum of the partitions' known lags. */
  readonly totalLag: number;
  /** Partitions whose high watermark could not be looked up (their lag is unknown), with why. */
  readonly highWatermarkFailures: readonly OperationFailure[];
}

/** What a lookup of offsets found, and the partitions it failed for. */
export interface SettledOffsets {
  readonly listed: readonly ListedOffset[];
  readonly failures: readonly OperationFailure[];
}

function offsetSpecTimestamp(spec: OffsetSpec): number {
  if (spec === 'earliest') return -2;
  if (spec === 'latest') return -1;
  return spec.timestampMs;
}

function throwFailures(operation: string, failures: readonly OperationFailure[]): void {
  if (failures.length > 0) throw new RivuletAggregateError(operation, failures);
}

/**
 * Topic and cluster administration. Operations on several topics or partitions report every
 * failure at once in a RivuletAggregateError; the others succeeded.
 */
export class Admin {
  constructor(
    private readonly cluster: Cluster,
    private readonly requestTimeoutMs: number,
  ) {}

  async createTopics(topics: readonly NewTopic[], options: { validateOnly?: boolean } = {}): Promise<void> {
    const request: clientApi.CreateTopicsRequest = {
      topics: topics.map((t) => ({ name: t.name, partitions: t.partitions ?? -1, replicationFactor: t.replicationFactor ?? -1, configs: { ...t.configs } })),
      validateOnly: options.validateOnly ?? false,
    };
    const response = await this.cluster.withAnyBroker((c) => c.createTopics(request, this.requestTimeoutMs));
    throwFailures('createTopics', this.topicFailures(response.results));
    // Producers and consumers of this client should see the new topics without waiting for max age.
    await this.cluster.refreshMetadata(topics.map((t) => t.name)).catch(() => undefined);
  }

  /** Grows each topic to `count` partitions; new partitions are placed like a new topic's. */
  async createPartitions(topics: readonly { name: string; count: number }[], options: { validateOnly?: boolean } = {}): Promise<void> {
    const response = await this.cluster.withAnyBroker((c) => c.createPartitions({ topics: topics.map((t) => ({ ...t })), validateOnly: options.validateOnly ?? false }, this.requestTimeoutMs));
    throwFailures('createPartitions', this.topicFailures(response.results));
  }

  /** Sets (a string) or removes (null: back to the broker default) configs of each topic. */
  async alterTopicConfigs(topics: readonly { name: string; configs: Readonly<Record<string, string | null>> }[], options: { validateOnly?: boolean } = {}): Promise<void> {
    const request = {
      topics: topics.map((t) => ({ name: t.name, changes: Object.entries(t.configs).map(([key, value]) => ({ key, value: value ?? '', remove: value === null })) })),
      validateOnly: options.validateOnly ?? false,
    };
    const response = await this.cluster.withAnyBroker((c) => c.alterTopicConfigs(request, this.requestTimeoutMs));
    throwFailures('alterTopicConfigs', this.topicFailures(response.results));
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    const response = await this.cluster.withAnyBroker((c) => c.deleteTopics({ names: [...names] }, this.requestTimeoutMs));
    throwFailures('deleteTopics', this.topicFailures(response.results));
  }

  /** Topic names, internal topics left out unless asked for. */
  async listTopics(options: { includeInternal?: boolean } = {}): Promise<string[]> {
    const metadata = await this.metadata();
    return metadata.topics
      .filter((t) => options.includeInternal === true || !t.isInternal)
      .map((t) => t.name)
      .sort();
  }

  /** Describes the named topics (every topic when none is named): configs, replicas and offsets. */
  async describeTopics(names: readonly string[] = []): Promise<TopicDescription[]> {
    const response = await this.cluster.withAnyBroker((c) => c.describeTopics({ names: [...names] }, this.requestTimeoutMs));
    const failures: OperationFailure[] = [];
    const described: TopicDescription[] = [];
    for (const topic of response.topics) {
      const error = resultError(topic.errorCode, topic.errorMessage, { topic: topic.name });
      if (error !== undefined) failures.push({ topic: topic.name, error });
      else described.push({ name: topic.name, isInternal: topic.isInternal, configs: topic.configs, partitions: [...topic.partitions].sort((a, b) => a.partition - b.partition) });
    }
    throwFailures('describeTopics', failures);
    return described;
  }

  /** Looks offsets up at each partition's leader: earliest, latest (the high watermark) or by timestamp. */
  async listOffsets(queries: readonly OffsetQuery[]): Promise<ListedOffset[]> {
    const { listed, failures } = await this.listOffsetsSettled(queries);
    throwFailures('listOffsets', failures);
    return [...listed];
  }

  /**
   * As listOffsets, but a partition whose lookup failed (no leader, a leader that did not
   * answer, an error for the partition) is reported in `failures` instead of failing the others.
   */
  async listOffsetsSettled(queries: readonly OffsetQuery[]): Promise<SettledOffsets> {
    const { answers, failures } = await this.perLeader(queries, async (connection, group) => {
      const request: clientApi.ListOffsetsRequest = {
        topics: groupByTopic(group, (q) => ({ partition: q.partition, timestamp: offsetSpecTimestamp(q.spec) })),
      };
      return (await connection.listOffsets(request, this.requestTimeoutMs)).topics;
    });
    const listed: ListedOffset[] = [];
    for (const topic of answers) {
      for (const p of topic.partitions) {
        const error = resultError(p.errorCode, p.errorMessage, { topic: topic.name, partition: p.partition });
        if (error !== undefined) failures.push({ topic: topic.name, partition: p.partition, error });
        else listed.push({ topic: topic.name, partition: p.partition, offset: p.offset, timestamp: p.timestamp });
      }
    }
    return { listed, failures };
  }

  /** Deletes records below the given offsets (Kafka's DeleteRecords); returns the new log start offsets. */
  async deleteRecords(queries: readonly DeleteRecordsQuery[]): Promise<DeletedRecords[]> {
    const { answers, failures } = await this.perLeader(queries, async (connection, group) => {
      const request: clientApi.DeleteRecordsRequest = {
        topics: groupByTopic(group, (q) => ({ partition: q.partition, offset: q.beforeOffset })),
        timeoutMs: this.requestTimeoutMs,
      };
      return (await connection.deleteRecords(request, this.requestTimeoutMs)).topics;
    });
    const deleted: DeletedRecords[] = [];
    for (const topic of answers) {
      for (const p of topic.partitions) {
        const error = resultError(p.errorCode, p.errorMessage, { topic: topic.name, partition: p.partition });
        if (error !== undefined) failures.push({ topic: topic.name, partition: p.partition, error });
        else deleted.push({ topic: topic.name, partition: p.partition, lowWatermark: p.lowWatermark });
      }
    }
    throwFailures('deleteRecords', failures);
    return deleted;
  }

  async describeCluster(): Promise<ClusterDescription> {
    const response = await this.cluster.withAnyBroker((c) => c.describeCluster({}, this.requestTimeoutMs));
    return {
      clusterId: response.clusterId,
      controllerId: response.controllerId,
      brokers: [...response.brokers].sort((a, b) => a.nodeId - b.nodeId),
      node: response.self,
      controllers: response.controllers.map((c) => ({ nodeId: c.nodeId, address: c.address })).sort((a, b) => a.nodeId - b.nodeId),
    };
  }

  /**
   * Starts, replaces or cancels partition reassignments (Kafka's alterPartitionReassignments).
   * A reassignment whose target is already in sync (a reorder or a removal) completes at once;
   * one that adds replicas completes once they are in the ISR. Failed partitions are reported
   * together in a RivuletAggregateError; the others took effect.
   */
  async alterPartitionReassignments(reassignments: readonly PartitionReassignment[]): Promise<void> {
    const request: clientApi.AlterPartitionReassignmentsRequest = {
      partitions: reassignments.map((r) => ({ topic: r.topic, partition: r.partition, targetReplicas: r.replicas === null ? [] : [...r.replicas], cancel: r.replicas === null })),
    };
    const response = await this.cluster.withAnyBroker((c) => c.alterPartitionReassignments(request, this.requestTimeoutMs));
    const failures: OperationFailure[] = [];
    for (const r of response.results) {
      const error = resultError(r.errorCode, r.errorMessage, { topic: r.topic, partition: r.partition });
      if (error !== undefined) failures.push({ topic: r.topic, partition: r.partition, error });
    }
    throwFailures('alterPartitionReassignments', failures);
    await this.cluster.refreshMetadata([...new Set(reassignments.map((r) => r.topic))]).catch(() => undefined);
  }

  /** Reassignments in progress, of the named topics (all when none is named), by topic and partition. */
  async listPartitionReassignments(topics: readonly string[] = []): Promise<OngoingReassignment[]> {
    const response = await this.cluster.withAnyBroker((c) => c.listPartitionReassignments({ topics: [...topics] }, this.requestTimeoutMs));
    throwFailures('listPartitionReassignments', this.topicFailures(response.topicErrors));
    return response.reassignments
      .map((r) => ({ ...r }))
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /**
   * Drains a broker before it is removed: the controller starts a reassignment off it for every
   * partition it holds (to the least loaded eligible brokers, rack-aware) and moves its
   * leaderships where another in-sync replica can lead. Refused as a whole (nothing started)
   * for an unknown broker or when some partition has no broker to move to.
   */
  async drainBroker(brokerId: number): Promise<DrainedPartition[]> {
    const response = await this.cluster.withAnyBroker((c) => c.drainBroker({ brokerId }, this.requestTimeoutMs));
    const error = resultError(response.errorCode, response.errorMessage, { nodeId: brokerId });
    if (error !== undefined) throw error;
    return response.started.map((s) => ({ ...s })).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /**
   * Asks every controller for its view of the quorum (DescribeQuorum), tolerating members that
   * do not answer: they are reported unreachable. The controllers are those a broker names in
   * DescribeCluster unless given.
   */
  async describeQuorum(options: { readonly controllers?: readonly ControllerAddress[]; readonly timeoutMs?: number } = {}): Promise<QuorumDescription> {
    const controllers = options.controllers ?? (await this.describeCluster()).controllers;
    return describeQuorum(controllers, options.timeoutMs ?? Math.min(this.requestTimeoutMs, 5000));
  }

  /** Every group of the cluster: each broker lists those it coordinates. */
  async listGroups(): Promise<GroupListing[]> {
    await this.cluster.refreshMetadata();
    const perBroker = await Promise.all(
      this.cluster.knownBrokers.map(async (broker) => {
        const connection = this.cluster.connectionFor(broker.nodeId);
        if (connection === undefined) throw new RivuletError('BROKER_NOT_AVAILABLE', `broker ${broker.nodeId} left the metadata`, { nodeId: broker.nodeId });
        return (await connection.listGroups({ statesFilter: [] }, this.requestTimeoutMs)).groups;
      }),
    );
    return perBroker
      .flat()
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, state: g.groupState }))
      .sort((a, b) => a.groupId.localeCompare(b.groupId));
  }

  /** Each group's state, assignor and members (with their subscriptions and assignments for consumer groups), asked of its coordinator. */
  async describeGroups(groupIds: readonly string[]): Promise<GroupDescription[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        const response = await this.atCoordinator(
          groupId,
          (c) => c.describeGroups({ groupIds: [groupId] }, this.requestTimeoutMs),
          (r) => r.groups[0]?.errorCode ?? 0,
        );
        const group = response.groups.find((g) => g.groupId === groupId);
        if (group === undefined) throw new RivuletError('UNKNOWN_SERVER_ERROR', `DescribeGroups left group ${groupId} out`);
        const error = resultError(group.errorCode, `DescribeGroups of group ${groupId}`, {});
        if (error !== undefined) throw error;
        const isConsumerGroup = group.protocolType === 'consumer';
        return {
          groupId,
          state: group.groupState,
          protocolType: group.protocolType,
          assignor: group.protocolData,
          members: group.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId === '' ? null : m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            subscribedTopics: isConsumerGroup && m.memberMetadata.length > 0 ? decodeSubscription(m.memberMetadata).topics : [],
            assignment: isConsumerGroup ? decodeAssignment(m.memberAssignment).partitions : [],
          })),
        };
      }),
    );
  }

  /** Deletes groups that have no members, with their committed offsets; failures (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND) come together. */
  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    const results = await Promise.all(
      groupIds.map(async (groupId) => {
        const response = await this.atCoordinator(
          groupId,
          (c) => c.deleteGroups({ groupIds: [groupId] }, this.requestTimeoutMs),
          (r) => r.results[0]?.errorCode ?? 0,
        );
        return response.results.find((r) => r.groupId === groupId) ?? { groupId, errorCode: 0 };
      }),
    );
    const failures: OperationFailure[] = [];
    for (const result of results) {
      const error = deleteGroupError(result.groupId, result.errorCode);
      // An OperationFailure names a topic; a group's failure names the group there.
      if (error !== undefined) failures.push({ topic: result.groupId, error });
    }
    throwFailures('deleteGroups', failures);
  }

  /** Every offset the group has committed. */
  async listGroupOffsets(groupId: string): Promise<CommittedOffset[]> {
    const response = await this.atCoordinator(
      groupId,
      (c) => c.offsetFetch({ groupId, topics: [], requireStable: false }, this.requestTimeoutMs),
      (r) => r.errorCode,
    );
    const error = resultError(response.errorCode, `OffsetFetch of group ${groupId}`, {});
    if (error !== undefined) throw error;
    return response.topics
      .flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.metadata, leaderEpoch: p.committedLeaderEpoch })))
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /**
   * Commits offsets for a group from outside its membership (generation -1, no member id), as
   * Kafka's alterConsumerGroupOffsets: the coordinator accepts them only while the group has no
   * members (NON_EMPTY_GROUP otherwise), and a group it does not know is created, Empty, with
   * them. Partitions of topics that do not exist fail with UNKNOWN_TOPIC_OR_PARTITION.
   */
  async alterGroupOffsets(groupId: string, offsets: readonly OffsetToCommit[]): Promise<void> {
    checkOffsetsToCommit(offsets);
    const request = offsetCommitRequest(groupId, offsets, NO_GENERATION);
    const response = await this.atCoordinator(
      groupId,
      (c) => c.offsetCommit(request, this.requestTimeoutMs),
      (r) => r.topics.flatMap((t) => t.partitions).find((p) => p.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE,
    );
    const answers = response.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, errorCode: p.errorCode })));
    // The coordinator refuses a commit from outside the membership of a group with members as
    // it refuses an unknown member; for this caller that means the group is not empty.
    if (answers.some((a) => a.errorCode === ErrorCode.UNKNOWN_MEMBER_ID)) throw nonEmptyGroupError(groupId, 'its offsets can be changed');
    const failures: OperationFailure[] = [];
    for (const a of answers) {
      const error = resultError(a.errorCode, `OffsetCommit to group ${groupId}`, { topic: a.topic, partition: a.partition });
      if (error !== undefined) failures.push({ topic: a.topic, partition: a.partition, error });
    }
    throwFailures('alterGroupOffsets', failures);
  }

  /**
   * A group's lag on every partition it has a committed offset for or a member holds: the
   * committed offset, the high watermark (ListOffsets latest at each leader, looked up after
   * the committed offsets) and their difference, with the member holding the partition, and
   * the total (computeGroupLag). A partition whose high watermark cannot be looked up has an
   * unknown lag and is listed in `highWatermarkFailures`. A group the coordinator does not know
   * and that has no committed offsets is GROUP_ID_NOT_FOUND.
   */
  async describeGroupLag(groupId: string): Promise<GroupLagDescription> {
    const [group] = await this.describeGroups([groupId]);
    const committed = await this.listGroupOffsets(groupId);
    if (group === undefined || (group.state === 'Dead' && committed.length === 0)) throw new RivuletError('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
    const owners = new Map<string, string>();
    for (const member of group.members) for (const tp of member.assignment) owners.set(tpKey(tp.topic, tp.partition), member.memberId);
    const committedOffsets = new Map(committed.map((c) => [tpKey(c.topic, c.partition), c.offset]));
    const partitions = new Map<string, TopicPartitionRef>();
    for (const tp of [...committed, ...group.members.flatMap((m) => m.assignment)]) partitions.set(tpKey(tp.topic, tp.partition), { topic: tp.topic, partition: tp.partition });
    const { listed, failures } = partitions.size === 0 ? { listed: [], failures: [] } : await this.listOffsetsSettled([...partitions.values()].map((tp) => ({ ...tp, spec: 'latest' as const })));
    const highWatermarks = new Map(listed.map((l) => [tpKey(l.topic, l.partition), l.offset]));
    const { partitions: lagging, totalLag } = computeGroupLag(
      [...partitions].map(([key, tp]) => {
        const committedOffset = committedOffsets.get(key) ?? -1;
        return { ...tp, memberId: owners.get(key) ?? null, committedOffset: committedOffset < 0 ? null : committedOffset, highWatermark: highWatermarks.get(key) ?? null };
      }),
    );
    return { group, partitions: lagging, totalLag, highWatermarkFailures: failures };
  }

  /**
   * Runs a request at the group's coordinator, found with FindCoordinator; an answer whose
   * `errorCodeOf` says the coordinator moved or is loading is asked again, until the request timeout.
   */
  private async atCoordinator<T>(groupId: string, send: (connection: BrokerTransport) => Promise<T>, errorCodeOf: (response: T) => number): Promise<T> {
    const link = new CoordinatorLink(this.cluster, { groupId, requestTimeoutMs: this.requestTimeoutMs, backoff: ADMIN_RETRY_BACKOFF, logger: noopLogger });
    const deadlineMs = Date.now() + this.requestTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const response = await send(await link.transport(deadlineMs));
      const error = resultError(errorCodeOf(response), '', {});
      const delayMs = backoffDelayMs(ADMIN_RETRY_BACKOFF, attempt);
      if (error === undefined || !error.retriable || Date.now() + delayMs >= deadlineMs) return response;
      link.noteFailure(error);
      await sleep(delayMs);
    }
  }

  /** Brokers and every topic's partitions and leaders, as the client's metadata sees them. */
  async metadata(topics: readonly string[] = []): Promise<ClusterMetadata> {
    const response = await this.cluster.withAnyBroker((c) => c.getMetadata({ topics: [...topics], allowAutoTopicCreation: false }, this.requestTimeoutMs));
    const failures: OperationFailure[] = [];
    const infos: TopicInfo[] = [];
    for (const topic of response.topics) {
      const error = resultError(topic.errorCode, topic.errorMessage, { topic: topic.name });
      if (error !== undefined) failures.push({ topic: topic.name, error });
      else infos.push({ name: topic.name, isInternal: topic.isInternal, partitions: [...topic.partitions].sort((a, b) => a.partition - b.partition) });
    }
    throwFailures('metadata', failures);
    return {
      clusterId: response.clusterId,
      controllerId: response.controllerId,
      brokers: [...response.brokers].sort((a, b) => a.nodeId - b.nodeId),
      topics: infos.sort((a, b) => a.name.localeCompare(b.name)),
    };
  }

  /**
   * Sends one request per partition leader and gathers the per-topic answers; the queries of a
   * partition without a known leader, or of a leader that did not answer, become failures.
   */
  private async perLeader<Q extends TopicPartitionRef, R>(
    queries: readonly Q[],
    send: (connection: BrokerTransport, group: readonly Q[]) => Promise<R[]>,
  ): Promise<{ answers: R[]; failures: OperationFailure[] }> {
    await this.cluster.refreshMetadata([...new Set(queries.map((q) => q.topic))]);
    const failures: OperationFailure[] = [];
    const failAll = (group: readonly Q[], error: RivuletError): void => {
      for (const q of group) failures.push({ topic: q.topic, partition: q.partition, error });
    };
    const byLeader = new Map<number, Q[]>();
    for (const query of queries) {
      const leader = this.cluster.leaderOf(query.topic, query.partition);
      if (leader !== undefined) {
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), query]);
        continue;
      }
      const known = this.cluster.topic(query.topic) !== undefined;
      const where = { topic: query.topic, partition: query.partition };
      failAll([query], new RivuletError(known ? 'LEADER_NOT_AVAILABLE' : 'UNKNOWN_TOPIC_OR_PARTITION', `no leader known for ${query.topic}-${query.partition}`, where));
    }
    const answers = await Promise.all(
      [...byLeader].map(async ([nodeId, group]) => {
        const connection = this.cluster.connectionFor(nodeId);
        if (connection === undefined) {
          failAll(group, new RivuletError('LEADER_NOT_AVAILABLE', `broker ${nodeId} left the metadata`, { nodeId }));
          return [];
        }
        try {
          return await send(connection, group);
        } catch (err) {
          failAll(group, toRivuletError(err));
          return [];
        }
      }),
    );
    return { answers: answers.flat(), failures };
  }

  private topicFailures(results: readonly clientApi.TopicResult[]): OperationFailure[] {
    const failures: OperationFailure[] = [];
    for (const result of results) {
      const error = resultError(result.errorCode, result.errorMessage, { topic: result.name });
      if (error !== undefined) failures.push({ topic: result.name, error });
    }
    return failures;
  }
}

/** What an admin operation only an empty group allows says of a group with members. */
function nonEmptyGroupError(groupId: string, allowed: string): RivuletError {
  return new RivuletError(
    'NON_EMPTY_GROUP',
    `group ${groupId} has active members: ${allowed} only while it is empty; stop its consumers (or wait for their sessions to time out) first`,
  );
}

/** A DeleteGroups answer as a typed error that says what it means for the group. */
function deleteGroupError(groupId: string, errorCode: number): RivuletError | undefined {
  if (errorCode === ErrorCode.NON_EMPTY_GROUP) return nonEmptyGroupError(groupId, 'it can be deleted');
  if (errorCode === ErrorCode.GROUP_ID_NOT_FOUND) return new RivuletError('GROUP_ID_NOT_FOUND', `group ${groupId} does not exist`);
  return resultError(errorCode, `DeleteGroups of group ${groupId}`, {});
}

/** Backoff of admin lookups of a group's coordinator. */
const ADMIN_RETRY_BACKOFF = { initialMs: 100, maxMs: 1000 };

function groupByTopic<Q extends TopicPartitionRef, P>(queries: readonly Q[], toPartition: (q: Q) => P): { name: string; partitions: P[] }[] {
  const byTopic = new Map<string, P[]>();
  for (const q of queries) byTopic.set(q.topic, [...(byTopic.get(q.topic) ?? []), toPartition(q)]);
  return [...byTopic].map(([name, partitions]) => ({ name, partitions }));
}
