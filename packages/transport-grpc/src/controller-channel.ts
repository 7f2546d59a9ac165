import { credentials, type ClientReadableStream } from '@grpc/grpc-js';
import { RivuletError, noopLogger, type Logger } from '@rivulet/common';
import { controllerApi } from '@rivulet/proto';
import { CLIENT_CHANNEL_OPTIONS } from './server.js';
import { fromServiceError, isServiceError } from './status.js';
import { callUnary, type UnaryMethod } from './unary-call.js';

type Api = typeof controllerApi;
type Client = InstanceType<Api['ControllerServiceClient']>;

export interface ControllerAddress {
  readonly id: number;
  /** host:port of the controller's gRPC listener. */
  readonly address: string;
}

export interface ControllerChannelOptions {
  readonly controllers: readonly ControllerAddress[];
  readonly logger?: Logger;
  /** Deadline of one attempt. Default 5000 ms. */
  readonly callTimeoutMs?: number;
  /** Pause before trying another controller when none is known to lead. Default 50 ms. */
  readonly retryBackoffMs?: number;
  /** Largest message received (metadata snapshots of big clusters). Default 256 MiB. */
  readonly maxReceiveMessageBytes?: number;
}


/**
 * A broker's (or a tool's) connection to the controller quorum: one gRPC channel per
 * controller, calls routed to the active controller. A refusal with NOT_CONTROLLER moves on to
 * the leader it names (or the next member when it names none), an unreachable member to the
 * next one, until the caller's overall timeout. Other errors, and timeouts of a call that may
 * have been applied, go back to the caller; a member that let a call time out is no longer
 * believed to lead, so the next call tries another (a controller cut off or frozen would
 * otherwise get every later heartbeat until its session lapsed).
 */
export class ControllerChannel {
  private readonly clients = new Map<number, Client>();
  private readonly controllers: readonly ControllerAddress[];
  private readonly logger: Logger;
  private leaderGuess: number | null = null;
  private nextIndex = 0;
  private closed = false;

  constructor(private readonly options: ControllerChannelOptions) {
    if (options.controllers.length === 0) throw new RivuletError('INVALID_CONFIG', 'the controller quorum list is empty');
    this.controllers = options.controllers;
    this.logger = (options.logger ?? noopLogger).child({ component: 'controller-channel' });
  }

  /** The controller believed to be active, if any. */
  get leaderId(): number | null {
    return this.leaderGuess;
  }

  private client(id: number): Client {
    let client = this.clients.get(id);
    if (client === undefined) {
      const target = this.controllers.find((c) => c.id === id);
      if (target === undefined) throw new RivuletError('INVALID_CONFIG', `controller ${id} is not in the quorum list`);
      const maxBytes = this.options.maxReceiveMessageBytes ?? 256 * 1024 * 1024;
      client = new controllerApi.ControllerServiceClient(target.address, credentials.createInsecure(), {
        ...CLIENT_CHANNEL_OPTIONS,
        'grpc.max_receive_message_length': maxBytes,
        'grpc.max_send_message_length': 64 * 1024 * 1024,
      });
      this.clients.set(id, client);
    }
    return client;
  }

  /** Stops believing `id` leads; round robin resumes after it. */
  private forget(id: number): void {
    if (this.leaderGuess === id) this.leaderGuess = null;
    const index = this.controllers.findIndex((c) => c.id === id);
    if (index >= 0 && this.controllers[this.nextIndex % this.controllers.length]!.id === id) this.nextIndex = index + 1;
  }

  /** The next controller to try: the known leader, else round robin. */
  private target(): number {
    if (this.leaderGuess !== null) return this.leaderGuess;
    const target = this.controllers[this.nextIndex % this.controllers.length]!;
    this.nextIndex++;
    return target.id;
  }

  private unary<Req, Res>(id: number, pick: (client: Client) => UnaryMethod<Req, Res>, request: Req, timeoutMs: number): Promise<Res> {
    const client = this.client(id);
    return callUnary(client, pick(client), request, timeoutMs);
  }

  /** Calls the active controller, following NOT_CONTROLLER hints and skipping unreachable members. */
  private async call<Req, Res>(pick: (client: Client) => UnaryMethod<Req, Res>, request: Req, timeoutMs: number): Promise<Res> {
    const deadlineMs = Date.now() + timeoutMs;
    let lastError: RivuletError | null = null;
    while (!this.closed) {
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0) break;
      const id = this.target();
      try {
        const response = await this.unary(id, pick, request, Math.min(remainingMs, this.options.callTimeoutMs ?? 5000));
        this.leaderGuess = id;
        return response;
      } catch (error) {
        if (!(error instanceof RivuletError)) throw error;
        lastError = error;
        if (error.errorName === 'NOT_CONTROLLER') {
          const hint = error.context.leaderId;
          this.leaderGuess = hint !== undefined && hint !== id && this.controllers.some((c) => c.id === hint) ? hint : null;
        } else if (error.errorName === 'NETWORK_EXCEPTION' || error.errorName === 'LEADER_NOT_AVAILABLE') {
          this.forget(id);
        } else if (error.errorName === 'REQUEST_TIMED_OUT') {
          // It may have been applied: the caller decides about retrying, elsewhere next time.
          this.forget(id);
          throw error;
        } else {
          throw error;
        }
        if (this.leaderGuess === null) await new Promise((resolve) => setTimeout(resolve, this.options.retryBackoffMs ?? 50));
      }
    }
    throw lastError ?? new RivuletError('NOT_CONTROLLER', 'no controller answered in time');
  }

  registerBroker(request: controllerApi.RegisterBrokerRequest, timeoutMs: number): Promise<controllerApi.RegisterBrokerResponse> {
    return this.call((c) => c.registerBroker, request, timeoutMs);
  }

  brokerHeartbeat(request: controllerApi.BrokerHeartbeatRequest, timeoutMs: number): Promise<controllerApi.BrokerHeartbeatResponse> {
    return this.call((c) => c.brokerHeartbeat, request, timeoutMs);
  }

  createTopics(request: controllerApi.CreateTopicsRequest, timeoutMs: number): Promise<controllerApi.CreateTopicsResponse> {
    return this.call((c) => c.createTopics, request, timeoutMs);
  }

  deleteTopics(request: controllerApi.DeleteTopicsRequest, timeoutMs: number): Promise<controllerApi.DeleteTopicsResponse> {
    return this.call((c) => c.deleteTopics, request, timeoutMs);
  }

  alterTopicConfigs(request: controllerApi.AlterTopicConfigsRequest, timeoutMs: number): Promise<controllerApi.AlterTopicConfigsResponse> {
    return this.call((c) => c.alterTopicConfigs, request, timeoutMs);
  }

  allocateProducerIds(request: controllerApi.AllocateProducerIdsRequest, timeoutMs: number): Promise<controllerApi.AllocateProducerIdsResponse> {
    return this.call((c) => c.allocateProducerIds, request, timeoutMs);
  }

  createPartitions(request: controllerApi.CreatePartitionsRequest, timeoutMs: number): Promise<controllerApi.CreatePartitionsResponse> {
    return this.call((c) => c.createPartitions, request, timeoutMs);
  }

  alterPartition(request: controllerApi.AlterPartitionRequest, timeoutMs: number): Promise<controllerApi.AlterPartitionResponse> {
    return this.call((c) => c.alterPartition, request, timeoutMs);
  }

  electLeaders(request: controllerApi.ElectLeadersRequest, timeoutMs: number): Promise<controllerApi.ElectLeadersResponse> {
    return this.call((c) => c.electLeaders, request, timeoutMs);
  }

  alterPartitionReassignments(request: controllerApi.AlterPartitionReassignmentsRequest, timeoutMs: number): Promise<controllerApi.AlterPartitionReassignmentsResponse> {
    return this.call((c) => c.alterPartitionReassignments, request, timeoutMs);
  }

  listPartitionReassignments(request: controllerApi.ListPartitionReassignmentsRequest, timeoutMs: number): Promise<controllerApi.ListPartitionReassignmentsResponse> {
    return this.call((c) => c.listPartitionReassignments, request, timeoutMs);
  }

  drainBroker(request: controllerApi.DrainBrokerRequest, timeoutMs: number): Promise<controllerApi.DrainBrokerResponse> {
    return this.call((c) => c.drainBroker, request, timeoutMs);
  }

  /** Asks one member (any role) for its view of the quorum. */
  describeQuorum(id: number, timeoutMs: number): Promise<controllerApi.DescribeQuorumResponse> {
    return this.unary(id, (c) => c.describeQuorum, {}, timeoutMs);
  }

  /**
   * Follows the committed metadata log from the controller believed to lead (any member
   * serves it): resolves when the stream ends, rejects on a stream error; the caller resumes
   * from the offset it reached. `onBatch` is awaited, which holds back the stream.
   */
  watchMetadata(afterOffset: number, onBatch: (batch: controllerApi.MetadataBatch) => Promise<void>, signal: AbortSignal): Promise<void> {
    const id = this.target();
    const client = this.client(id);
    const stream: ClientReadableStream<controllerApi.MetadataBatch> = client.watchMetadata({ afterOffset });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | null): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (error !== null) {
          this.leaderGuess = null;
          reject(error);
        } else resolve();
      };
      const onAbort = (): void => {
        stream.cancel();
        finish(null);
      };
      signal.addEventListener('abort', onAbort);
      let chain = Promise.resolve();
      stream.on('data', (batch: controllerApi.MetadataBatch) => {
        stream.pause();
        chain = chain
          .then(() => onBatch(batch))
          .then(
            () => {
              stream.resume();
            },
            (error: unknown) => {
              stream.cancel();
              finish(error instanceof Error ? error : new Error(String(error)));
            },
          );
      });
      stream.on('error', (error: unknown) => {
        if (signal.aborted) return finish(null);
        const converted = isServiceError(error) ? fromServiceError(error) : error instanceof Error ? error : new Error(String(error));
        void chain.then(() => finish(converted));
      });
      stream.on('end', () => void chain.then(() => finish(null)));
    });
  }

  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    this.logger.debug({}, 'controller channel closed');
  }
}
