import { noopLogger, type Logger } from '@rivulet/common';
import { Admin } from './admin.js';
import { Cluster, parseBootstrap } from './cluster.js';
import { Consumer, type ConsumerOptions } from './consumer.js';
import { Producer, type ProducerOptions } from './producer.js';
import { grpcTransportFactory, type TransportFactory } from './transport.js';

export interface RivuletClientOptions {
  /** host:port of one or more gRPC listeners, as an array or comma-separated. */
  readonly bootstrap: string | readonly string[];
  readonly clientId?: string;
  /** Deadline of every request (long polls add their wait). Default 30000. */
  readonly requestTimeoutMs?: number;
  /** First retry backoff of metadata lookups; doubles per attempt up to retryBackoffMaxMs. Default 100. */
  readonly retryBackoffMs?: number;
  readonly retryBackoffMaxMs?: number;
  /** Metadata older than this is refreshed on next use. Default 300000. */
  readonly metadataMaxAgeMs?: number;
  /** Whether metadata lookups of producers and consumers may create topics (the broker decides too). Default true. */
  readonly allowAutoTopicCreation?: boolean;
  readonly logger?: Logger;
  /** For tests: how to reach a broker. Default: gRPC. */
  readonly transportFactory?: TransportFactory;
}

/**
 * The entry point: one client holds the cluster metadata and one gRPC channel per broker, and
 * hands out producers, consumers and an admin that share them.
 */
export class RivuletClient {
  private readonly cluster: Cluster;
  private readonly clientId: string;
  private readonly requestTimeoutMs: number;
  private readonly metadataMaxAgeMs: number;
  private readonly logger: Logger;
  private readonly closeables = new Set<{ close(): Promise<void> }>();
  private adminInstance: Admin | undefined;

  constructor(options: RivuletClientOptions) {
    const clientId = options.clientId ?? 'rivulet';
    this.clientId = clientId;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.metadataMaxAgeMs = options.metadataMaxAgeMs ?? 300_000;
    this.logger = (options.logger ?? noopLogger).child({ clientId });
    this.cluster = new Cluster({
      bootstrap: parseBootstrap(options.bootstrap),
      transportFactory: options.transportFactory ?? grpcTransportFactory(clientId),
      requestTimeoutMs: this.requestTimeoutMs,
      retryBackoff: { initialMs: options.retryBackoffMs ?? 100, maxMs: options.retryBackoffMaxMs ?? 1000 },
      metadataMaxAgeMs: this.metadataMaxAgeMs,
      unknownTopicAttempts: 3,
      allowAutoTopicCreation: options.allowAutoTopicCreation ?? true,
      logger: this.logger,
    });
  }

  producer(options: ProducerOptions = {}): Producer {
    const producer: Producer = new Producer(this.cluster, options, this.requestTimeoutMs, this.logger.child({ component: 'producer' }), () =>
      this.closeables.delete(producer),
    );
    this.closeables.add(producer);
    return producer;
  }

  consumer(options: ConsumerOptions = {}): Consumer {
    const context = { clientId: this.clientId, requestTimeoutMs: this.requestTimeoutMs, metadataMaxAgeMs: this.metadataMaxAgeMs };
    const consumer: Consumer = new Consumer(this.cluster, options, context, this.logger.child({ component: 'consumer' }), () => this.closeables.delete(consumer));
    this.closeables.add(consumer);
    return consumer;
  }

  admin(): Admin {
    this.adminInstance ??= new Admin(this.cluster, this.requestTimeoutMs);
    return this.adminInstance;
  }

  /** Closes every producer (flushing it) and consumer made by this client, then the channels. */
  async close(): Promise<void> {
    const results = await Promise.allSettled([...this.closeables].map((c) => c.close()));
    this.cluster.close();
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  }
}
