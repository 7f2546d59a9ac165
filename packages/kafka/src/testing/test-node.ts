import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '@rivulet/broker';
import { noopLogger, systemClock, type Logger } from '@rivulet/common';
import { KafkaListener } from '../kafka-listener.js';

/** A broker plus a KafkaListener on 127.0.0.1 port 0, on a fresh data directory, for tests. */
export interface TestNode {
  readonly broker: Broker;
  readonly listener: KafkaListener;
  readonly port: number;
  readonly bootstrap: string;
  stop(): Promise<void>;
}

export interface TestNodeOptions {
  autoCreateTopics?: boolean;
  logger?: Logger;
  frameBytesMax?: number;
  idleConnectionMs?: number;
  inflightRequestsMax?: number;
}

export async function startTestNode(options: TestNodeOptions = {}): Promise<TestNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'rivulet-kafka-'));
  const logger = options.logger ?? noopLogger;
  const broker = await Broker.start({
    nodeId: 1,
    clusterId: 'kafka-test-cluster',
    dataDir,
    flushPolicy: 'os',
    autoCreateTopics: options.autoCreateTopics ?? false,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    topicDefaults: { retentionMs: -1, retentionBytes: -1, messageMaxBytes: 1_048_588 },
    retentionCheckIntervalMs: 60_000,
    fetchMaxBytes: 52_428_800,
    version: 'test',
    clock: systemClock,
    logger,
  });
  const listener = new KafkaListener({
    broker,
    logger,
    nodeId: 1,
    clusterId: 'kafka-test-cluster',
    advertisedHost: '127.0.0.1',
    advertisedPort: 0,
    frameBytesMax: options.frameBytesMax ?? 100 * 1024 * 1024,
    idleConnectionMs: options.idleConnectionMs ?? 60_000,
    connectionsMax: 100,
    ...(options.inflightRequestsMax === undefined ? {} : { inflightRequestsMax: options.inflightRequestsMax }),
  });
  const port = await listener.listen('127.0.0.1', 0);
  broker.setEndpoint({ host: '127.0.0.1', grpcPort: 0, kafkaPort: port, rack: '' });
  return {
    broker,
    listener,
    port,
    bootstrap: `127.0.0.1:${port}`,
    async stop() {
      await listener.stop();
      await broker.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
