import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Broker, BrokerLifecycle, DEFAULT_GROUP_CONFIG, MetadataFollower, type ControllerGateway } from '@rivulet/broker';
import { RivuletClient } from '@rivulet/client';
import { RivuletError, missingNodeProcessFlags, systemClock, type Logger, type NodeId } from '@rivulet/common';
import { ControllerNode, parsePeers } from '@rivulet/controller';
import { KafkaListener } from '@rivulet/kafka';
import { clientApi } from '@rivulet/proto';
import { ControllerChannel, GrpcServer, ReplicaChannel, replicaServiceAsLeader } from '@rivulet/transport-grpc';
import { claimDataDir } from './data-dir.js';
import { clientApiHandlers } from './client-api-service.js';
import { defaultConfig, validateConfig, type NodeConfig } from './config.js';
import { coordinatedGroupOffsets, GroupLagCollector } from './group-lag-metrics.js';
import { HttpListener } from './http.js';
import { createRootLogger } from './logging.js';
import { NodeMetrics } from './metrics.js';

export const VERSION = '0.1.0';

/** gRPC messages carry whole record batches; leave room above the largest batch. */
const GRPC_MESSAGE_OVERHEAD_BYTES = 1024 * 1024;
const STOP_GRACE_MS = 2_000;
/** Kafka's socket.request.max.bytes, connections.max.idle.ms and a bound on connections. */
const KAFKA_FRAME_BYTES_MAX = 100 * 1024 * 1024;
const KAFKA_IDLE_CONNECTION_MS = 10 * 60 * 1000;
const KAFKA_CONNECTIONS_MAX = 10_000;
/**
 * The consumer-group lag metric: high watermarks are looked up at most this often, a scrape
 * waits at most this long for them, and at most this many partitions are looked up.
 */
const GROUP_LAG_HIGH_WATERMARK_MAX_AGE_MS = 10_000;
const GROUP_LAG_LOOKUP_TIMEOUT_MS = 3_000;
const GROUP_LAG_PARTITIONS_MAX = 10_000;

export interface RunningNode {
  readonly config: NodeConfig;
  /** host:port of the gRPC listener, as clients should dial it. */
  readonly grpcAddress: string;
  readonly httpAddress: string | null;
  readonly kafkaAddress: string | null;
  /**
   * Resolves when the node serves: a broker once it is registered, unfenced and has applied
   * the metadata of its unfencing; a controller-only node at once.
   */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** A logger to use instead of creating the root pino logger (embedding programs). */
  logger?: Logger;
  /**
   * The node flags of the process this node runs in (`process.execArgv`), checked against
   * NODE_PROCESS_FLAGS; `rivulet start` passes them, embedding programs leave them out.
   */
  execArgv?: readonly string[];
}

/** How long a stopping broker waits for the controller to move its leaderships away. */
const CONTROLLED_SHUTDOWN_TIMEOUT_MS = 5_000;
/** Raft batches between controllers (snapshots included) may be far larger than a produce request. */
const CONTROLLER_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Starts a node with its roles: a controller-quorum member (Raft log and metadata in
 * `<dataDir>/raft-log`), a broker (partition replicas in `<dataDir>/partition-logs` and `<dataDir>/partition-batches`, following
 * the metadata log, registered with the quorum), or both. One gRPC listener carries the client
 * API, the controller service and Raft.
 */
export async function startNode(config: NodeConfig, options: StartOptions = {}): Promise<RunningNode> {
  validateConfig(config);
  const logger = options.logger ?? createRootLogger(config);
  const dataDir = resolve(config.dataDir);
  await claimDataDir(dataDir, config.clusterId, config.nodeId);
  const hasController = config.roles !== 'broker';
  const hasBroker = config.roles !== 'controller';
  const advertisedHost = config.advertisedHost || (config.host === '0.0.0.0' || config.host === '::' ? hostname() : config.host);
  const configuredQuorum = parsePeers(config.controllerQuorum);
  // A combined node without a quorum list is a quorum of itself (the single-node default).
  const quorumOfOne = configuredQuorum.length === 0;
  const quorum = quorumOfOne ? [{ id: config.nodeId as NodeId, host: advertisedHost, port: config.grpcPort }] : configuredQuorum;
  // The quorum as DescribeCluster tells clients; a quorum of itself is filled in once its port is bound.
  let clientControllers = quorum.map((m) => ({ nodeId: m.id as number, address: `${m.host}:${m.port}` }));

  const grpc = new GrpcServer({
    host: config.host,
    port: config.grpcPort,
    logger,
    maxReceiveMessageBytes: Math.max(config.messageMaxBytes + GRPC_MESSAGE_OVERHEAD_BYTES, hasController ? CONTROLLER_MESSAGE_BYTES_MAX : 0),
    maxSendMessageBytes: Math.max(config.fetchMaxBytes + GRPC_MESSAGE_OVERHEAD_BYTES, hasController ? CONTROLLER_MESSAGE_BYTES_MAX : 0),
  });
  let controllerNode: ControllerNode | undefined;
  let broker: Broker | undefined;
  let channel: ControllerChannel | undefined;
  let lifecycle: BrokerLifecycle | undefined;
  let follower: MetadataFollower | undefined;
  let kafka: KafkaListener | undefined;
  let lagClient: RivuletClient | undefined;
  let groupLag: GroupLagCollector | undefined;
  let isReady = false;
  const metrics = new NodeMetrics(
    () => broker?.partitionStats() ?? [],
    () => groupLag?.snapshot() ?? Promise.resolve([]),
  );
  const http = new HttpListener(metrics, () => isReady, logger.child({ component: 'http' }));
  const stopAll = async (): Promise<void> => {
    await kafka?.stop();
    await lifecycle?.stop();
    await follower?.stop();
    channel?.close();
    await lagClient?.close();
    await grpc.stop(STOP_GRACE_MS);
    await http.stop();
    await broker?.stop();
    await controllerNode?.stop();
  };
  try {
    if (hasController) {
      controllerNode = await ControllerNode.start({
        nodeId: config.nodeId,
        clusterId: config.clusterId,
        quorum,
        dataDir,
        server: grpc,
        logger,
        controller: {
          sessionTimeoutMs: config.brokerSessionTimeoutMs,
          autoLeaderRebalance: config.autoLeaderRebalance,
          leaderImbalanceCheckIntervalMs: config.leaderImbalanceCheckIntervalMs,
        },
      });
    }
    let kafkaPort = -1;
    if (hasBroker) {
      const controller: ControllerGateway = {
        createTopics: (request, timeoutMs) => requireChannel(channel).createTopics(request, timeoutMs),
        deleteTopics: (request, timeoutMs) => requireChannel(channel).deleteTopics(request, timeoutMs),
        createPartitions: (request, timeoutMs) => requireChannel(channel).createPartitions(request, timeoutMs),
        alterTopicConfigs: (request, timeoutMs) => requireChannel(channel).alterTopicConfigs(request, timeoutMs),
        allocateProducerIds: (request, timeoutMs) => requireChannel(channel).allocateProducerIds(request, timeoutMs),
        alterPartitionReassignments: (request, timeoutMs) => requireChannel(channel).alterPartitionReassignments(request, timeoutMs),
        listPartitionReassignments: (request, timeoutMs) => requireChannel(channel).listPartitionReassignments(request, timeoutMs),
        drainBroker: (request, timeoutMs) => requireChannel(channel).drainBroker(request, timeoutMs),
        alterPartition: (request, timeoutMs) => requireChannel(channel).alterPartition(request, timeoutMs),
      };
      broker = await Broker.start({
        nodeId: config.nodeId,
        clusterId: config.clusterId,
        dataDir,
        flushPolicy: config.flushPolicy,
        logTailCacheBytes: config.logTailCacheBytes,
        autoCreateTopics: config.autoCreateTopics,
        defaultPartitions: config.defaultPartitions,
        defaultReplicationFactor: config.defaultReplicationFactor,
        topicDefaults: { retentionMs: config.retentionMs, retentionBytes: config.retentionBytes, messageMaxBytes: config.messageMaxBytes },
        retentionCheckIntervalMs: config.retentionCheckIntervalMs,
        logCleanerBackoffMs: config.logCleanerBackoffMs,
        producerIdExpirationMs: config.producerIdExpirationMs,
        groupCoordinator: {
          offsetsTopicPartitions: config.offsetsTopicPartitions,
          offsetsTopicReplicationFactor: config.offsetsTopicReplicationFactor,
          offsetsCommitTimeoutMs: config.offsetsCommitTimeoutMs,
          groupConfig: {
            ...DEFAULT_GROUP_CONFIG,
            minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
            maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
            initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
            maxGroupSize: config.groupMaxSize,
            offsetMetadataMaxBytes: config.offsetMetadataMaxBytes,
            offsetsRetentionMs: config.offsetsRetentionMs,
            offsetsRetentionCheckIntervalMs: config.offsetsRetentionCheckIntervalMs,
          },
        },
        fetchMaxBytes: config.fetchMaxBytes,
        version: VERSION,
        roles: config.roles,
        controller,
        leaseValid: () => lifecycle?.leaseValid() ?? false,
        brokerEpoch: () => lifecycle?.epoch ?? -1,
        replicaTransportFactory: (_leaderId, address) => new ReplicaChannel(address),
        replicaLagTimeMaxMs: config.replicaLagTimeMaxMs,
        reassignmentThrottleBytesPerSec: config.reassignmentThrottleBytesPerSec,
        clock: systemClock,
        logger,
      });
      const replicaBroker = broker;
      grpc.addService(clientApi.ClientApiService, clientApiHandlers(broker, metrics, logger, () => clientControllers));
      grpc.addService(replicaServiceAsLeader, {
        replicaFetch: async (requests, write, signal) => {
          for await (const request of requests) await write(await replicaBroker.replicaFetch(request, signal));
        },
        offsetForLeaderEpoch: (request) => Promise.resolve(replicaBroker.offsetForLeaderEpochAsLeader(request)),
      });
      if (config.kafkaPort !== -1) {
        kafka = new KafkaListener({
          broker,
          logger,
          nodeId: config.nodeId,
          clusterId: config.clusterId,
          advertisedHost,
          advertisedPort: () => config.advertisedKafkaPort || kafkaPort,
          frameBytesMax: KAFKA_FRAME_BYTES_MAX,
          idleConnectionMs: KAFKA_IDLE_CONNECTION_MS,
          connectionsMax: KAFKA_CONNECTIONS_MAX,
        });
      }
    }
    const grpcPort = await grpc.listen();
    const httpPort = config.httpPort === -1 ? -1 : await http.listen(config.host, config.httpPort);
    if (kafka) kafkaPort = await kafka.listen(config.host, config.kafkaPort);
    const advertisedGrpcPort = config.advertisedGrpcPort || grpcPort;
    const advertisedKafkaPort = kafka ? config.advertisedKafkaPort || kafkaPort : -1;
    if (quorumOfOne) clientControllers = [{ nodeId: config.nodeId, address: `${advertisedHost}:${advertisedGrpcPort}` }];
    let ready: Promise<void> = Promise.resolve();
    if (broker) {
      const b = broker;
      // A quorum of itself is reached over loopback on the port just bound.
      const controllers = quorumOfOne
        ? [{ id: config.nodeId, address: `${loopbackHost(config.host)}:${grpcPort}` }]
        : quorum.map((m) => ({ id: m.id as number, address: `${m.host}:${m.port}` }));
      channel = new ControllerChannel({ controllers, logger });
      // The coordinator knows its groups' committed offsets; the high watermarks of their
      // partitions are asked of the partitions' leaders, through this node's own listener.
      const client = new RivuletClient({
        bootstrap: `${loopbackHost(config.host)}:${grpcPort}`,
        clientId: `rivulet-node-${config.nodeId}-group-lag`,
        requestTimeoutMs: GROUP_LAG_LOOKUP_TIMEOUT_MS,
        allowAutoTopicCreation: false,
        logger,
      });
      lagClient = client;
      groupLag = new GroupLagCollector({
        committedOffsets: () => coordinatedGroupOffsets(b.groups),
        lookUpHighWatermarks: (partitions) => client.admin().listOffsetsSettled(partitions.map((tp) => ({ ...tp, spec: 'latest' }))),
        highWatermarkMaxAgeMs: GROUP_LAG_HIGH_WATERMARK_MAX_AGE_MS,
        lookupTimeoutMs: GROUP_LAG_LOOKUP_TIMEOUT_MS,
        maxPartitions: GROUP_LAG_PARTITIONS_MAX,
        clock: systemClock,
        logger: logger.child({ component: 'group-lag' }),
      });
      const endpoints = [{ name: 'grpc', host: advertisedHost, port: advertisedGrpcPort }];
      if (kafka) endpoints.push({ name: 'kafka', host: advertisedHost, port: advertisedKafkaPort });
      const lc = new BrokerLifecycle({
        channel,
        nodeId: config.nodeId,
        clusterId: config.clusterId,
        incarnationId: randomUUID(),
        endpoints,
        rack: config.rack,
        metadataOffset: () => b.metadataOffset,
        onActiveMetadataOffset: (offset) => follower?.noteActiveOffset(offset),
        clock: systemClock,
        logger,
        heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
        sessionTimeoutMs: config.brokerSessionTimeoutMs,
      });
      lifecycle = lc;
      follower = new MetadataFollower({
        source: channel,
        logger,
        onImage: async (image) => {
          await b.applyMetadata(image);
          lc.metadataApplied();
        },
      });
      follower.start();
      lc.start();
      ready = lc.ready;
    }
    const node: RunningNode = {
      config: { ...config, grpcPort, httpPort, kafkaPort },
      grpcAddress: `${advertisedHost}:${advertisedGrpcPort}`,
      httpAddress: httpPort === -1 ? null : `${advertisedHost}:${httpPort}`,
      kafkaAddress: kafka ? `${advertisedHost}:${advertisedKafkaPort}` : null,
      ready,
      stop: async () => {
        isReady = false;
        // Controlled shutdown: leaderships move to other in-sync replicas before this broker goes.
        if (lifecycle?.leaseValid()) await lifecycle.shutDown(CONTROLLED_SHUTDOWN_TIMEOUT_MS);
        await stopAll();
        logger.info({}, 'node stopped');
      },
    };
    const addresses = { grpc: node.grpcAddress, kafka: node.kafkaAddress, http: node.httpAddress, roles: config.roles, nodeId: config.nodeId };
    logger.info({ ...addresses, dataDir, version: VERSION }, 'node started');
    const missingFlags = options.execArgv === undefined ? [] : missingNodeProcessFlags(options.execArgv);
    if (missingFlags.length > 0) {
      logger.warn({ missingFlags }, 'node runs without its V8 flags: expect a full garbage collection every few hundred ms under load (README, Configuration)');
    }
    ready.then(
      () => {
        isReady = true;
        logger.info(addresses, 'node ready');
      },
      () => undefined,
    );
    return node;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function requireChannel(channel: ControllerChannel | undefined): ControllerChannel {
  if (channel === undefined) throw new RivuletError('BROKER_NOT_AVAILABLE', 'the broker is still starting');
  return channel;
}

/** An address this host can dial to reach a listener bound to `host`. */
function loopbackHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * Starts a node for tests and embedding programs: a fresh temporary data directory, free
 * ports on 127.0.0.1, no HTTP listener and silent logs unless overridden. `stop()` also
 * removes the data directory.
 */
export async function startEmbeddedNode(overrides: Partial<NodeConfig> = {}, options: StartOptions = {}): Promise<RunningNode> {
  const dataDir = overrides.dataDir ?? (await mkdtemp(join(tmpdir(), 'rivulet-')));
  const isTemporary = overrides.dataDir === undefined;
  const node = await startNode(
    { ...defaultConfig, host: '127.0.0.1', grpcPort: 0, kafkaPort: -1, httpPort: -1, logLevel: 'silent', ...overrides, dataDir },
    options,
  );
  await node.ready;
  return {
    ...node,
    stop: async () => {
      await node.stop();
      if (isTemporary) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
