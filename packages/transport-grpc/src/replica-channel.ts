import { credentials } from '@grpc/grpc-js';
import { replicationApi } from '@rivulet/proto';
import { CLIENT_CHANNEL_OPTIONS } from './server.js';
import { callUnary } from './unary-call.js';

type Client = InstanceType<typeof replicationApi.ReplicaServiceClient>;

/** Largest replica fetch answer a follower accepts (the broker bounds answers well below it). */
const REPLICA_RECEIVE_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;

/**
 * A follower broker's channel to one leader broker's ReplicaService. Failures come back as
 * RivuletErrors (NETWORK_EXCEPTION when the leader cannot be reached) for the fetcher to back
 * off and retry.
 */
export class ReplicaChannel {
  private readonly client: Client;

  constructor(readonly address: string) {
    this.client = new replicationApi.ReplicaServiceClient(address, credentials.createInsecure(), {
      ...CLIENT_CHANNEL_OPTIONS,
      'grpc.max_receive_message_length': REPLICA_RECEIVE_MESSAGE_BYTES_MAX,
    });
  }

  replicaFetch(request: replicationApi.ReplicaFetchRequest, timeoutMs: number): Promise<replicationApi.ReplicaFetchResponse> {
    return callUnary(this.client, this.client.replicaFetch, request, timeoutMs);
  }

  offsetForLeaderEpoch(request: replicationApi.OffsetForLeaderEpochRequest, timeoutMs: number): Promise<replicationApi.OffsetForLeaderEpochResponse> {
    return callUnary(this.client, this.client.offsetForLeaderEpoch, request, timeoutMs);
  }

  close(): void {
    this.client.close();
  }
}
