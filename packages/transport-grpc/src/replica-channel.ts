import { credentials } from '@grpc/grpc-js';
import { replicationApi } from '@rivulet/proto';
import { CLIENT_CHANNEL_OPTIONS } from './server.js';
import { StreamCalls } from './stream-calls.js';
import { callUnary } from './unary-call.js';

type Client = InstanceType<typeof replicationApi.ReplicaServiceClient>;

/** Largest replica fetch answer a follower accepts (the broker bounds answers well below it). */
const REPLICA_RECEIVE_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;

/**
 * A follower broker's channel to one leader broker's ReplicaService: replica fetches go as
 * messages on one fetch stream, one at a time. Failures come back as RivuletErrors
 * (NETWORK_EXCEPTION when the leader cannot be reached, REQUEST_TIMED_OUT) for the fetcher
 * to back off and retry; the next fetch opens a new stream.
 */
export class ReplicaChannel {
  private readonly client: Client;
  private readonly fetches: StreamCalls<replicationApi.ReplicaFetchRequest, replicationApi.ReplicaFetchResponse>;

  constructor(readonly address: string) {
    this.client = new replicationApi.ReplicaServiceClient(address, credentials.createInsecure(), {
      ...CLIENT_CHANNEL_OPTIONS,
      'grpc.max_receive_message_length': REPLICA_RECEIVE_MESSAGE_BYTES_MAX,
    });
    this.fetches = new StreamCalls(() => this.client.replicaFetch(), 1, `replica fetch from ${address}`);
  }

  replicaFetch(request: replicationApi.ReplicaFetchRequest, timeoutMs: number): Promise<replicationApi.ReplicaFetchResponse> {
    return this.fetches.call(request, timeoutMs);
  }

  offsetForLeaderEpoch(request: replicationApi.OffsetForLeaderEpochRequest, timeoutMs: number): Promise<replicationApi.OffsetForLeaderEpochResponse> {
    return callUnary(this.client, this.client.offsetForLeaderEpoch, request, timeoutMs);
  }

  close(): void {
    this.fetches.close();
    this.client.close();
  }
}
