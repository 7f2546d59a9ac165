import { createServer, type Server, type Socket } from 'node:net';
import { assert, type Logger } from '@rivulet/common';
import type { Broker } from '@rivulet/broker';
import { KafkaConnection } from './kafka-connection.js';

export interface KafkaListenerOptions {
  readonly broker: Broker;
  readonly logger: Logger;
  readonly nodeId: number;
  readonly clusterId: string;
  /** Host clients should connect to, as Metadata and DescribeCluster report it. */
  readonly advertisedHost: string;
  /** Port clients should connect to; 0 (or a getter returning 0) means the bound port. */
  readonly advertisedPort: number | (() => number);
  /** Largest request frame accepted; Kafka's socket.request.max.bytes (default 100 MiB). */
  readonly frameBytesMax: number;
  /** Connections idle this long are closed; Kafka's connections.max.idle.ms (default 10 min). */
  readonly idleConnectionMs: number;
  /** Connections past this count are refused at accept. */
  readonly connectionsMax: number;
  /** Requests under way per connection before reading pauses. */
  readonly inflightRequestsMax?: number;
}

/** Kafka clients keep at most 5 (librdkafka) to a few dozen requests in flight. */
export const DEFAULT_INFLIGHT_REQUESTS_MAX = 32;

/**
 * The Kafka wire-protocol TCP server of one node. Each accepted socket becomes a
 * KafkaConnection; a connection that sends garbage is closed on its own, never the server.
 */
export class KafkaListener {
  private readonly server: Server;
  private readonly connections = new Set<KafkaConnection>();
  private readonly logger: Logger;
  private boundPort = 0;

  constructor(private readonly options: KafkaListenerOptions) {
    assert(options.frameBytesMax >= 1024, 'frameBytesMax must allow at least a small request');
    assert(options.connectionsMax >= 1 && options.idleConnectionMs > 0, 'connection limits must be positive');
    this.logger = options.logger.child({ component: 'kafka' });
    this.server = createServer((socket) => this.accept(socket));
    this.server.maxConnections = options.connectionsMax;
    this.server.on('drop', (data) => this.logger.warn({ remoteAddress: data?.remoteAddress, connectionsMax: options.connectionsMax }, 'refused kafka connection: too many connections'));
  }

  /** Binds and starts accepting; resolves with the bound port (useful when `port` is 0). */
  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    assert(address !== null && typeof address === 'object', 'a TCP server has an address');
    this.boundPort = address.port;
    this.server.on('error', (err) => this.logger.error({ err }, 'kafka listener error'));
    this.logger.info({ host, port: this.boundPort }, 'kafka listener started');
    return this.boundPort;
  }

  /** Stops accepting, closes every connection (aborting parked fetches) and waits for the server. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of [...this.connections]) connection.close();
    await closed;
    this.logger.info({}, 'kafka listener stopped');
  }

  private advertisedEndpoint(): { host: string; port: number } {
    const configured = typeof this.options.advertisedPort === 'function' ? this.options.advertisedPort() : this.options.advertisedPort;
    return { host: this.options.advertisedHost, port: configured === 0 ? this.boundPort : configured };
  }

  private accept(socket: Socket): void {
    const connection = new KafkaConnection(
      socket,
      { broker: this.options.broker, nodeId: this.options.nodeId, clusterId: this.options.clusterId, advertisedEndpoint: () => this.advertisedEndpoint() },
      {
        frameBytesMax: this.options.frameBytesMax,
        idleConnectionMs: this.options.idleConnectionMs,
        inflightRequestsMax: this.options.inflightRequestsMax ?? DEFAULT_INFLIGHT_REQUESTS_MAX,
      },
      this.logger.child({ peer: `${socket.remoteAddress}:${socket.remotePort}` }),
      (closed) => this.connections.delete(closed),
    );
    this.connections.add(connection);
  }
}
