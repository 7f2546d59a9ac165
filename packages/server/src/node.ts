import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Broker } from '@rivulet/broker';
import { systemClock, type Logger } from '@rivulet/common';
import { KafkaListener } from '@rivulet/kafka';
import { clientApi } from '@rivulet/proto';
import { GrpcServer } from '@rivulet/transport-grpc';
import { clientApiHandlers } from './client-api-service.js';
import { defaultConfig, validateConfig, type NodeConfig } from './config.js';
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

export interface RunningNode {
  readonly config: NodeConfig;
  /** host:port of the gRPC listener, as clients should dial it. */
  readonly grpcAddress: string;
  readonly httpAddress: string | null;
  readonly kafkaAddress: string | null;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** A logger to use instead of creating the root pino logger (embedding programs). */
  logger?: Logger;
}

/** Starts a combined node: the broker core on its LevelDB data directory, and its listeners. */
export async function startNode(config: NodeConfig, options: StartOptions = {}): Promise<RunningNode> {
  validateConfig(config);
  const logger = options.logger ?? createRootLogger(config);
  const dataDir = resolve(config.dataDir);
  const broker = await Broker.start({
    nodeId: config.nodeId,
    clusterId: config.clusterId,
    dataDir,
    flushPolicy: config.flushPolicy,
    autoCreateTopics: config.autoCreateTopics,
    defaultPartitions: config.defaultPartitions,
    defaultReplicationFactor: config.defaultReplicationFactor,
    topicDefaults: { retentionMs: config.retentionMs, retentionBytes: config.retentionBytes, messageMaxBytes: config.messageMaxBytes },
    retentionCheckIntervalMs: config.retentionCheckIntervalMs,
    fetchMaxBytes: config.fetchMaxBytes,
    version: VERSION,
    clock: systemClock,
    logger,
  });
  let isReady = false;
  const metrics = new NodeMetrics(() => broker.partitionStats());
  const grpc = new GrpcServer({
    host: config.host,
    port: config.grpcPort,
    logger,
    maxReceiveMessageBytes: config.messageMaxBytes + GRPC_MESSAGE_OVERHEAD_BYTES,
    maxSendMessageBytes: config.fetchMaxBytes + GRPC_MESSAGE_OVERHEAD_BYTES,
  });
  const http = new HttpListener(metrics, () => isReady, logger.child({ component: 'http' }));
  const advertisedHost = config.advertisedHost || (config.host === '0.0.0.0' || config.host === '::' ? hostname() : config.host);
  let kafkaPort = -1;
  const kafka =
    config.kafkaPort === -1
      ? undefined
      : new KafkaListener({
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
  try {
    grpc.addService(clientApi.ClientApiService, clientApiHandlers(broker, metrics));
    const grpcPort = await grpc.listen();
    const httpPort = config.httpPort === -1 ? -1 : await http.listen(config.host, config.httpPort);
    if (kafka) kafkaPort = await kafka.listen(config.host, config.kafkaPort);
    const advertisedGrpcPort = config.advertisedGrpcPort || grpcPort;
    const advertisedKafkaPort = kafka ? config.advertisedKafkaPort || kafkaPort : -1;
    broker.setEndpoint({ host: advertisedHost, grpcPort: advertisedGrpcPort, kafkaPort: advertisedKafkaPort, rack: '' });
    isReady = true;
    const node: RunningNode = {
      config: { ...config, grpcPort, httpPort, kafkaPort },
      grpcAddress: `${advertisedHost}:${advertisedGrpcPort}`,
      httpAddress: httpPort === -1 ? null : `${advertisedHost}:${httpPort}`,
      kafkaAddress: kafka ? `${advertisedHost}:${advertisedKafkaPort}` : null,
      stop: async () => {
        isReady = false;
        await kafka?.stop();
        await grpc.stop(STOP_GRACE_MS);
        await http.stop();
        await broker.stop();
        logger.info({}, 'node stopped');
      },
    };
    logger.info({ grpc: node.grpcAddress, kafka: node.kafkaAddress, http: node.httpAddress, dataDir, version: VERSION }, 'node started');
    return node;
  } catch (err) {
    await kafka?.stop();
    await grpc.stop(0);
    await http.stop();
    await broker.stop();
    throw err;
  }
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
  return {
    ...node,
    stop: async () => {
      await node.stop();
      if (isTemporary) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
