import { RivuletError, noopLogger, systemClock, systemRandom, systemScheduler } from '@rivulet/common';
import type { Logger, NodeId } from '@rivulet/common';
import { raft as proto } from '@rivulet/proto';
import type { Message } from '@rivulet/raft';
import { RaftLogStore, raftLogStoreDirectory } from '@rivulet/storage';
import { GrpcServer, RaftPeerTransport, raftServiceHandlers } from '@rivulet/transport-grpc';
import type { RaftPeerStats } from '@rivulet/transport-grpc';
import { raftMessageFromProto, raftMessageToProto } from './raft-codec.js';
import { RaftDriver } from './raft-driver.js';
import type { AppliedEntry, RaftDriverOptions } from './raft-driver.js';

export interface RaftPeerConfig {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
}

export interface RaftMemberOptions {
  readonly id: NodeId;
  /** Every voter, this member included. */
  readonly peers: readonly RaftPeerConfig[];
  readonly dataDir: string;
  /** Where the Raft gRPC listener binds; the port defaults to this member's entry in `peers`. */
  readonly listenHost?: string;
  readonly listenPort?: number;
  readonly logger?: Logger;
  /** Driver options other than wiring (ticks, snapshot hooks, core limits…). */
  readonly driver?: Omit<RaftDriverOptions, 'id' | 'voters' | 'store' | 'send' | 'scheduler' | 'clock' | 'random' | 'logger'>;
  /** Largest Raft batch accepted from a peer. Default 64 MiB. */
  readonly maxReceiveMessageBytes?: number;
  /**
   * A gRPC server of the process to add the Raft service to (it listens and stops with its
   * owner); without one the member runs its own listener.
   */
  readonly server?: GrpcServer;
  /** Receives every committed normal entry, from before the first one is applied. */
  readonly onApply?: (entry: AppliedEntry) => void;
}

/**
 * One Raft member as a running thing: its LevelDB log store, the gRPC listener for its
 * peers, a client per peer and the driver between them. The state machine plugs in through
 * `driver.onApply` and the snapshot hooks.
 */
export class RaftMember {
  private constructor(
    readonly driver: RaftDriver,
    private readonly store: RaftLogStore,
    private readonly server: GrpcServer,
    private readonly ownsServer: boolean,
    private readonly transport: RaftPeerTransport,
  ) {}

  /** The port of the gRPC listener the Raft service is on (once it listens). */
  get port(): number {
    return this.server.port;
  }

  static async start(options: RaftMemberOptions): Promise<RaftMember> {
    const logger = (options.logger ?? noopLogger).child({ nodeId: options.id });
    const self = options.peers.find((peer) => peer.id === options.id);
    if (self === undefined) throw new Error(`node ${options.id} is not in the peer list`);
    const others = options.peers.filter((peer) => peer.id !== options.id);
    const store = await RaftLogStore.open({ directory: raftLogStoreDirectory(options.dataDir), logger });
    const transport = new RaftPeerTransport({ peers: others.map((peer) => ({ id: peer.id, address: `${peer.host}:${peer.port}` })), logger });
    const known = new Set(others.map((peer) => peer.id));
    const send = (message: Message): void => {
      // A membership change may name a member this process has no address for yet.
      if (known.has(message.to)) transport.send(raftMessageToProto(message));
    };
    const driver = new RaftDriver({
      ...options.driver,
      id: options.id,
      voters: options.peers.map((peer) => peer.id),
      store,
      send,
      scheduler: systemScheduler,
      clock: systemClock,
      random: systemRandom,
      logger,
    });
    if (options.onApply) driver.onApply(options.onApply);
    const maxReceiveMessageBytes = options.maxReceiveMessageBytes ?? 64 * 1024 * 1024;
    const server =
      options.server ?? new GrpcServer({ host: options.listenHost ?? self.host, port: options.listenPort ?? self.port, logger, maxReceiveMessageBytes, maxSendMessageBytes: 1024 * 1024 });
    server.addService(
      proto.RaftServiceService,
      raftServiceHandlers((messages) => {
        for (const received of messages) {
          const message = raftMessageFromProto(received);
          if (typeof message === 'string') logger.warn({ from: received.from, reason: message }, 'dropping a malformed raft message');
          else driver.receive(message);
        }
      }),
    );
    if (options.server === undefined) {
      try {
        await server.listen();
      } catch (error) {
        transport.close();
        await store.close();
        throw error;
      }
    }
    driver.start();
    // A sole voter has nobody to wait for: elect itself now rather than after a timeout.
    if (options.peers.length === 1) driver.campaign();
    return new RaftMember(driver, store, server, options.server === undefined, transport);
  }

  transportStats(): RaftPeerStats[] {
    return this.transport.stats();
  }

  async stop(): Promise<void> {
    if (this.ownsServer) await this.server.stop(500);
    await this.driver.stop();
    this.transport.close();
    await this.store.close();
  }
}

/** Parses `id@host:port,id@host:port,…` (KRaft's controller.quorum.voters); empty means none. */
export function parsePeers(list: string): RaftPeerConfig[] {
  const peers = list
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
    .map((item) => {
      const match = /^(\d+)@(.+):(\d+)$/.exec(item);
      if (match === null) throw new RivuletError('INVALID_CONFIG', `bad quorum member "${item}": expected id@host:port`);
      const port = Number(match[3]);
      if (port < 1 || port > 65535) throw new RivuletError('INVALID_CONFIG', `bad quorum member "${item}": port must be 1..65535`);
      return { id: Number(match[1]) as NodeId, host: match[2]!, port };
    });
  if (new Set(peers.map((p) => p.id)).size !== peers.length) throw new RivuletError('INVALID_CONFIG', `the quorum list "${list}" names an id twice`);
  return peers;
}
