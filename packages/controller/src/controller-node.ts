import { systemClock, systemScheduler } from '@rivulet/common';
import type { Logger, NodeId } from '@rivulet/common';
import { controllerApi } from '@rivulet/proto';
import type { GrpcServer } from '@rivulet/transport-grpc';
import { controllerServiceHandlers } from './controller-service.js';
import { MetadataLog } from './metadata-log.js';
import { QuorumController } from './quorum-controller.js';
import type { QuorumControllerOptions } from './quorum-controller.js';
import { RaftMember } from './raft-member.js';
import type { RaftMemberOptions, RaftPeerConfig } from './raft-member.js';

export interface ControllerNodeOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  /** Every quorum member, this one included. */
  readonly quorum: readonly RaftPeerConfig[];
  readonly dataDir: string;
  /** The process's gRPC server; the Raft and controller services are added to it. */
  readonly server: GrpcServer;
  readonly logger: Logger;
  readonly controller?: Omit<QuorumControllerOptions, 'driver' | 'log' | 'clusterId' | 'clock' | 'scheduler' | 'logger'>;
  readonly driver?: RaftMemberOptions['driver'];
}

/**
 * Raft heartbeats of the metadata quorum every 3 ticks (90 ms), well inside the 300–600 ms
 * election timeout. Each Raft message is a gRPC call, and a heartbeat every tick kept an idle
 * controller at 11–18 % of a core; every 3 ticks cuts that traffic to a third.
 */
const CONTROLLER_HEARTBEAT_INTERVAL_TICKS = 3;

/**
 * The controller role of a node: a member of the Raft quorum whose state machine is the
 * metadata log, the active-controller logic, and the ControllerService on the node's gRPC
 * server. Call `start` before the server listens.
 */
export class ControllerNode {
  private constructor(
    readonly member: RaftMember,
    readonly log: MetadataLog,
    readonly controller: QuorumController,
  ) {}

  static async start(options: ControllerNodeOptions): Promise<ControllerNode> {
    const logger = options.logger.child({ role: 'controller' });
    const log = new MetadataLog();
    const member = await RaftMember.start({
      id: options.nodeId as NodeId,
      peers: options.quorum,
      dataDir: options.dataDir,
      logger,
      server: options.server,
      onApply: (entry) => log.apply(entry),
      driver: { heartbeatIntervalTicks: CONTROLLER_HEARTBEAT_INTERVAL_TICKS, ...options.driver, snapshot: log.hooks },
    });
    const controller = new QuorumController({
      ...options.controller,
      driver: member.driver,
      log,
      clusterId: options.clusterId,
      clock: systemClock,
      scheduler: systemScheduler,
      logger,
    });
    options.server.addService(
      controllerApi.ControllerServiceService,
      controllerServiceHandlers({
        controller,
        log,
        driver: member.driver,
        members: options.quorum.map((peer) => ({ id: peer.id, address: `${peer.host}:${peer.port}` })),
      }),
    );
    controller.start();
    return new ControllerNode(member, log, controller);
  }

  async stop(): Promise<void> {
    this.controller.stop();
    await this.member.stop();
  }
}
