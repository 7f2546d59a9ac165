import { RivuletError } from '@rivulet/common';
import { CLIENT_CHANNEL_OPTIONS, StreamCalls } from '@rivulet/transport-grpc';
import { credentials, Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { clientApi } from '@rivulet/proto';
import { fromGrpcError } from './errors.js';

type Api = typeof clientApi;

/**
 * The client API of one broker, one promise per call. Every call carries its own timeout,
 * which becomes the gRPC deadline. Failures are RivuletErrors (see `fromGrpcError`). Tests
 * substitute a fake implementation; production uses `grpcTransportFactory`.
 */
export interface BrokerTransport {
  readonly address: string;
  getMetadata(request: clientApi.MetadataRequest, timeoutMs: number): Promise<clientApi.MetadataResponse>;
  createTopics(request: clientApi.CreateTopicsRequest, timeoutMs: number): Promise<clientApi.CreateTopicsResponse>;
  deleteTopics(request: clientApi.DeleteTopicsRequest, timeoutMs: number): Promise<clientApi.DeleteTopicsResponse>;
  createPartitions(request: clientApi.CreatePartitionsRequest, timeoutMs: number): Promise<clientApi.CreatePartitionsResponse>;
  alterTopicConfigs(request: clientApi.AlterTopicConfigsRequest, timeoutMs: number): Promise<clientApi.AlterTopicConfigsResponse>;
  describeTopics(request: clientApi.DescribeTopicsRequest, timeoutMs: number): Promise<clientApi.DescribeTopicsResponse>;
  produce(request: clientApi.ProduceRequest, timeoutMs: number): Promise<clientApi.ProduceResponse>;
  fetch(request: clientApi.FetchRequest, timeoutMs: number): Promise<clientApi.FetchResponse>;
  listOffsets(request: clientApi.ListOffsetsRequest, timeoutMs: number): Promise<clientApi.ListOffsetsResponse>;
  deleteRecords(request: clientApi.DeleteRecordsRequest, timeoutMs: number): Promise<clientApi.DeleteRecordsResponse>;
  describeCluster(request: clientApi.DescribeClusterRequest, timeoutMs: number): Promise<clientApi.DescribeClusterResponse>;
  alterPartitionReassignments(request: clientApi.AlterPartitionReassignmentsRequest, timeoutMs: number): Promise<clientApi.AlterPartitionReassignmentsResponse>;
  listPartitionReassignments(request: clientApi.ListPartitionReassignmentsRequest, timeoutMs: number): Promise<clientApi.ListPartitionReassignmentsResponse>;
  drainBroker(request: clientApi.DrainBrokerRequest, timeoutMs: number): Promise<clientApi.DrainBrokerResponse>;
  findCoordinator(request: clientApi.FindCoordinatorRequest, timeoutMs: number): Promise<clientApi.FindCoordinatorResponse>;
  /** A long poll: `timeoutMs` must cover the group's rebalance timeout. `signal` abandons it (a consumer closing). */
  joinGroup(request: clientApi.JoinGroupRequest, timeoutMs: number, signal?: AbortSignal): Promise<clientApi.JoinGroupResponse>;
  /** Waits for the leader's assignment; `signal` abandons it. */
  syncGroup(request: clientApi.SyncGroupRequest, timeoutMs: number, signal?: AbortSignal): Promise<clientApi.SyncGroupResponse>;
  /** With maxWaitMs, a long poll: `timeoutMs` must cover the wait; `signal` abandons it. */
  heartbeat(request: clientApi.HeartbeatRequest, timeoutMs: number, signal?: AbortSignal): Promise<clientApi.HeartbeatResponse>;
  leaveGroup(request: clientApi.LeaveGroupRequest, timeoutMs: number): Promise<clientApi.LeaveGroupResponse>;
  offsetCommit(request: clientApi.OffsetCommitRequest, timeoutMs: number): Promise<clientApi.OffsetCommitResponse>;
  offsetFetch(request: clientApi.OffsetFetchRequest, timeoutMs: number): Promise<clientApi.OffsetFetchResponse>;
  describeGroups(request: clientApi.DescribeGroupsRequest, timeoutMs: number): Promise<clientApi.DescribeGroupsResponse>;
  listGroups(request: clientApi.ListGroupsRequest, timeoutMs: number): Promise<clientApi.ListGroupsResponse>;
  deleteGroups(request: clientApi.DeleteGroupsRequest, timeoutMs: number): Promise<clientApi.DeleteGroupsResponse>;
  close(): void;
}

/** Opens a transport to `host:port`. */
export type TransportFactory = (address: string) => BrokerTransport;

/**
 * Produce requests one transport keeps in flight on its produce stream; far above what
 * producers send at once (maxInFlightRequests per broker), so it only stops a runaway.
 */
const PRODUCE_STREAM_IN_FLIGHT_MAX = 1024;

/** Offset commits one transport keeps in flight on its commit stream; only stops a runaway. */
const COMMIT_STREAM_IN_FLIGHT_MAX = 1024;

/** Large enough for a whole fetch response at the broker's default fetch.max.bytes (50 MiB) plus framing. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const channelOptions = {
  ...CLIENT_CHANNEL_OPTIONS,
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  // Keepalive notices a dead broker on an idle channel instead of waiting for the next call's deadline.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
} as const;

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/**
 * The grpc-js transport: one channel (HTTP/2 connection) per broker address. Produce
 * requests and offset commits go as messages on one long-lived stream each (ProduceStream,
 * OffsetCommitStream: pipelined, answered in order); a stream failure fails the requests in
 * flight on it, and the next request opens a new one.
 */
export class GrpcBrokerTransport implements BrokerTransport {
  private readonly client: InstanceType<Api['ClientApiClient']>;
  private readonly produceCalls: StreamCalls<clientApi.ProduceRequest, clientApi.ProduceStreamResponse>;
  private readonly commitCalls: StreamCalls<clientApi.OffsetCommitRequest, clientApi.OffsetCommitStreamResponse>;

  constructor(readonly address: string, clientId: string) {
    this.client = new clientApi.ClientApiClient(address, credentials.createInsecure(), {
      ...channelOptions,
      'grpc.primary_user_agent': `rivulet-client/${clientId}`,
    });
    this.produceCalls = new StreamCalls(() => this.client.produceStream(), PRODUCE_STREAM_IN_FLIGHT_MAX, `Produce to ${address}`);
    this.commitCalls = new StreamCalls(() => this.client.offsetCommitStream(), COMMIT_STREAM_IN_FLIGHT_MAX, `OffsetCommit to ${address}`);
  }

  getMetadata(request: clientApi.MetadataRequest, timeoutMs: number): Promise<clientApi.MetadataResponse> {
    return this.unary('GetMetadata', this.client.getMetadata.bind(this.client), request, timeoutMs);
  }
  createTopics(request: clientApi.CreateTopicsRequest, timeoutMs: number): Promise<clientApi.CreateTopicsResponse> {
    return this.unary('CreateTopics', this.client.createTopics.bind(this.client), request, timeoutMs);
  }
  deleteTopics(request: clientApi.DeleteTopicsRequest, timeoutMs: number): Promise<clientApi.DeleteTopicsResponse> {
    return this.unary('DeleteTopics', this.client.deleteTopics.bind(this.client), request, timeoutMs);
  }

  createPartitions(request: clientApi.CreatePartitionsRequest, timeoutMs: number): Promise<clientApi.CreatePartitionsResponse> {
    return this.unary('CreatePartitions', this.client.createPartitions.bind(this.client), request, timeoutMs);
  }

  alterTopicConfigs(request: clientApi.AlterTopicConfigsRequest, timeoutMs: number): Promise<clientApi.AlterTopicConfigsResponse> {
    return this.unary('AlterTopicConfigs', this.client.alterTopicConfigs.bind(this.client), request, timeoutMs);
  }
  describeTopics(request: clientApi.DescribeTopicsRequest, timeoutMs: number): Promise<clientApi.DescribeTopicsResponse> {
    return this.unary('DescribeTopics', this.client.describeTopics.bind(this.client), request, timeoutMs);
  }
  async produce(request: clientApi.ProduceRequest, timeoutMs: number): Promise<clientApi.ProduceResponse> {
    const answer = await this.produceCalls.call(request, timeoutMs);
    if (answer.errorCode !== 0) {
      throw RivuletError.fromCode(answer.errorCode, `Produce to ${this.address}: ${answer.errorMessage}`, answer.leaderId >= 0 ? { leaderId: answer.leaderId } : {});
    }
    return answer.response ?? { topics: [] };
  }
  fetch(request: clientApi.FetchRequest, timeoutMs: number): Promise<clientApi.FetchResponse> {
    return this.unary('Fetch', this.client.fetch.bind(this.client), request, timeoutMs);
  }
  listOffsets(request: clientApi.ListOffsetsRequest, timeoutMs: number): Promise<clientApi.ListOffsetsResponse> {
    return this.unary('ListOffsets', this.client.listOffsets.bind(this.client), request, timeoutMs);
  }
  deleteRecords(request: clientApi.DeleteRecordsRequest, timeoutMs: number): Promise<clientApi.DeleteRecordsResponse> {
    return this.unary('DeleteRecords', this.client.deleteRecords.bind(this.client), request, timeoutMs);
  }
  describeCluster(request: clientApi.DescribeClusterRequest, timeoutMs: number): Promise<clientApi.DescribeClusterResponse> {
    return this.unary('DescribeCluster', this.client.describeCluster.bind(this.client), request, timeoutMs);
  }
  alterPartitionReassignments(request: clientApi.AlterPartitionReassignmentsRequest, timeoutMs: number): Promise<clientApi.AlterPartitionReassignmentsResponse> {
    return this.unary('AlterPartitionReassignments', this.client.alterPartitionReassignments.bind(this.client), request, timeoutMs);
  }
  listPartitionReassignments(request: clientApi.ListPartitionReassignmentsRequest, timeoutMs: number): Promise<clientApi.ListPartitionReassignmentsResponse> {
    return this.unary('ListPartitionReassignments', this.client.listPartitionReassignments.bind(this.client), request, timeoutMs);
  }
  drainBroker(request: clientApi.DrainBrokerRequest, timeoutMs: number): Promise<clientApi.DrainBrokerResponse> {
    return this.unary('DrainBroker', this.client.drainBroker.bind(this.client), request, timeoutMs);
  }
  findCoordinator(request: clientApi.FindCoordinatorRequest, timeoutMs: number): Promise<clientApi.FindCoordinatorResponse> {
    return this.unary('FindCoordinator', this.client.findCoordinator.bind(this.client), request, timeoutMs);
  }
  joinGroup(request: clientApi.JoinGroupRequest, timeoutMs: number, signal?: AbortSignal): Promise<clientApi.JoinGroupResponse> {
    return this.unary('JoinGroup', this.client.joinGroup.bind(this.client), request, timeoutMs, signal);
  }
  syncGroup(request: clientApi.SyncGroupRequest, timeoutMs: number, signal?: AbortSignal): Promise<clientApi.SyncGroupResponse> {
    return this.unary('SyncGroup', this.client.syncGroup.bind(this.client), request, timeoutMs, signal);
  }
  heartbeat(request: clientApi.HeartbeatRequest, timeoutMs: number, signal?: AbortSignal): Promise<clientApi.HeartbeatResponse> {
    return this.unary('Heartbeat', this.client.heartbeat.bind(this.client), request, timeoutMs, signal);
  }
  leaveGroup(request: clientApi.LeaveGroupRequest, timeoutMs: number): Promise<clientApi.LeaveGroupResponse> {
    return this.unary('LeaveGroup', this.client.leaveGroup.bind(this.client), request, timeoutMs);
  }
  async offsetCommit(request: clientApi.OffsetCommitRequest, timeoutMs: number): Promise<clientApi.OffsetCommitResponse> {
    const answer = await this.commitCalls.call(request, timeoutMs);
    if (answer.errorCode !== 0) throw RivuletError.fromCode(answer.errorCode, `OffsetCommit to ${this.address}: ${answer.errorMessage}`);
    return answer.response ?? { topics: [] };
  }
  offsetFetch(request: clientApi.OffsetFetchRequest, timeoutMs: number): Promise<clientApi.OffsetFetchResponse> {
    return this.unary('OffsetFetch', this.client.offsetFetch.bind(this.client), request, timeoutMs);
  }
  describeGroups(request: clientApi.DescribeGroupsRequest, timeoutMs: number): Promise<clientApi.DescribeGroupsResponse> {
    return this.unary('DescribeGroups', this.client.describeGroups.bind(this.client), request, timeoutMs);
  }
  listGroups(request: clientApi.ListGroupsRequest, timeoutMs: number): Promise<clientApi.ListGroupsResponse> {
    return this.unary('ListGroups', this.client.listGroups.bind(this.client), request, timeoutMs);
  }
  deleteGroups(request: clientApi.DeleteGroupsRequest, timeoutMs: number): Promise<clientApi.DeleteGroupsResponse> {
    return this.unary('DeleteGroups', this.client.deleteGroups.bind(this.client), request, timeoutMs);
  }

  close(): void {
    this.produceCalls.close();
    this.commitCalls.close();
    this.client.close();
  }

  /** One call with a deadline; `signal` cancels it (the promise then rejects with the cancellation). */
  private unary<Req, Res>(name: string, method: UnaryMethod<Req, Res>, request: Req, timeoutMs: number, signal?: AbortSignal): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const deadline = new Date(Date.now() + timeoutMs);
      const cancel = (): void => call.cancel();
      const call = method(request, new Metadata(), { deadline }, (error, response) => {
        signal?.removeEventListener('abort', cancel);
        if (error) reject(fromGrpcError(error, this.address, name));
        else resolve(response);
      });
      if (signal?.aborted === true) call.cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
    });
  }
}

export function grpcTransportFactory(clientId: string): TransportFactory {
  return (address) => new GrpcBrokerTransport(address, clientId);
}
