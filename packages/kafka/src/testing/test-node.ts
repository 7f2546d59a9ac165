import type { Broker, GroupCoordinatorSettings } from '@rivulet/broker';
import { startTestBroker } from '@rivulet/broker/testing';
import { noopLogger, type Logger } from '@rivulet/common';
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
  groupCoordinator?: GroupCoordinatorSettings;
}

export async function startTestNode(options: TestNodeOptions = {}): Promise<TestNode> {
  const logger = options.logger ?? noopLogger;
  const { broker, stop: stopBroker } = await startTestBroker({
    autoCreateTopics: options.autoCreateTopics ?? false,
    clusterId: 'kafka-test-cluster',
    logger,
    ...(options.groupCoordinator === undefined ? {} : { groupCoordinator: options.groupCoordinator }),
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
  return {
    broker,
    listener,
    port,
    bootstrap: `127.0.0.1:${port}`,
    async stop() {
      await listener.stop();
      await stopBroker();
    },
  };
}
