import { AssertionError, RivuletError, assert, topicPartitionKey, type Clock, type Logger } from '@rivulet/common';
import { LogStore, type FlushPolicy } from '@rivulet/storage';
import { FetchWaiters } from './fetch-waiters.js';
import { Partition } from './partition.js';
import { describeTopicConfig, resolveTopicConfig, validateTopicConfigs, validateTopicName, type TopicConfigDefaults } from './topic-config.js';
import { FileTopicRegistry, type TopicRecord, type TopicRegistry } from './topic-registry.js';
import {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  type BrokerEndpoint,
  type DeleteRecordsRequest,
  type DeleteRecordsResponse,
  type DescribeClusterResponse,
  type FetchPartitionResponse,
  type FetchRequest,
  type FetchResponse,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
  type MetadataRequest,
  type MetadataResponse,
  type PartitionStats,
  type ProduceRequest,
  type ProduceResponse,
  type TopicDescription,
  type TopicMetadata,
  type TopicResult,
  type TopicSpec,
} from './types.js';

export interface BrokerOptions {
  nodeId: number;
  clusterId: string;
  dataDir: string;
  flushPolicy: FlushPolicy;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  defaultReplicationFactor: number;
  topicDefaults: TopicConfigDefaults;
  retentionCheckIntervalMs: number;
  fetchMaxBytes: number;
  version: string;
  clock: Clock;
  logger: Logger;
}

/** Bounds that keep one request from holding the broker hostage. */
const FETCH_WAIT_MS_MAX = 30_000;
const PARKED_FETCHES_MAX = 10_000;
const PARTITIONS_PER_TOPIC_MAX = 10_000;
const STREAM_POLL_WAIT_MS = 500;
/** Partition reads of one fetch in flight at once (LevelDB iterators on the thread pool). */
const CONCURRENT_PARTITION_READS_MAX = 16;

function errorFields(err: unknown): { errorCode: number; errorMessage: string } {
  if (err instanceof AssertionError) throw err;
  if (err instanceof RivuletError) return { errorCode: err.code, errorMessage: err.message };
  throw err;
}

/**
 * Runs `handle` for every requested partition concurrently and shapes the per-topic answer;
 * a partition whose handler throws a RivuletError is answered with its code, message and
 * the `failed` placeholder fields, as Kafka answers per partition.
 */
async function forEachPartition<P extends { partition: number }, R extends { partition: number; errorCode: number; errorMessage: string }>(
  topics: { name: string; partitions: P[] }[],
  handle: (topic: string, partition: P) => Promise<R>,
  failed: Omit<R, 'partition' | 'errorCode' | 'errorMessage'>,
): Promise<{ name: string; partitions: R[] }[]> {
  return Promise.all(
    topics.map(async (topic) => ({
      name: topic.name,
      partitions: await Promise.all(
        topic.partitions.map((p) => handle(topic.name, p).catch((err: unknown) => ({ partition: p.partition, ...errorFields(err), ...failed }) as R)),
      ),
    })),
  );
}

/**
 * The protocol-free broker core: topics, partition replicas on the LevelDB log store, and
 * produce / fetch / list-offsets / delete-records. Both front-ends (gRPC client API, Kafka
 * wire protocol) call these methods; neither holds a second copy of the logic.
 */
export class Broker {
  private readonly partitions = new Map<string, Partition>();
  private readonly waiters = new FetchWaiters(PARKED_FETCHES_MAX);
  private readonly pendingCreates = new Map<string, Promise<void>>();
  private readonly logger: Logger;
  private readonly startedAtMs: number;
  private retentionTimer: NodeJS.Timeout | undefined;
  private retentionRun: Promise<void> = Promise.resolve();
  private endpoint: BrokerEndpoint;
  private isStopped = false;

  private constructor(
    private readonly options: BrokerOptions,
    private readonly store: LogStore,
    private readonly registry: TopicRegistry,
  ) {
    this.logger = options.logger.child({ component: 'broker' });
    this.startedAtMs = options.clock.nowMs();
    this.endpoint = { nodeId: options.nodeId, host: '127.0.0.1', grpcPort: 0, kafkaPort: 0, rack: '' };
  }

  static async start(options: BrokerOptions): Promise<Broker> {
    const registry = await FileTopicRegistry.open(options.dataDir, options.clusterId, options.nodeId);
    const store = await LogStore.open({ dataDir: options.dataDir, flushPolicy: options.flushPolicy, logger: options.logger, clock: options.clock });
    const broker = new Broker(options, store, registry);
    await broker.openReplicas();
    broker.scheduleRetention();
    return broker;
  }

  /** Opens every partition the registry knows and removes replicas of topics that no longer exist. */
  private async openReplicas(): Promise<void> {
    const known = new Set<string>();
    for (const topic of this.registry.list()) {
      for (let partition = 0; partition < topic.partitionCount; partition++) {
        known.add(topicPartitionKey({ topic: topic.name, partition }));
        await this.openPartition(topic, partition);
      }
    }
    for (const tp of this.store.listPartitions()) {
      if (known.has(topicPartitionKey(tp))) continue;
      this.logger.warn({ topic: tp.topic, partition: tp.partition }, 'deleting replica of a topic that no longer exists');
      await this.store.deletePartition(tp);
    }
    this.logger.info({ partitions: this.partitions.size, topics: this.registry.list().length }, 'replicas opened');
  }

  private async openPartition(topic: TopicRecord, partition: number): Promise<Partition> {
    const config = resolveTopicConfig(topic.configs, this.options.topicDefaults);
    const tp = { topic: topic.name, partition };
    const key = topicPartitionKey(tp);
    const log = await this.store.openPartition(tp, { retentionMs: config.retentionMs, retentionBytes: config.retentionBytes });
    const replica = new Partition(topic.name, partition, log, config, () => this.waiters.wake(key), this.logger.child({ topic: topic.name, partition }));
    this.partitions.set(key, replica);
    return replica;
  }

  /** Called once the listeners are bound, so metadata advertises the real ports. */
  setEndpoint(endpoint: Omit<BrokerEndpoint, 'nodeId'>): void {
    this.endpoint = { ...endpoint, nodeId: this.options.nodeId };
  }

  async stop(): Promise<void> {
    if (this.isStopped) return;
    this.isStopped = true;
    clearTimeout(this.retentionTimer);
    await this.retentionRun;
    await this.store.close();
    this.logger.info({}, 'broker stopped');
  }

  // ---- topics ---------------------------------------------------------------------------

  async createTopics(specs: TopicSpec[], validateOnly: boolean): Promise<TopicResult[]> {
    const results: TopicResult[] = [];
    for (const spec of specs) {
      try {
        await this.createTopic(spec, validateOnly);
        results.push({ name: spec.name, errorCode: 0, errorMessage: '' });
      } catch (err) {
        results.push({ name: spec.name, ...errorFields(err) });
      }
    }
    return results;
  }

  private async createTopic(spec: TopicSpec, validateOnly: boolean): Promise<void> {
    validateTopicName(spec.name);
    const partitionCount = spec.partitions === -1 ? this.options.defaultPartitions : spec.partitions;
    if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > PARTITIONS_PER_TOPIC_MAX) {
      throw new RivuletError('INVALID_PARTITIONS', `partition count must be between 1 and ${PARTITIONS_PER_TOPIC_MAX}, got ${spec.partitions}`, { topic: spec.name });
    }
    const replicationFactor = spec.replicationFactor === -1 ? this.options.defaultReplicationFactor : spec.replicationFactor;
    const brokerCount = 1;
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > brokerCount) {
      throw new RivuletError(
        'INVALID_REPLICATION_FACTOR',
        `replication factor ${replicationFactor} is impossible with ${brokerCount} available broker(s)`,
        { topic: spec.name },
      );
    }
    validateTopicConfigs(spec.configs);
    if (this.registry.get(spec.name) || this.pendingCreates.has(spec.name)) {
      throw new RivuletError('TOPIC_ALREADY_EXISTS', `topic ${spec.name} already exists`, { topic: spec.name });
    }
    if (validateOnly) return;
    const creation = this.registry
      .create({ name: spec.name, partitionCount, replicationFactor, configs: spec.configs }, this.options.clock.wallClockMs())
      .then(async (record) => {
        for (let partition = 0; partition < record.partitionCount; partition++) await this.openPartition(record, partition);
        this.logger.info({ topic: record.name, partitions: partitionCount, topicId: record.topicId }, 'topic created');
      });
    this.pendingCreates.set(spec.name, creation);
    try {
      await creation;
    } finally {
      this.pendingCreates.delete(spec.name);
    }
  }

  /** Creates an unknown topic with defaults, or waits for a creation already under way. */
  private async autoCreate(name: string): Promise<void> {
    const pending = this.pendingCreates.get(name);
    if (pending) return pending;
    if (this.registry.get(name)) return;
    await this.createTopic({ name, partitions: -1, replicationFactor: -1, configs: {} }, false);
  }

  async deleteTopics(names: string[]): Promise<TopicResult[]> {
    const results: TopicResult[] = [];
    for (const name of names) {
      try {
        const record = await this.registry.delete(name);
        for (let partition = 0; partition < record.partitionCount; partition++) {
          const tp = { topic: name, partition };
          const key = topicPartitionKey(tp);
          this.partitions.delete(key);
          this.waiters.wake(key);
          await this.store.deletePartition(tp);
        }
        this.logger.info({ topic: name }, 'topic deleted');
        results.push({ name, errorCode: 0, errorMessage: '' });
      } catch (err) {
        results.push({ name, ...errorFields(err) });
      }
    }
    return results;
  }

  async metadata(request: MetadataRequest): Promise<MetadataResponse> {
    const topics: TopicMetadata[] = [];
    const names = request.topics.length === 0 ? this.registry.list().map((t) => t.name) : request.topics;
    for (const name of names) {
      try {
        validateTopicName(name);
        if (!this.registry.get(name) && request.allowAutoTopicCreation && this.options.autoCreateTopics) await this.autoCreate(name);
        topics.push(this.topicMetadata(name));
      } catch (err) {
        topics.push({ name, isInternal: false, partitions: [], ...errorFields(err) });
      }
    }
    return { clusterId: this.options.clusterId, controllerId: this.options.nodeId, brokers: [this.endpoint], topics };
  }

  private topicRecordOrThrow(name: string): TopicRecord {
    const record = this.registry.get(name);
    if (!record) throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`, { topic: name });
    return record;
  }

  private topicMetadata(name: string): TopicMetadata {
    const record = this.topicRecordOrThrow(name);
    const nodeId = this.options.nodeId;
    const partitions = Array.from({ length: record.partitionCount }, (_, partition) => ({
      partition,
      errorCode: 0,
      leaderId: nodeId,
      leaderEpoch: this.partitions.get(topicPartitionKey({ topic: name, partition }))?.leaderEpoch ?? 0,
      replicas: [nodeId],
      isr: [nodeId],
    }));
    return { name, errorCode: 0, errorMessage: '', isInternal: false, partitions };
  }

  describeTopics(names: string[]): TopicDescription[] {
    const wanted = names.length === 0 ? this.registry.list().map((t) => t.name) : names;
    return wanted.map((name) => {
      try {
        const metadata = this.topicMetadata(name);
        const record = this.topicRecordOrThrow(name);
        const partitions = metadata.partitions.map((p) => {
          const replica = this.partitions.get(topicPartitionKey({ topic: name, partition: p.partition }));
          assert(replica, `replica ${name}-${p.partition} is open`);
          return {
            partition: p.partition,
            leaderId: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicas,
            isr: p.isr,
            logStartOffset: replica.log.logStartOffset(),
            highWatermark: replica.highWatermark,
            logEndOffset: replica.log.logEndOffset(),
            sizeBytes: replica.log.sizeBytes(),
          };
        });
        const configs = describeTopicConfig(resolveTopicConfig(record.configs, this.options.topicDefaults));
        return { name, errorCode: 0, errorMessage: '', isInternal: false, configs, partitions };
      } catch (err) {
        return { name, isInternal: false, configs: {}, partitions: [], ...errorFields(err) };
      }
    });
  }

  // ---- records --------------------------------------------------------------------------

  private partitionOrThrow(topic: string, partition: number): Partition {
    const replica = this.partitions.get(topicPartitionKey({ topic, partition }));
    if (!replica) {
      throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `this broker does not host ${topic}-${partition}`, { topic, partition });
    }
    return replica;
  }

  async produce(request: ProduceRequest): Promise<ProduceResponse> {
    if (request.acks !== 0 && request.acks !== 1 && request.acks !== -1) {
      throw new RivuletError('INVALID_REQUIRED_ACKS', `acks must be 0, 1 or -1 (all), got ${request.acks}`);
    }
    const topics = await Promise.all(
      request.topics.map(async (topic) => {
        try {
          validateTopicName(topic.name);
          if (!this.registry.get(topic.name) && this.options.autoCreateTopics) await this.autoCreate(topic.name);
        } catch (err) {
          const fields = errorFields(err);
          return { name: topic.name, partitions: topic.partitions.map((p) => this.produceFailure(p.partition, fields)) };
        }
        const partitions = await Promise.all(topic.partitions.map((p) => this.producePartition(topic.name, p.partition, p.records)));
        return { name: topic.name, partitions };
      }),
    );
    return { topics };
  }

  private produceFailure(partition: number, fields: { errorCode: number; errorMessage: string }) {
    return { partition, ...fields, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, leaderId: -1 };
  }

  private async producePartition(topic: string, partition: number, records: Buffer) {
    try {
      const replica = this.partitionOrThrow(topic, partition);
      const outcome = await replica.appendRecordsAsLeader(records);
      return {
        partition,
        errorCode: 0,
        errorMessage: '',
        baseOffset: outcome.baseOffset,
        logAppendTimeMs: -1,
        logStartOffset: replica.log.logStartOffset(),
        leaderId: this.options.nodeId,
      };
    } catch (err) {
      return this.produceFailure(partition, errorFields(err));
    }
  }

  /** Long poll: answers once minBytes are readable, maxWaitMs passed, or an error shows up. */
  async fetch(request: FetchRequest, signal?: AbortSignal): Promise<FetchResponse> {
    this.validateFetch(request);
    const deadlineMs = this.options.clock.nowMs() + Math.min(request.maxWaitMs, FETCH_WAIT_MS_MAX);
    const keys = request.topics.flatMap((t) => t.partitions.map((p) => topicPartitionKey({ topic: t.name, partition: p.partition })));
    for (;;) {
      const { response, totalBytes, hasError } = await this.readOnce(request);
      const remainingMs = deadlineMs - this.options.clock.nowMs();
      if (totalBytes >= Math.max(request.minBytes, 1) || hasError || remainingMs <= 0 || signal?.aborted || this.isStopped) return response;
      const woken = await this.waiters.wait(keys, remainingMs, signal);
      if (!woken) return (await this.readOnce(request)).response;
    }
  }

  /**
   * Streams fetch responses: each carries what became readable since the previous one, and
   * the next read continues from each partition's next offset. `write` waits while the
   * client is slow, so at most one response per stream is buffered.
   */
  async fetchStream(request: FetchRequest, write: (response: FetchResponse) => Promise<void>, signal: AbortSignal): Promise<void> {
    this.validateFetch(request);
    const cursor: FetchRequest = { ...request, maxWaitMs: STREAM_POLL_WAIT_MS, topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ ...p })) })) };
    while (!signal.aborted && !this.isStopped) {
      const response = await this.fetch(cursor, signal);
      let hasData = false;
      let hasError = false;
      response.topics.forEach((topic, ti) =>
        topic.partitions.forEach((p, pi) => {
          if (p.records.length > 0) hasData = true;
          if (p.errorCode !== 0) hasError = true;
          cursor.topics[ti]!.partitions[pi]!.fetchOffset = p.errorCode === 0 ? p.nextOffset : cursor.topics[ti]!.partitions[pi]!.fetchOffset;
        }),
      );
      if (hasData || hasError) await write(response);
      // A partition error ends the stream: the client decides (refresh metadata, reset offsets) and reopens it.
      if (hasError) return;
    }
  }

  private validateFetch(request: FetchRequest): void {
    if (!Number.isSafeInteger(request.maxBytes) || request.maxBytes < 0) {
      throw new RivuletError('INVALID_FETCH_SIZE', `fetch maxBytes must be a non-negative integer, got ${request.maxBytes}`);
    }
    if (request.maxWaitMs < 0 || request.minBytes < 0) {
      throw new RivuletError('INVALID_REQUEST', `fetch maxWaitMs and minBytes must be non-negative, got ${request.maxWaitMs} and ${request.minBytes}`);
    }
  }

  /**
   * Reads every requested partition once. Reads run concurrently, a bounded number at a
   * time, each up to its partition limit; then, in request order, a partition whose data
   * would overrun the response's byte budget is answered empty (its next fetch retries), so
   * the budget holds as if the reads had been sequential.
   */
  private async readOnce(request: FetchRequest): Promise<{ response: FetchResponse; totalBytes: number; hasError: boolean }> {
    // A maxBytes of 0 means "the broker's limit", as Kafka clients before KIP-74 expect.
    let budgetBytes = Math.min(request.maxBytes === 0 ? this.options.fetchMaxBytes : request.maxBytes, this.options.fetchMaxBytes);
    const wanted = request.topics.flatMap((topic) => topic.partitions.map((p) => ({ topic: topic.name, ...p })));
    const results: FetchPartitionResponse[] = [];
    for (let start = 0; start < wanted.length; start += CONCURRENT_PARTITION_READS_MAX) {
      const chunk = wanted.slice(start, start + CONCURRENT_PARTITION_READS_MAX);
      results.push(...(await Promise.all(chunk.map((p, i) => this.readPartition(p.topic, p.partition, p.fetchOffset, p.partitionMaxBytes, budgetBytes, start + i === 0)))));
    }
    let totalBytes = 0;
    let hasError = false;
    let index = 0;
    const topics: FetchResponse['topics'] = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map(() => {
        const result = results[index++]!;
        if (result.errorCode !== 0) hasError = true;
        if (result.records.length > budgetBytes && totalBytes > 0) return { ...result, records: Buffer.alloc(0), nextOffset: wanted[index - 1]!.fetchOffset };
        totalBytes += result.records.length;
        budgetBytes = Math.max(0, budgetBytes - result.records.length);
        return result;
      }),
    }));
    return { response: { topics }, totalBytes, hasError };
  }

  private async readPartition(topic: string, partition: number, fetchOffset: number, partitionMaxBytes: number, budgetBytes: number, isFirst: boolean): Promise<FetchPartitionResponse> {
    const empty = { partition, records: Buffer.alloc(0), nextOffset: fetchOffset, leaderId: this.options.nodeId };
    let replica: Partition | undefined;
    try {
      if (!Number.isSafeInteger(partitionMaxBytes) || partitionMaxBytes <= 0) {
        throw new RivuletError('INVALID_FETCH_SIZE', `partition max bytes must be a positive integer, got ${partitionMaxBytes}`, { topic, partition });
      }
      replica = this.partitionOrThrow(topic, partition);
      // The first partition with data is returned even when its first batch exceeds the budget, so consumers progress.
      const limitBytes = Math.min(partitionMaxBytes, isFirst ? Math.max(budgetBytes, 1) : budgetBytes);
      if (limitBytes <= 0) return { ...empty, errorCode: 0, errorMessage: '', highWatermark: replica.highWatermark, logStartOffset: replica.log.logStartOffset() };
      const read = await replica.readCommitted(fetchOffset, limitBytes);
      return {
        partition,
        errorCode: 0,
        errorMessage: '',
        highWatermark: replica.highWatermark,
        logStartOffset: replica.log.logStartOffset(),
        records: read.records,
        nextOffset: read.batchCount > 0 ? read.nextOffset : fetchOffset,
        leaderId: this.options.nodeId,
      };
    } catch (err) {
      return { ...empty, ...errorFields(err), highWatermark: replica?.highWatermark ?? -1, logStartOffset: replica?.log.logStartOffset() ?? -1 };
    }
  }

  async listOffsets(request: ListOffsetsRequest): Promise<ListOffsetsResponse> {
    return { topics: await forEachPartition(request.topics, (topic, p) => this.listOffset(topic, p.partition, p.timestamp), { offset: -1, timestamp: -1 }) };
  }

  private async listOffset(topic: string, partition: number, timestamp: number) {
    const replica = this.partitionOrThrow(topic, partition);
    const none = { partition, errorCode: 0, errorMessage: '', offset: -1, timestamp: -1 };
    if (timestamp === LATEST_TIMESTAMP) return { ...none, offset: replica.highWatermark };
    if (timestamp === EARLIEST_TIMESTAMP) return { ...none, offset: replica.log.logStartOffset() };
    if (timestamp < 0) throw new RivuletError('INVALID_REQUEST', `unsupported special timestamp ${timestamp}`, { topic, partition });
    const found = await replica.log.offsetForTimestamp(timestamp);
    if (!found || found.offset >= replica.highWatermark) return none;
    return { ...none, offset: found.offset, timestamp: found.timestampMs };
  }

  async deleteRecords(request: DeleteRecordsRequest): Promise<DeleteRecordsResponse> {
    const topics = await forEachPartition(
      request.topics,
      async (topic, p) => ({ partition: p.partition, errorCode: 0, errorMessage: '', lowWatermark: await this.partitionOrThrow(topic, p.partition).deleteRecordsBefore(p.offset) }),
      { lowWatermark: -1 },
    );
    return { topics };
  }

  describeCluster(): DescribeClusterResponse {
    const stats = this.partitionStats();
    return {
      clusterId: this.options.clusterId,
      controllerId: this.options.nodeId,
      brokers: [this.endpoint],
      self: {
        nodeId: this.options.nodeId,
        roles: 'combined',
        version: this.options.version,
        uptimeMs: Math.round(this.options.clock.nowMs() - this.startedAtMs),
        dataDir: this.options.dataDir,
        partitionCount: stats.length,
        leaderCount: stats.length,
        logSizeBytes: stats.reduce((sum, s) => sum + s.sizeBytes, 0),
      },
    };
  }

  partitionStats(): PartitionStats[] {
    return [...this.partitions.values()].map((p) => ({
      topic: p.topic,
      partition: p.partition,
      logStartOffset: p.log.logStartOffset(),
      logEndOffset: p.log.logEndOffset(),
      highWatermark: p.highWatermark,
      sizeBytes: p.log.sizeBytes(),
    }));
  }

  // ---- retention ------------------------------------------------------------------------

  private scheduleRetention(): void {
    this.retentionTimer = setTimeout(() => {
      this.retentionRun = this.applyRetention().then(() => undefined).finally(() => {
        if (!this.isStopped) this.scheduleRetention();
      });
    }, this.options.retentionCheckIntervalMs);
    this.retentionTimer.unref();
  }

  /** Deletes batches past each topic's retention time or size; runs on a timer. */
  async applyRetention(): Promise<number> {
    let deletedBatches = 0;
    for (const replica of [...this.partitions.values()]) {
      if (this.isStopped) break;
      try {
        deletedBatches += (await replica.log.applyRetention(this.options.clock.wallClockMs())).deletedBatches;
      } catch (err) {
        this.logger.error({ err, topic: replica.topic, partition: replica.partition }, 'retention failed');
      }
    }
    if (deletedBatches > 0) this.logger.info({ deletedBatches }, 'retention deleted batches');
    return deletedBatches;
  }
}
