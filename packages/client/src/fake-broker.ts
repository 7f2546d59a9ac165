import { RivuletError } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import { decodeRecordBatchesSync, lastOffsetOf, readBatchHeader, setBaseOffset, splitBatches } from '@rivulet/records';
import { FakeGroupCoordinator } from './fake-group-coordinator.js';
import type { BrokerTransport, TransportFactory } from './transport.js';

/*
 * An in-memory stand-in for a cluster's client API, for unit tests of the client's logic:
 * partition logs of real RecordBatch v2 bytes, leaders per partition, and hooks to inject
 * errors or delays. It implements only what the client's logic needs, not broker rules.
 */

interface FakePartition {
  leaderId: number;
  batches: Buffer[];
  logStartOffset: number;
  nextOffset: number;
}

export type ProduceHook = (
  nodeId: number,
  request: clientApi.ProduceRequest,
) => clientApi.ProduceResponse | Error | undefined | Promise<clientApi.ProduceResponse | Error | undefined>;
export type FetchHook = (nodeId: number, request: clientApi.FetchRequest) => clientApi.FetchResponse | Error | undefined;
/** Runs before a broker answers metadata: an error (possibly after a delay) to throw, or undefined to answer. */
export type MetadataHook = (nodeId: number) => Error | undefined | Promise<Error | undefined>;
/** Answers a group request itself (a response, or an error to throw), or leaves it to the fake coordinator (undefined). */
export type GroupHook = (api: GroupApi, request: unknown) => unknown;
export type GroupApi = 'FindCoordinator' | 'JoinGroup' | 'SyncGroup' | 'Heartbeat' | 'LeaveGroup' | 'OffsetCommit' | 'OffsetFetch' | 'DescribeGroups';

const NOT_COORDINATOR = 16;

export class FakeCluster {
  readonly topics = new Map<string, FakePartition[]>();
  readonly brokerIds: number[];
  produceHook: ProduceHook | undefined;
  fetchHook: FetchHook | undefined;
  metadataHook: MetadataHook | undefined;
  groupHook: GroupHook | undefined;
  /** The one broker that coordinates every group. */
  coordinatorId: number;
  readonly groupCoordinator = new FakeGroupCoordinator();
  /** Every group request, with the broker it went to. */
  readonly groupRequests: { nodeId: number; api: GroupApi; request: unknown }[] = [];
  readonly produceRequests: { nodeId: number; request: clientApi.ProduceRequest }[] = [];
  readonly fetchRequests: { nodeId: number; request: clientApi.FetchRequest }[] = [];
  metadataRequests = 0;

  constructor(brokerCount = 1) {
    this.brokerIds = Array.from({ length: brokerCount }, (_, i) => i + 1);
    this.coordinatorId = this.brokerIds[0]!;
  }

  addressOf(nodeId: number): string {
    return `fake-${nodeId}:9093`;
  }

  createTopic(name: string, partitions: number): void {
    this.topics.set(
      name,
      Array.from({ length: partitions }, (_, i) => ({ leaderId: this.brokerIds[i % this.brokerIds.length]!, batches: [], logStartOffset: 0, nextOffset: 0 })),
    );
  }

  /** Appends batches directly, as if another producer had written them. */
  append(topic: string, partition: number, records: Buffer): number {
    const log = this.partition(topic, partition);
    const base = log.nextOffset;
    for (const batch of splitBatches(records).batches) {
      const copy = Buffer.from(batch);
      setBaseOffset(copy, 0, log.nextOffset);
      log.batches.push(copy);
      log.nextOffset = lastOffsetOf(readBatchHeader(copy)) + 1;
    }
    return base;
  }

  /** Stores batches with the offsets they carry, as a compacted log holds them (gaps allowed, never backwards). */
  appendStored(topic: string, partition: number, records: Buffer): void {
    const log = this.partition(topic, partition);
    for (const batch of splitBatches(records).batches) {
      const header = readBatchHeader(batch);
      if (header.baseOffset < log.nextOffset) throw new RivuletError('INVALID_REQUEST', `batch at ${header.baseOffset} is below the log end ${log.nextOffset}`);
      log.batches.push(Buffer.from(batch));
      log.nextOffset = lastOffsetOf(header) + 1;
    }
  }

  partition(topic: string, partition: number): FakePartition {
    const log = this.topics.get(topic)?.[partition];
    if (log === undefined) throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition}`);
    return log;
  }

  /** Every record value of a partition, in offset order. */
  values(topic: string, partition: number): string[] {
    return this.partition(topic, partition).batches.flatMap((b) => decodeRecordBatchesSync(b).flatMap((d) => d.records.map((r) => r.value?.toString() ?? '')));
  }

  transportFactory(): TransportFactory {
    return (address) => {
      const nodeId = this.brokerIds.find((id) => this.addressOf(id) === address) ?? this.brokerIds[0]!;
      return new FakeTransport(this, nodeId, address);
    };
  }

  metadata(request: clientApi.MetadataRequest): clientApi.MetadataResponse {
    this.metadataRequests++;
    const names = request.topics.length > 0 ? request.topics : [...this.topics.keys()];
    return {
      clusterId: 'fake',
      controllerId: this.brokerIds[0]!,
      brokers: this.brokerIds.map((nodeId) => ({ nodeId, host: `fake-${nodeId}`, grpcPort: 9093, kafkaPort: 9092, rack: '' })),
      topics: names.map((name) => {
        const partitions = this.topics.get(name);
        if (partitions === undefined) return { name, errorCode: 3, errorMessage: 'unknown topic', isInternal: false, partitions: [] };
        return {
          name,
          errorCode: 0,
          errorMessage: '',
          isInternal: false,
          partitions: partitions.map((p, partition) => ({ partition, errorCode: 0, leaderId: p.leaderId, leaderEpoch: 0, replicas: [p.leaderId], isr: [p.leaderId] })),
        };
      }),
    };
  }

  produce(nodeId: number, request: clientApi.ProduceRequest): clientApi.ProduceResponse {
    return {
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => {
          const log = this.topics.get(topic.name)?.[p.partition];
          const base = { partition: p.partition, errorMessage: '', logAppendTimeMs: -1, logStartOffset: 0, leaderId: -1 };
          if (log === undefined) return { ...base, errorCode: 3, baseOffset: -1 };
          if (log.leaderId !== nodeId) return { ...base, errorCode: 6, baseOffset: -1, leaderId: log.leaderId };
          return { ...base, errorCode: 0, baseOffset: this.append(topic.name, p.partition, p.records) };
        }),
      })),
    };
  }

  fetch(nodeId: number, request: clientApi.FetchRequest): clientApi.FetchResponse {
    return {
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => this.fetchPartition(nodeId, topic.name, p)),
      })),
    };
  }

  private fetchPartition(nodeId: number, topic: string, request: clientApi.FetchPartition): clientApi.FetchPartitionResponse {
    const log = this.topics.get(topic)?.[request.partition];
    const empty = { partition: request.partition, errorMessage: '', records: Buffer.alloc(0), nextOffset: request.fetchOffset, leaderId: -1 };
    if (log === undefined) return { ...empty, errorCode: 3, highWatermark: -1, logStartOffset: -1 };
    const offsets = { highWatermark: log.nextOffset, logStartOffset: log.logStartOffset };
    if (log.leaderId !== nodeId) return { ...empty, ...offsets, errorCode: 6, leaderId: log.leaderId };
    if (request.fetchOffset < log.logStartOffset || request.fetchOffset > log.nextOffset) return { ...empty, ...offsets, errorCode: 1 };
    const chosen: Buffer[] = [];
    let bytes = 0;
    for (const batch of log.batches) {
      const header = readBatchHeader(batch);
      if (lastOffsetOf(header) < request.fetchOffset) continue;
      if (chosen.length > 0 && bytes + batch.length > request.partitionMaxBytes) break;
      chosen.push(batch);
      bytes += batch.length;
    }
    const last = chosen.at(-1);
    const nextOffset = last === undefined ? request.fetchOffset : lastOffsetOf(readBatchHeader(last)) + 1;
    return { ...empty, ...offsets, errorCode: 0, records: Buffer.concat(chosen), nextOffset };
  }

  listOffsets(request: clientApi.ListOffsetsRequest): clientApi.ListOffsetsResponse {
    return {
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => {
          const log = this.partition(topic.name, p.partition);
          if (p.timestamp === -2) return { partition: p.partition, errorCode: 0, errorMessage: '', offset: log.logStartOffset, timestamp: -1 };
          if (p.timestamp === -1) return { partition: p.partition, errorCode: 0, errorMessage: '', offset: log.nextOffset, timestamp: -1 };
          for (const batch of log.batches) {
            for (const decoded of decodeRecordBatchesSync(batch)) {
              const hit = decoded.records.find((r) => r.timestampMs >= p.timestamp);
              if (hit !== undefined) return { partition: p.partition, errorCode: 0, errorMessage: '', offset: hit.offset, timestamp: hit.timestampMs };
            }
          }
          return { partition: p.partition, errorCode: 0, errorMessage: '', offset: -1, timestamp: -1 };
        }),
      })),
    };
  }
}

class FakeTransport implements BrokerTransport {
  constructor(
    private readonly cluster: FakeCluster,
    private readonly nodeId: number,
    readonly address: string,
  ) {}

  async getMetadata(request: clientApi.MetadataRequest): Promise<clientApi.MetadataResponse> {
    await Promise.resolve();
    const hooked = await this.cluster.metadataHook?.(this.nodeId);
    if (hooked instanceof Error) throw hooked;
    return this.cluster.metadata(request);
  }

  async produce(request: clientApi.ProduceRequest): Promise<clientApi.ProduceResponse> {
    await Promise.resolve();
    this.cluster.produceRequests.push({ nodeId: this.nodeId, request });
    const hooked = await this.cluster.produceHook?.(this.nodeId, request);
    if (hooked instanceof Error) throw hooked;
    return hooked ?? this.cluster.produce(this.nodeId, request);
  }

  async fetch(request: clientApi.FetchRequest): Promise<clientApi.FetchResponse> {
    await Promise.resolve();
    this.cluster.fetchRequests.push({ nodeId: this.nodeId, request });
    const hooked = this.cluster.fetchHook?.(this.nodeId, request);
    if (hooked instanceof Error) throw hooked;
    const response = hooked ?? this.cluster.fetch(this.nodeId, request);
    // An empty answer stands for a long poll that timed out; wait a little like one would.
    const empty = response.topics.every((t) => t.partitions.every((p) => p.records.length === 0));
    if (empty) await new Promise((resolve) => setTimeout(resolve, Math.min(request.maxWaitMs, 20)));
    return response;
  }

  async listOffsets(request: clientApi.ListOffsetsRequest): Promise<clientApi.ListOffsetsResponse> {
    await Promise.resolve();
    return this.cluster.listOffsets(request);
  }

  findCoordinator(request: clientApi.FindCoordinatorRequest): Promise<clientApi.FindCoordinatorResponse> {
    const nodeId = this.cluster.coordinatorId;
    return this.group('FindCoordinator', request, () => ({ errorCode: 0, errorMessage: '', nodeId, host: `fake-${nodeId}`, grpcPort: 9093 }), false);
  }
  joinGroup(request: clientApi.JoinGroupRequest): Promise<clientApi.JoinGroupResponse> {
    return this.group('JoinGroup', request, () => this.cluster.groupCoordinator.joinGroup(request));
  }
  syncGroup(request: clientApi.SyncGroupRequest): Promise<clientApi.SyncGroupResponse> {
    return this.group('SyncGroup', request, () => this.cluster.groupCoordinator.syncGroup(request));
  }
  heartbeat(request: clientApi.HeartbeatRequest, _timeoutMs: number, signal?: AbortSignal): Promise<clientApi.HeartbeatResponse> {
    return this.group('Heartbeat', request, () => this.cluster.groupCoordinator.heartbeat(request, signal));
  }
  leaveGroup(request: clientApi.LeaveGroupRequest): Promise<clientApi.LeaveGroupResponse> {
    return this.group('LeaveGroup', request, () => this.cluster.groupCoordinator.leaveGroup(request));
  }
  offsetCommit(request: clientApi.OffsetCommitRequest): Promise<clientApi.OffsetCommitResponse> {
    return this.group('OffsetCommit', request, () => this.cluster.groupCoordinator.offsetCommit(request));
  }
  offsetFetch(request: clientApi.OffsetFetchRequest): Promise<clientApi.OffsetFetchResponse> {
    return this.group('OffsetFetch', request, () => this.cluster.groupCoordinator.offsetFetch(request));
  }
  describeGroups(request: clientApi.DescribeGroupsRequest): Promise<clientApi.DescribeGroupsResponse> {
    return this.group('DescribeGroups', request, () => this.cluster.groupCoordinator.describeGroups(request));
  }

  /** A group request: the hook's answer if it has one, NOT_COORDINATOR on a broker that is not the coordinator, else the fake coordinator's. */
  private async group<Res>(api: GroupApi, request: unknown, answer: () => Res | Promise<Res>, coordinatorOnly = true): Promise<Res> {
    await Promise.resolve();
    this.cluster.groupRequests.push({ nodeId: this.nodeId, api, request });
    const hooked = this.cluster.groupHook?.(api, request);
    if (hooked instanceof Error) throw hooked;
    if (hooked !== undefined) return hooked as Res;
    if (coordinatorOnly && this.nodeId !== this.cluster.coordinatorId) return notCoordinator(api, request) as Res;
    return answer();
  }

  createTopics(): Promise<clientApi.CreateTopicsResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'fake'));
  }
  createPartitions(): Promise<clientApi.CreatePartitionsResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'the fake cluster does not grow topics'));
  }

  alterTopicConfigs(): Promise<clientApi.AlterTopicConfigsResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'the fake cluster has no topic configs'));
  }

  deleteTopics(): Promise<clientApi.DeleteTopicsResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'fake'));
  }
  describeTopics(): Promise<clientApi.DescribeTopicsResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'fake'));
  }
  deleteRecords(): Promise<clientApi.DeleteRecordsResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'fake'));
  }
  describeCluster(): Promise<clientApi.DescribeClusterResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'fake'));
  }
  alterPartitionReassignments(): Promise<clientApi.AlterPartitionReassignmentsResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'fake'));
  }
  listPartitionReassignments(): Promise<clientApi.ListPartitionReassignmentsResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'fake'));
  }
  drainBroker(): Promise<clientApi.DrainBrokerResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'fake'));
  }
  listGroups(): Promise<clientApi.ListGroupsResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'fake'));
  }
  deleteGroups(): Promise<clientApi.DeleteGroupsResponse> {
    return Promise.reject(new RivuletError('UNSUPPORTED_VERSION', 'fake'));
  }
  close(): void {}
}

/** The NOT_COORDINATOR answer of a group API, in its response's shape. */
function notCoordinator(api: GroupApi, request: unknown): unknown {
  const base = { errorCode: NOT_COORDINATOR, errorMessage: 'not the coordinator' };
  switch (api) {
    case 'JoinGroup':
      return { ...base, generationId: -1, protocolType: '', protocolName: '', leader: '', skipAssignment: false, memberId: '', members: [] };
    case 'SyncGroup':
      return { ...base, protocolType: '', protocolName: '', assignment: Buffer.alloc(0) };
    case 'LeaveGroup':
      return { ...base, members: [] };
    case 'OffsetFetch':
      return { errorCode: NOT_COORDINATOR, topics: [] };
    case 'DescribeGroups':
      return {
        groups: (request as clientApi.DescribeGroupsRequest).groupIds.map((groupId) => ({ groupId, errorCode: NOT_COORDINATOR, groupState: 'Dead', protocolType: '', protocolData: '', members: [] })),
      };
    case 'OffsetCommit':
      return {
        topics: (request as clientApi.OffsetCommitRequest).topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: NOT_COORDINATOR })),
        })),
      };
    default:
      return base;
  }
}
