import { credentials } from '@grpc/grpc-js';
import { RivuletError, assert, noopLogger, type Logger } from '@rivulet/common';
import { raft } from '@rivulet/proto';
import { CLIENT_CHANNEL_OPTIONS, type ServiceHandlers } from './server.js';
import { StreamCalls } from './stream-calls.js';

/*
 * The Raft peer transport: one client per peer pushing the messages queued for it in
 * batches on its `RaftService.Send` stream (see proto/rivulet/raft/v1/raft.proto for why), and the server
 * handler that hands received batches to the driver. It speaks proto messages only: the
 * conversion to the core's message types lives in @rivulet/controller, which may import
 * @rivulet/raft (this package may not).
 *
 * Raft tolerates loss, so the transport never waits for a peer: messages for a peer that is
 * down, slow or restarting are dropped — when the bounded queue is full, or when the batch
 * carrying them fails or misses its deadline — and counted. The leader retransmits
 * whatever matters (appends, heartbeats, snapshot chunks) on its own schedule.
 */

export interface RaftPeerAddress {
  readonly id: number;
  /** host:port of the peer's gRPC listener. */
  readonly address: string;
}

export interface RaftPeerTransportOptions {
  readonly peers: readonly RaftPeerAddress[];
  readonly logger?: Logger;
  /** Messages queued per peer before new ones are dropped. Default 4096. */
  readonly queueMessagesMax?: number;
  /** Estimated bytes queued per peer before new messages are dropped. Default 64 MiB. */
  readonly queueBytesMax?: number;
  /** Estimated bytes in one Send call (at least one message is sent). Default 4 MiB. */
  readonly batchBytesMax?: number;
  /** Deadline of one batch's acknowledgement; a stalled peer costs at most this, then the batch is dropped. Default 2000 ms. */
  readonly callDeadlineMs?: number;
  /** Largest message the channel sends; must not exceed the peers' receive limit. Default 64 MiB. */
  readonly maxSendMessageBytes?: number;
}

export interface RaftPeerStats {
  readonly peerId: number;
  readonly connected: boolean;
  readonly queuedMessages: number;
  readonly sentMessages: number;
  /** Dropped because the queue was full. */
  readonly droppedQueueFullMessages: number;
  /** Dropped because the batch carrying them failed (peer down, deadline, closed). */
  readonly droppedFailedCallMessages: number;
  readonly failedCalls: number;
}

const DEFAULT_QUEUE_MESSAGES_MAX = 4096;
const DEFAULT_QUEUE_BYTES_MAX = 64 * 1024 * 1024;
const DEFAULT_BATCH_BYTES_MAX = 4 * 1024 * 1024;
const DEFAULT_CALL_DEADLINE_MS = 2000;
const DEFAULT_MAX_SEND_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Fixed per-message and per-entry overheads of the size estimate (ids, terms, tags). */
const MESSAGE_OVERHEAD_BYTES = 48;
const ENTRY_OVERHEAD_BYTES = 24;

/** An upper-bound guess of a message's encoded size, without encoding it twice. */
export function estimateRaftMessageBytes(message: raft.RaftMessage): number {
  const body = message.body;
  if (body?.$case === 'append') {
    let bytes = MESSAGE_OVERHEAD_BYTES;
    for (const entry of body.append.entries) bytes += ENTRY_OVERHEAD_BYTES + entry.data.byteLength;
    return bytes;
  }
  if (body?.$case === 'snapshotChunk') {
    const confState = body.snapshotChunk.metadata?.confState;
    return MESSAGE_OVERHEAD_BYTES + body.snapshotChunk.data.byteLength + 10 * ((confState?.voters.length ?? 0) + (confState?.learners.length ?? 0));
  }
  return MESSAGE_OVERHEAD_BYTES;
}

interface Queued {
  readonly message: raft.RaftMessage;
  readonly bytes: number;
}

/** One peer: a bounded FIFO and at most one batch in flight, which keeps order. */
class RaftPeerClient {
  private readonly client: raft.RaftServiceClient;
  private readonly batches: StreamCalls<raft.RaftMessageBatch, raft.SendResponse>;
  private readonly queue: Queued[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private closed = false;
  private reachable = true;
  private sentMessages = 0;
  private droppedQueueFullMessages = 0;
  private droppedFailedCallMessages = 0;
  private failedCalls = 0;

  constructor(
    readonly peer: RaftPeerAddress,
    private readonly settings: Required<Omit<RaftPeerTransportOptions, 'peers' | 'logger'>>,
    private readonly logger: Logger,
  ) {
    this.client = new raft.RaftServiceClient(peer.address, credentials.createInsecure(), {
      // CLIENT_CHANNEL_OPTIONS reconnects within a second: a restarted controller must be
      // heard from within an election timeout.
      ...CLIENT_CHANNEL_OPTIONS,
      'grpc.max_send_message_length': settings.maxSendMessageBytes,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
    this.batches = new StreamCalls(() => this.client.send(), 1, `raft messages to ${peer.id} at ${peer.address}`);
  }

  enqueue(message: raft.RaftMessage): boolean {
    if (this.closed) return false;
    const bytes = estimateRaftMessageBytes(message);
    const queued = this.queue.length - this.queueHead;
    // A message larger than the whole byte budget still goes alone through an empty queue,
    // so a big snapshot chunk cannot be starved forever.
    if (queued >= this.settings.queueMessagesMax || (queued > 0 && this.queuedBytes + bytes > this.settings.queueBytesMax)) {
      this.droppedQueueFullMessages++;
      return false;
    }
    this.queue.push({ message, bytes });
    this.queuedBytes += bytes;
    this.pump();
    return true;
  }

  private takeBatch(): raft.RaftMessage[] {
    const batch: raft.RaftMessage[] = [];
    let bytes = 0;
    while (this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead]!;
      if (batch.length > 0 && bytes + next.bytes > this.settings.batchBytesMax) break;
      batch.push(next.message);
      bytes += next.bytes;
      this.queuedBytes -= next.bytes;
      this.queueHead++;
    }
    // Compact the array once its consumed head dominates, keeping push/shift O(1) amortized.
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return batch;
  }

  private pump(): void {
    if (this.batches.inFlight > 0 || this.closed || this.queueHead >= this.queue.length) return;
    const messages = this.takeBatch();
    this.batches.call({ messages }, this.settings.callDeadlineMs).then(
      () => {
        this.sentMessages += messages.length;
        if (!this.reachable) this.logger.info({ peerId: this.peer.id, address: this.peer.address }, 'raft peer reachable again');
        this.reachable = true;
        this.pump();
      },
      (err: unknown) => {
        this.failedCalls++;
        this.droppedFailedCallMessages += messages.length;
        // Log transitions only: a down peer fails every heartbeat.
        if (this.reachable && !this.closed) {
          const reason = err instanceof RivuletError ? err.message : String(err);
          this.logger.warn({ peerId: this.peer.id, address: this.peer.address, reason }, 'raft peer unreachable, dropping its messages');
        }
        this.reachable = false;
        this.pump();
      },
    );
  }

  stats(): RaftPeerStats {
    return {
      peerId: this.peer.id,
      connected: this.reachable,
      queuedMessages: this.queue.length - this.queueHead,
      sentMessages: this.sentMessages,
      droppedQueueFullMessages: this.droppedQueueFullMessages,
      droppedFailedCallMessages: this.droppedFailedCallMessages,
      failedCalls: this.failedCalls,
    };
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.batches.close();
    this.client.close();
  }
}

/** Clients to every peer of one Raft member. */
export class RaftPeerTransport {
  private readonly peers = new Map<number, RaftPeerClient>();
  private readonly logger: Logger;

  constructor(options: RaftPeerTransportOptions) {
    this.logger = (options.logger ?? noopLogger).child({ component: 'raft-transport' });
    const settings = {
      queueMessagesMax: options.queueMessagesMax ?? DEFAULT_QUEUE_MESSAGES_MAX,
      queueBytesMax: options.queueBytesMax ?? DEFAULT_QUEUE_BYTES_MAX,
      batchBytesMax: options.batchBytesMax ?? DEFAULT_BATCH_BYTES_MAX,
      callDeadlineMs: options.callDeadlineMs ?? DEFAULT_CALL_DEADLINE_MS,
      maxSendMessageBytes: options.maxSendMessageBytes ?? DEFAULT_MAX_SEND_MESSAGE_BYTES,
    };
    assert(settings.queueMessagesMax > 0 && settings.queueBytesMax > 0 && settings.batchBytesMax > 0 && settings.callDeadlineMs > 0, 'raft transport limits must be positive');
    for (const peer of options.peers) {
      assert(!this.peers.has(peer.id), `raft peer ${peer.id} listed twice`);
      this.peers.set(peer.id, new RaftPeerClient(peer, settings, this.logger));
    }
  }

  /**
   * Queues `message` for `message.to`. Returns false when it was dropped (queue full or
   * transport closed). Never blocks and never throws for an operating condition.
   */
  send(message: raft.RaftMessage): boolean {
    const peer = this.peers.get(message.to);
    assert(peer !== undefined, `raft message for unknown peer ${message.to}`);
    return peer.enqueue(message);
  }

  stats(): RaftPeerStats[] {
    return [...this.peers.values()].map((peer) => peer.stats());
  }

  close(): void {
    for (const peer of this.peers.values()) peer.close();
  }
}

/**
 * The server side of RaftService for `GrpcServer.addService(raft.RaftServiceService, …)`:
 * hands every received batch to `receive` (which steps the messages into the node) and
 * answers at once — the answer means "delivered", not "persisted" (Raft's answers are
 * messages of their own).
 */
export function raftServiceHandlers(receive: (messages: raft.RaftMessage[]) => void): ServiceHandlers<typeof raft.RaftServiceService> {
  return {
    send: async (batches, write) => {
      for await (const batch of batches) {
        receive(batch.messages);
        await write({});
      }
    },
  };
}
