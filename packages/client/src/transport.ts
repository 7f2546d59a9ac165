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
  close(): void;
}

/** Opens a transport to `host:port`. */
export type TransportFactory = (address: string) => BrokerTransport;

/**
 * Produce requests one transport keeps in flight on its produce stream; far above what
 * producers send at once (maxInFlightRequests per broker), so it only stops a runaway.
 */
const PRODUCE_STREAM_IN_FLIGHT_MAX = 1024;

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
 * requests go as messages on one long-lived ProduceStream (pipelined, answered in order);
 * a stream failure fails the requests in flight on it, and the next request opens a new one.
 */
export class GrpcBrokerTransport implements BrokerTransport {
  private readonly client: InstanceType<Api['ClientApiClient']>;
  private readonly produceCalls: StreamCalls<clientApi.ProduceRequest, clientApi.ProduceStreamResponse>;

  constructor(readonly address: string, clientId: string) {
    this.client = new clientApi.ClientApiClient(address, credentials.createInsecure(), {
      ...channelOptions,
      'grpc.primary_user_agent': `rivulet-client/${clientId}`,
    });
    this.produceCalls = new StreamCalls(() => this.client.produceStream(), PRODUCE_STREAM_IN_FLIGHT_MAX, `Produce to ${address}`);
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

  close(): void {
    this.produceCalls.close();
    this.client.close();
  }

  private unary<Req, Res>(name: string, method: UnaryMethod<Req, Res>, request: Req, timeoutMs: number): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const deadline = new Date(Date.now() + timeoutMs);
      method(request, new Metadata(), { deadline }, (error, response) => {
        if (error) reject(fromGrpcError(error, this.address, name));
        else resolve(response);
      });
    });
  }
}

export function grpcTransportFactory(clientId: string): TransportFactory {
  return (address) => new GrpcBrokerTransport(address, clientId);
}
