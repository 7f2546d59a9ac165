import { credentials, Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { replicationApi } from '@rivulet/proto';
import { CLIENT_CHANNEL_OPTIONS } from './server.js';
import { fromServiceError, isServiceError } from './status.js';

type Client = InstanceType<typeof replicationApi.ReplicaServiceClient>;
type UnaryMethod<Req, Res> = (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (error: ServiceError | null, response: Res) => void) => ClientUnaryCall;

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

  private unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, timeoutMs: number): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      method.call(this.client, request, new Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) reject(isServiceError(error) ? fromServiceError(error) : error);
        else resolve(response);
      });
    });
  }

  replicaFetch(request: replicationApi.ReplicaFetchRequest, timeoutMs: number): Promise<replicationApi.ReplicaFetchResponse> {
    return this.unary(this.client.replicaFetch, request, timeoutMs);
  }

  offsetForLeaderEpoch(request: replicationApi.OffsetForLeaderEpochRequest, timeoutMs: number): Promise<replicationApi.OffsetForLeaderEpochResponse> {
    return this.unary(this.client.offsetForLeaderEpoch, request, timeoutMs);
  }

  close(): void {
    this.client.close();
  }
}
