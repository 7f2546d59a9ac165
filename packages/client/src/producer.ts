import { RivuletError, systemClock, type Clock, type Logger, type Random } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import { encodeRecordBatch } from '@rivulet/records';
import { estimateRecordBytes, RecordAccumulator, recordMemoryBytes, type PendingRecord, type ProducerBatch } from './accumulator.js';
import { backoffDelayMs, type BackoffPolicy } from './backoff.js';
import type { Cluster, TopicInfo } from './cluster.js';
import { resultError } from './errors.js';
import { MemoryPool } from './memory-pool.js';
import { StickyPartitioner, type TopicLayout } from './partitioner.js';

import type { Acks, CompressionCodecName, DeliveryCallback, HeadersInput, ProducerRecord, RecordHeader, RecordMetadata } from './types.js';

/** Metadata refresh pace while batches wait for a failed leader to be replaced (Kafka's retry.backoff.ms default). */
const LEADER_WATCH_INTERVAL_MS = 100;
/** Answers that say the broker does not lead the partition the client's metadata says it does. */
const STALE_LEADER_ERRORS: ReadonlySet<string> = new Set(['NOT_LEADER_OR_FOLLOWER', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH', 'LEADER_NOT_AVAILABLE']);

export interface ProducerOptions {
  /** 0, 1 or 'all' (-1). Default 'all', as in Kafka 3. */
  readonly acks?: Acks;
  /** Default 'none'. */
  readonly compression?: CompressionCodecName;
  /** Close a partition's batch once it holds this many (estimated) bytes. Default 16384. */
  readonly batchSizeBytes?: number;
  /** How long a batch that is not full waits for more records. Default 5. */
  readonly lingerMs?: number;
  /** Bytes of records accepted but not yet acknowledged; `send` waits while it is full. Default 32 MiB. */
  readonly bufferMemoryBytes?: number;
  /** How long `send` may wait for buffer memory or topic metadata. Default 60000. */
  readonly maxBlockMs?: number;
  /** Produce requests awaiting an answer, per broker. Default 5. */
  readonly maxInFlightRequests?: number;
  /** Retries of a batch after retriable errors. Default unlimited, bounded by deliveryTimeoutMs. */
  readonly retries?: number;
  /** First retry backoff; doubles per attempt up to retryBackoffMaxMs. Default 100. */
  readonly retryBackoffMs?: number;
  readonly retryBackoffMaxMs?: number;
  /** Upper bound from `send` to the delivery report, retries included. Default 120000. */
  readonly deliveryTimeoutMs?: number;
  /** Largest produce request; a single larger batch is still sent alone. Default 1 MiB. */
  readonly maxRequestSizeBytes?: number;
  /** Overrides the client's requestTimeoutMs for produce requests. */
  readonly requestTimeoutMs?: number;
  /** For tests: the random source of the sticky partitioner and backoff jitter, and the clock. */
  readonly random?: Random;
  readonly clock?: Clock;
}

interface ResolvedProducerOptions {
  readonly acks: 0 | 1 | -1;
  readonly compression: CompressionCodecName;
  readonly batchSizeBytes: number;
  readonly lingerMs: number;
  readonly bufferMemoryBytes: number;
  readonly maxBlockMs: number;
  readonly maxInFlightRequests: number;
  readonly retries: number;
  readonly backoff: BackoffPolicy;
  readonly deliveryTimeoutMs: number;
  readonly maxRequestSizeBytes: number;
  readonly requestTimeoutMs: number;
}

function resolveOptions(options: ProducerOptions, requestTimeoutMs: number): ResolvedProducerOptions {
  const acks = options.acks === 'all' || options.acks === undefined ? -1 : options.acks;
  if (acks !== 0 && acks !== 1 && acks !== -1) throw new RivuletError('INVALID_REQUIRED_ACKS', `acks must be 0, 1, -1 or 'all', got ${String(options.acks)}`);
  const positive = (name: string, value: number): number => {
    if (!Number.isFinite(value) || value < 0) throw new RivuletError('INVALID_CONFIG', `${name} must be a non-negative number, got ${value}`);
    return value;
  };
  return {
    acks,
    compression: options.compression ?? 'none',
    batchSizeBytes: positive('batchSizeBytes', options.batchSizeBytes ?? 16_384),
    lingerMs: positive('lingerMs', options.lingerMs ?? 5),
    bufferMemoryBytes: positive('bufferMemoryBytes', options.bufferMemoryBytes ?? 32 * 1024 * 1024),
    maxBlockMs: positive('maxBlockMs', options.maxBlockMs ?? 60_000),
    maxInFlightRequests: Math.max(1, options.maxInFlightRequests ?? 5),
    retries: positive('retries', options.retries ?? Number.MAX_SAFE_INTEGER),
    backoff: { initialMs: positive('retryBackoffMs', options.retryBackoffMs ?? 100), maxMs: positive('retryBackoffMaxMs', options.retryBackoffMaxMs ?? 1000) },
    deliveryTimeoutMs: positive('deliveryTimeoutMs', options.deliveryTimeoutMs ?? 120_000),
    maxRequestSizeBytes: positive('maxRequestSizeBytes', options.maxRequestSizeBytes ?? 1024 * 1024),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs ?? requestTimeoutMs),
  };
}

function toBuffer(data: Uint8Array | string | null | undefined): Buffer | null {
  if (data === null || data === undefined) return null;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new RivuletError('INVALID_RECORD', `keys, values and header values must be a Buffer, Uint8Array, string or null, got ${typeof data}`);
}

/** Checks what the encoder would otherwise reject later, failing a whole request instead of one record. */
function checkTimestamp(timestamp: number | undefined): number {
  if (timestamp === undefined) return Date.now();
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RivuletError('INVALID_TIMESTAMP', `timestamp must be a non-negative integer of ms, got ${timestamp}`);
  return timestamp;
}

/** Shared by every record without headers, so those allocate no array of their own. */
const NO_HEADERS: readonly RecordHeader[] = Object.freeze([]);

function normalizeHeaders(headers: HeadersInput | undefined): readonly RecordHeader[] {
  if (headers === undefined) return NO_HEADERS;
  if (Array.isArray(headers)) {
    return (headers as readonly { key: string; value: string | Uint8Array | null }[]).map((h) => ({ key: h.key, value: toBuffer(h.value) }));
  }
  return Object.entries(headers as Readonly<Record<string, string | Uint8Array>>).map(([key, value]) => ({ key, value: toBuffer(value) }));
}

function layoutOf(topic: TopicInfo): TopicLayout {
  const available: number[] = [];
  for (const p of topic.partitions) if (p !== undefined && p.leaderId >= 0) available.push(p.partition);
  return { numPartitions: topic.partitions.length, availablePartitions: available };
}

/** A map key for one partition of one topic. */
function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * Sends records in batches: per-partition batching by size and linger time, keyed and sticky
 * partitioning, a bounded buffer, bounded in-flight requests per broker, and retries with
 * exponential backoff. Every `send` returns the record's own delivery report.
 */
export class Producer {
  private readonly options: ResolvedProducerOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly partitioner: StickyPartitioner;
  private readonly accumulator: RecordAccumulator;
  private readonly memory: MemoryPool;
  private readonly inFlightByNode = new Map<number, number>();
  private readonly incompleteBatches = new Set<ProducerBatch>();
  /** Sends that wait for metadata or memory; later sends queue behind them to keep their order. */
  private admissionTail: Promise<void> | undefined;
  private pendingAdmissions = 0;
  private readonly spaceWaiters: (() => void)[] = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeTimerDueMs = Number.POSITIVE_INFINITY;
  private runScheduled = false;
  private metadataRefreshPending = false;
  /**
   * Partitions whose last request got no answer at all (a timeout, a lost connection), with
   * the leader it went to and the metadata version of that moment. A silent leader may be cut
   * off while the controller elects another: until metadata is refreshed after the failure,
   * retries wait rather than go to it again, where each would cost a whole request timeout
   * (Kafka's client likewise reconnects to a node that timed out before it sends there again).
   */
  private readonly unansweredLeaders = new Map<string, { readonly leaderId: number; readonly metadataVersion: number }>();
  private leaderWatchActive = false;
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    options: ProducerOptions,
    clientRequestTimeoutMs: number,
    private readonly logger: Logger,
    /** Tells the owning client this instance is closed and no longer needs closing. */
    private readonly onClosed: () => void = () => {},
  ) {
    this.options = resolveOptions(options, clientRequestTimeoutMs);
    this.clock = options.clock ?? systemClock;
    const random = options.random;
    this.random = random === undefined ? Math.random : () => random.nextFloat();
    this.partitioner = new StickyPartitioner(random);
    this.memory = new MemoryPool(this.options.bufferMemoryBytes);
    this.accumulator = new RecordAccumulator({
      batchSizeBytes: this.options.batchSizeBytes,
      lingerMs: this.options.lingerMs,
      deliveryTimeoutMs: this.options.deliveryTimeoutMs,
      clock: this.clock,
      onBatchClosed: (topic, partition) => this.onBatchClosed(topic, partition),
      onBatchCreated: (batch) => this.incompleteBatches.add(batch),
    });
  }

  /** Bytes of records accepted and not yet acknowledged. */
  get bufferedBytes(): number {
    return this.memory.usedBytes;
  }

  /** Sends one record; resolves with where it was written once the broker acknowledged it. */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    return new Promise<RecordMetadata>((resolve, reject) => {
      this.sendWithCallback(record, (err, metadata) => (err === undefined ? resolve(metadata!) : reject(err)));
    });
  }

  /**
   * Like `send`, with a callback instead of a promise (Kafka's `send(record, callback)`). A
   * shared callback makes a record cost no allocation of its own beyond its bytes, which
   * matters when streaming millions of small records.
   */
  sendWithCallback(record: ProducerRecord, onDelivery: DeliveryCallback): void {
    let pending: PendingRecord;
    try {
      pending = this.toPendingRecord(record, onDelivery);
    } catch (err) {
      queueMicrotask(() => onDelivery(err as Error, undefined));
      return;
    }
    if (this.admissionTail === undefined && this.tryAdmitNow(record, pending)) return;
    this.admitLater(record, pending);
  }

  private toPendingRecord(record: ProducerRecord, onDelivery: DeliveryCallback): PendingRecord {
    if (this.closed) throw new RivuletError('INVALID_REQUEST', 'the producer is closed');
    if (typeof record.topic !== 'string' || record.topic === '') throw new RivuletError('INVALID_TOPIC_EXCEPTION', 'a record needs a topic');
    const key = toBuffer(record.key);
    const value = toBuffer(record.value);
    const headers = normalizeHeaders(record.headers);
    const timestampMs = checkTimestamp(record.timestamp);
    return { key, value, headers, timestampMs, sizeBytes: estimateRecordBytes(key, value, headers), onDelivery };
  }

  /** Sends several records; resolves when all are acknowledged, rejects on the first failure. */
  sendBatch(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    return Promise.all(records.map((r) => this.send(r)));
  }

  /** True while a `send` would have to wait: sends queue for metadata or memory, or the buffer is full. */
  get isBufferFull(): boolean {
    return !this.hasBufferSpace();
  }

  /**
   * Resolves when another `send` would be accepted without waiting: nothing queues for
   * admission and the buffer has room. Streaming callers (the CLI's produce) await it to keep
   * their own memory bounded instead of piling up pending sends.
   */
  waitForBufferSpace(): Promise<void> {
    if (this.hasBufferSpace()) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** Sends every buffered record now and resolves once each has its delivery report. */
  async flush(): Promise<void> {
    this.accumulator.beginFlush();
    try {
      while (this.admissionTail !== undefined) await this.admissionTail;
      const batches = [...this.incompleteBatches];
      this.scheduleRun();
      await Promise.all(batches.map((b) => b.done));
    } finally {
      this.accumulator.endFlush();
    }
  }

  /** Flushes, then refuses further sends. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      clearTimeout(this.wakeTimer);
      const err = new RivuletError('INVALID_REQUEST', 'the producer is closed');
      this.memory.rejectAll(err);
      for (const batch of this.accumulator.removeAll()) this.finishBatch(batch, err);
      for (const waiter of this.spaceWaiters.splice(0)) waiter();
      this.onClosed();
    }
  }

  private hasBufferSpace(): boolean {
    return this.pendingAdmissions === 0 && this.memory.usedBytes < this.memory.totalBytes;
  }

  /** The fast path: topic metadata known and memory free, so the record joins its batch now. */
  private tryAdmitNow(record: ProducerRecord, pending: PendingRecord): boolean {
    const topic = this.cluster.topic(record.topic);
    if (topic === undefined || topic.partitions.length === 0) return false;
    if (!this.memory.tryAcquire(recordMemoryBytes(pending))) return false;
    try {
      this.append(record, pending, topic);
    } catch (err) {
      this.memory.release(recordMemoryBytes(pending));
      pending.onDelivery(err as Error, undefined);
    }
    return true;
  }

  private admitLater(record: ProducerRecord, pending: PendingRecord): void {
    this.pendingAdmissions++;
    const previous = this.admissionTail ?? Promise.resolve();
    const admitted = previous.then(() => this.admit(record, pending));
    const tail = admitted.finally(() => {
      this.pendingAdmissions--;
      if (this.admissionTail === tail) this.admissionTail = undefined;
      this.notifySpace();
    });
    this.admissionTail = tail;
  }

  /** The slow path: waits for the topic's metadata and for buffer memory, in `send` order. */
  private async admit(record: ProducerRecord, pending: PendingRecord): Promise<void> {
    try {
      if (this.closed) throw new RivuletError('INVALID_REQUEST', 'the producer is closed');
      const topic = await this.cluster.waitForTopic(record.topic, this.options.maxBlockMs);
      await this.memory.acquire(recordMemoryBytes(pending), this.options.maxBlockMs);
      try {
        this.append(record, pending, this.cluster.topic(record.topic) ?? topic);
      } catch (err) {
        this.memory.release(recordMemoryBytes(pending));
        throw err;
      }
    } catch (err) {
      pending.onDelivery(err as Error, undefined);
    }
  }

  private append(record: ProducerRecord, pending: PendingRecord, topic: TopicInfo): void {
    const partition = this.choosePartition(record, pending.key, topic);
    const appended = this.accumulator.append(record.topic, partition, pending);
    // Only a new batch can bring the next linger deadline forward; plain appends leave the timer be.
    if (appended === 'full') this.scheduleRun();
    else if (appended === 'newBatch') this.scheduleWake();
  }

  private choosePartition(record: ProducerRecord, key: Buffer | null, topic: TopicInfo): number {
    const numPartitions = topic.partitions.length;
    if (record.partition === undefined) return this.partitioner.partition(record.topic, key, layoutOf(topic));
    if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= numPartitions) {
      throw new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', `partition ${record.partition} does not exist: ${record.topic} has ${numPartitions}`, {
        topic: record.topic,
        partition: record.partition,
      });
    }
    return record.partition;
  }

  private onBatchClosed(topic: string, partition: number): void {
    const info = this.cluster.topic(topic);
    if (info !== undefined) this.partitioner.onBatchClosed(topic, partition, layoutOf(info));
  }

  private scheduleRun(): void {
    if (this.runScheduled) return;
    this.runScheduled = true;
    setImmediate(() => {
      this.runScheduled = false;
      this.run();
    });
  }

  /** Arms one timer for the earliest linger expiry or retry backoff. */
  private scheduleWake(): void {
    const delayMs = this.accumulator.nextWakeDelayMs((topic, partition) => this.canSendTo(topic, partition));
    if (delayMs === undefined) return;
    const dueMs = this.clock.nowMs() + delayMs;
    if (this.wakeTimer !== undefined && this.wakeTimerDueMs <= dueMs) return;
    clearTimeout(this.wakeTimer);
    this.wakeTimerDueMs = dueMs;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeTimerDueMs = Number.POSITIVE_INFINITY;
      this.run();
    }, delayMs);
  }

  private canSendTo(topic: string, partition: number): boolean {
    const leader = this.sendableLeader(topic, partition);
    return leader !== undefined && this.hasRoomAt(leader);
  }

  private hasRoomAt(leader: number): boolean {
    return (this.inFlightByNode.get(leader) ?? 0) < this.options.maxInFlightRequests;
  }

  /** The partition's leader, unless metadata does not name one or must be refreshed before sending there. */
  private sendableLeader(topic: string, partition: number): number | undefined {
    const leader = this.cluster.leaderOf(topic, partition);
    return leader === undefined || this.awaitsFreshMetadata(topic, partition, leader) ? undefined : leader;
  }

  /** Whether `leader` left the partition's last request unanswered and no metadata was applied since. */
  private awaitsFreshMetadata(topic: string, partition: number, leader: number): boolean {
    if (this.unansweredLeaders.size === 0) return false;
    const key = partitionKey(topic, partition);
    const unanswered = this.unansweredLeaders.get(key);
    if (unanswered === undefined) return false;
    if (unanswered.leaderId === leader && unanswered.metadataVersion === this.cluster.metadataVersion) return true;
    this.unansweredLeaders.delete(key);
    return false;
  }

  /** Drains every ready batch whose leader has room and sends them, one request per broker. */
  private run(): void {
    for (const batch of this.accumulator.removeExpired()) {
      const err = new RivuletError('REQUEST_TIMED_OUT', `not sent within deliveryTimeoutMs (${this.options.deliveryTimeoutMs} ms): no leader or no room to send`, {
        topic: batch.topic,
        partition: batch.partition,
      });
      this.finishBatch(batch, err);
    }
    let needsMetadata = false;
    const batches = this.accumulator.drainReady((topic, partition) => {
      const leader = this.sendableLeader(topic, partition);
      // A refresh that ends wakes the sender again (refreshMetadataSoon), so a failed one is retried.
      if (leader === undefined) needsMetadata = true;
      return leader !== undefined && this.hasRoomAt(leader);
    });
    if (needsMetadata) this.refreshMetadataSoon();
    for (const [nodeId, nodeBatches] of this.groupByLeader(batches)) {
      for (const request of this.splitBySize(nodeBatches)) this.sendRequest(nodeId, request);
    }
    this.scheduleWake();
  }

  private groupByLeader(batches: readonly ProducerBatch[]): Map<number, ProducerBatch[]> {
    const byNode = new Map<number, ProducerBatch[]>();
    for (const batch of batches) {
      const leader = this.cluster.leaderOf(batch.topic, batch.partition)!;
      const list = byNode.get(leader);
      if (list === undefined) byNode.set(leader, [batch]);
      else list.push(batch);
    }
    return byNode;
  }

  private splitBySize(batches: readonly ProducerBatch[]): ProducerBatch[][] {
    const requests: ProducerBatch[][] = [];
    let current: ProducerBatch[] = [];
    let currentBytes = 0;
    for (const batch of batches) {
      if (current.length > 0 && currentBytes + batch.sizeBytes > this.options.maxRequestSizeBytes) {
        requests.push(current);
        current = [];
        currentBytes = 0;
      }
      current.push(batch);
      currentBytes += batch.sizeBytes;
    }
    if (current.length > 0) requests.push(current);
    return requests;
  }

  /**
   * While batches back off after failing on a leader that metadata still names, refreshes
   * metadata every LEADER_WATCH_INTERVAL_MS (one refresh at a time) and sends those batches at once when
   * their partition has a new leader, instead of waiting out a backoff that has grown to a
   * second (as Kafka's KIP-951). Ends when no batch waits on a leader metadata still names.
   */
  private watchForNewLeaders(): void {
    if (this.leaderWatchActive || this.closed) return;
    this.leaderWatchActive = true;
    const waiting = (): ProducerBatch[] =>
      [...this.incompleteBatches].filter((b) => b.attempts > 0 && b.failedOnLeaderId !== undefined && b.retryAtMs > this.clock.nowMs());
    const round = (): void => {
      const stale = waiting().filter((b) => this.cluster.leaderOf(b.topic, b.partition) === b.failedOnLeaderId);
      if (stale.length === 0 || this.closed) {
        this.leaderWatchActive = false;
        return;
      }
      this.cluster
        .refreshMetadata()
        .catch((err: unknown) => this.logger.debug({ err }, 'metadata refresh while waiting for new leaders failed'))
        .finally(() => {
          let moved = false;
          for (const batch of waiting()) {
            const leader = this.cluster.leaderOf(batch.topic, batch.partition);
            if (leader !== undefined && leader !== batch.failedOnLeaderId) {
              batch.retryAtMs = this.clock.nowMs();
              moved = true;
            }
          }
          if (moved) this.run();
          setTimeout(round, LEADER_WATCH_INTERVAL_MS).unref();
        });
    };
    setTimeout(round, LEADER_WATCH_INTERVAL_MS).unref();
  }

  private refreshMetadataSoon(): void {
    if (this.metadataRefreshPending) return;
    this.metadataRefreshPending = true;
    this.cluster
      .refreshMetadata()
      .catch((err: unknown) => this.logger.warn({ err }, 'metadata refresh for unknown partition leaders failed'))
      .finally(() => {
        this.metadataRefreshPending = false;
        // Batches whose leader was unknown can move now, or will after the next backoff.
        setTimeout(() => this.run(), this.options.backoff.initialMs).unref();
      });
  }

  private sendRequest(nodeId: number, batches: ProducerBatch[]): void {
    this.inFlightByNode.set(nodeId, (this.inFlightByNode.get(nodeId) ?? 0) + 1);
    this.produce(nodeId, batches)
      .catch((err: unknown) => {
        // produce() settles every batch itself; reaching here is a bug, so fail loudly but keep records settled.
        this.logger.error({ err, nodeId }, 'unexpected produce failure');
        for (const batch of batches) this.finishBatch(batch, err as Error);
      })
      .finally(() => {
        this.inFlightByNode.set(nodeId, (this.inFlightByNode.get(nodeId) ?? 1) - 1);
        this.scheduleRun();
      });
  }

  private async produce(nodeId: number, batches: ProducerBatch[]): Promise<void> {
    for (const batch of batches) {
      batch.attempts++;
      // A PendingRecord is a RecordInput (key, value, headers, timestampMs): no copy needed.
      batch.encoded ??= await encodeRecordBatch({ compression: this.options.compression, records: batch.records });
    }
    for (const batch of batches) batch.failedOnLeaderId = nodeId;
    const connection = this.cluster.connectionFor(nodeId);
    if (connection === undefined) {
      const err = new RivuletError('LEADER_NOT_AVAILABLE', `broker ${nodeId} is no longer in the metadata`, { nodeId });
      for (const batch of batches) this.handleFailure(batch, err);
      return;
    }
    let response: clientApi.ProduceResponse;
    try {
      response = await connection.produce(this.buildRequest(batches), this.options.requestTimeoutMs);
    } catch (err) {
      const error = err instanceof RivuletError ? err : new RivuletError('NETWORK_EXCEPTION', String(err), { nodeId }, { cause: err });
      if (error.retriable) {
        this.cluster.noteBrokerTrouble(nodeId);
        const unanswered = { leaderId: nodeId, metadataVersion: this.cluster.metadataVersion };
        for (const batch of batches) this.unansweredLeaders.set(partitionKey(batch.topic, batch.partition), unanswered);
      }
      for (const batch of batches) this.handleFailure(batch, error);
      // No answer at all (a client-side timeout, a lost connection): the broker may be down or
      // cut off, so look for new leaders, as Kafka's client does after a request timeout.
      if (error.retriable && !error.refreshMetadata && !this.closed) {
        this.refreshMetadataSoon();
        this.watchForNewLeaders();
      }
      return;
    }
    this.handleResponse(nodeId, batches, response);
  }

  private buildRequest(batches: readonly ProducerBatch[]): clientApi.ProduceRequest {
    const byTopic = new Map<string, clientApi.PartitionProduceData[]>();
    for (const batch of batches) {
      const list = byTopic.get(batch.topic) ?? [];
      list.push({ partition: batch.partition, records: batch.encoded! });
      byTopic.set(batch.topic, list);
    }
    return {
      acks: this.options.acks,
      timeoutMs: this.options.requestTimeoutMs,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    };
  }

  private handleResponse(nodeId: number, batches: readonly ProducerBatch[], response: clientApi.ProduceResponse): void {
    let isLeaderViewStale = false;
    const results = new Map<string, clientApi.PartitionProduceResponse>();
    for (const topic of response.topics) for (const p of topic.partitions) results.set(partitionKey(topic.name, p.partition), p);
    for (const batch of batches) {
      const result = results.get(partitionKey(batch.topic, batch.partition));
      if (this.options.acks === 0) {
        // acks=0 asks the broker for no answer, so like Kafka the record has no offset.
        this.finishBatch(batch, undefined, { baseOffset: -1, logAppendTimeMs: -1 });
        continue;
      }
      if (result === undefined) {
        this.handleFailure(batch, new RivuletError('UNKNOWN_SERVER_ERROR', 'the produce response left this partition out', { topic: batch.topic, partition: batch.partition }));
        continue;
      }
      const error = resultError(result.errorCode, result.errorMessage, { topic: batch.topic, partition: batch.partition, leaderId: result.leaderId });
      if (error === undefined) this.finishBatch(batch, undefined, result);
      else {
        // The client sent this here because metadata named this broker leader: that metadata is stale.
        if (STALE_LEADER_ERRORS.has(error.errorName)) isLeaderViewStale = true;
        this.handleFailure(batch, error);
      }
    }
    if (isLeaderViewStale) this.cluster.noteBrokerTrouble(nodeId);
    else this.cluster.noteBrokerAnswered(nodeId);
  }

  /** Retries a batch after a retriable error while attempts and the delivery timeout allow, else fails it. */
  private handleFailure(batch: ProducerBatch, err: RivuletError): void {
    if (err.refreshMetadata) this.refreshMetadataSoon();
    const delayMs = backoffDelayMs(this.options.backoff, batch.attempts, this.random);
    const nowMs = this.clock.nowMs();
    const withinDeadline = nowMs + delayMs - batch.createdMs < this.options.deliveryTimeoutMs;
    if (err.retriable && batch.attempts <= this.options.retries && withinDeadline && !this.closed) {
      this.logger.debug({ topic: batch.topic, partition: batch.partition, attempt: batch.attempts, delayMs, err }, 'retrying produce');
      batch.retryAtMs = nowMs + delayMs;
      this.accumulator.reenqueue(batch);
      this.scheduleWake();
      if (err.refreshMetadata) this.watchForNewLeaders();
      return;
    }
    const context = { ...err.context, topic: batch.topic, partition: batch.partition };
    if (err.retriable && !withinDeadline && !this.closed) {
      // Out of time rather than out of luck: say so, whatever the last transient error was.
      const message = `not delivered within deliveryTimeoutMs (${this.options.deliveryTimeoutMs} ms) after ${batch.attempts} attempt(s); last error ${err.errorName}: ${err.message}`;
      this.finishBatch(batch, new RivuletError('REQUEST_TIMED_OUT', message, context, { cause: err }));
      return;
    }
    const final = err.context.topic === undefined ? RivuletError.fromCode(err.code, err.message, context) : err;
    this.finishBatch(batch, final);
  }

  private finishBatch(batch: ProducerBatch, err: Error | undefined, result?: { baseOffset: number; logAppendTimeMs: number }): void {
    if (err !== undefined || result === undefined) batch.fail(err ?? new RivuletError('UNKNOWN_SERVER_ERROR', 'batch finished without a result'));
    else {
      batch.complete((record, index) => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: result.baseOffset < 0 ? -1 : result.baseOffset + index,
        timestamp: result.logAppendTimeMs >= 0 ? result.logAppendTimeMs : record.timestampMs,
      }));
    }
    this.incompleteBatches.delete(batch);
    this.memory.release(batch.memoryBytes);
    this.notifySpace();
  }

  private notifySpace(): void {
    if (this.spaceWaiters.length === 0 || !this.hasBufferSpace()) return;
    for (const waiter of this.spaceWaiters.splice(0)) waiter();
  }
}
