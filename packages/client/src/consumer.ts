import { RivuletError, type Logger } from '@rivulet/common';
import type { clientApi } from '@rivulet/proto';
import { decodeRecordBatch, lastOffsetOf, readBatchHeader, splitBatches } from '@rivulet/records';
import { backoffDelayMs, type BackoffPolicy } from './backoff.js';
import type { Cluster } from './cluster.js';
import { resultError } from './errors.js';
import { recordsFromBatches } from './fetched-records.js';
import { Signal } from './signal.js';
import { tpKey, type ConsumerRecord, type TopicPartitionRef } from './types.js';

export type OffsetResetPolicy = 'earliest' | 'latest' | 'none';

/** Where `seek` moves a partition: an offset, either end of the log, or the first record at or after a time. */
export type SeekTarget = number | 'earliest' | 'latest' | { readonly timestampMs: number };

export interface ConsumerOptions {
  /** What to do when a partition has no position, or its position left the log. Default 'latest', as in Kafka. */
  readonly autoOffsetReset?: OffsetResetPolicy;
  /** How long the broker may hold a fetch waiting for fetchMinBytes. Default 500. */
  readonly fetchMaxWaitMs?: number;
  /** Default 1: answer as soon as anything is there. */
  readonly fetchMinBytes?: number;
  /** Per fetch request. Default 50 MiB. */
  readonly fetchMaxBytes?: number;
  /** Per partition per fetch request. Default 1 MiB. */
  readonly maxPartitionFetchBytes?: number;
  /** Fetched bytes held for the application; no new fetch starts while more are buffered. Default 16 MiB. */
  readonly maxPrefetchBytes?: number;
  /** Backoff of a partition after a fetch error; doubles per attempt up to retryBackoffMaxMs. Default 100. */
  readonly retryBackoffMs?: number;
  readonly retryBackoffMaxMs?: number;
  readonly requestTimeoutMs?: number;
}

export interface RecordBatchView {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly ConsumerRecord[];
  /** The partition's high watermark when these records were fetched. */
  readonly highWatermark: number;
}

export interface RunHandlers {
  readonly eachRecord?: (record: ConsumerRecord) => Promise<void> | void;
  readonly eachBatch?: (batch: RecordBatchView) => Promise<void> | void;
}

export interface StreamOptions {
  /** End the iteration once every assigned, unpaused partition has been read up to its high watermark. */
  readonly stopAtEnd?: boolean;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Offset of the next record handed to the application. */
  position: number | undefined;
  /** Offset the next fetch asks for; ahead of `position` while fetched records are buffered. */
  fetchOffset: number | undefined;
  /** A lookup (ListOffsets) that must run before fetching. */
  pendingReset: Exclude<SeekTarget, number> | undefined;
  paused: boolean;
  /** Bumped by every seek, so answers to requests sent before it are dropped. */
  epoch: number;
  highWatermark: number | undefined;
  /** The fetch that last set highWatermark saw the partition at this fetch offset. */
  endCheckedAt: number | undefined;
  busy: boolean;
  attempts: number;
  retryAtMs: number;
  error: RivuletError | undefined;
}

/**
 * The whole batches of one partition from one fetch, queued for the application. They stay
 * raw bytes until read and are decoded one batch at a time, so the prefetch bound counts the
 * compact wire bytes and a large fetch of tiny records never becomes millions of objects at once.
 */
interface BufferedChunk {
  readonly state: PartitionState;
  readonly epoch: number;
  readonly batches: readonly Buffer[];
  /** Records below this offset (the start of a seek inside a batch) are skipped. */
  readonly fetchOffset: number;
  /** The offset after the last batch: the position once the chunk is read. */
  readonly endOffset: number;
  readonly highWatermark: number;
  readonly sizeBytes: number;
  nextBatch: number;
  /** The decoded records of the batch being read, and the next one to hand out. */
  records: ConsumerRecord[];
  next: number;
}

interface ResolvedConsumerOptions {
  readonly autoOffsetReset: OffsetResetPolicy;
  readonly fetchMaxWaitMs: number;
  readonly fetchMinBytes: number;
  readonly fetchMaxBytes: number;
  readonly maxPartitionFetchBytes: number;
  readonly maxPrefetchBytes: number;
  readonly backoff: BackoffPolicy;
  readonly requestTimeoutMs: number;
}

function resolveOptions(options: ConsumerOptions, requestTimeoutMs: number): ResolvedConsumerOptions {
  return {
    autoOffsetReset: options.autoOffsetReset ?? 'latest',
    fetchMaxWaitMs: options.fetchMaxWaitMs ?? 500,
    fetchMinBytes: options.fetchMinBytes ?? 1,
    fetchMaxBytes: options.fetchMaxBytes ?? 50 * 1024 * 1024,
    maxPartitionFetchBytes: options.maxPartitionFetchBytes ?? 1024 * 1024,
    maxPrefetchBytes: options.maxPrefetchBytes ?? 16 * 1024 * 1024,
    backoff: { initialMs: options.retryBackoffMs ?? 100, maxMs: options.retryBackoffMaxMs ?? 1000 },
    requestTimeoutMs: options.requestTimeoutMs ?? requestTimeoutMs,
  };
}

const LIST_OFFSETS_LATEST = -1;
const LIST_OFFSETS_EARLIEST = -2;

/**
 * A consumer of explicitly assigned partitions (no group yet). It prefetches from every
 * partition's leader in the background, one fetch per broker at a time, while the buffered
 * bytes stay under `maxPrefetchBytes`, and hands records out in offset order per partition,
 * through an async iterator or `run`.
 */
export class Consumer implements AsyncIterable<ConsumerRecord> {
  private readonly options: ResolvedConsumerOptions;
  private readonly partitions = new Map<string, PartitionState>();
  private chunks: BufferedChunk[] = [];
  private bufferedBytes = 0;
  /** Bytes that fetches in flight may still add: each reserves its maxBytes so that together they respect maxPrefetchBytes. */
  private reservedBytes = 0;
  private readonly busyNodes = new Set<number>();
  private readonly changed = new Signal();
  private retryTimer: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    options: ConsumerOptions,
    clientRequestTimeoutMs: number,
    private readonly logger: Logger,
    /** Tells the owning client this instance is closed and no longer needs closing. */
    private readonly onClosed: () => void = () => {},
  ) {
    this.options = resolveOptions(options, clientRequestTimeoutMs);
  }

  /** Replaces the assignment. Partitions kept keep their position; new ones start per autoOffsetReset unless seeked. */
  assign(partitions: readonly TopicPartitionRef[]): void {
    const wanted = new Map(partitions.map((tp) => [tpKey(tp.topic, tp.partition), tp]));
    for (const [key, state] of this.partitions) {
      if (!wanted.has(key)) {
        this.partitions.delete(key);
        state.epoch++;
      }
    }
    for (const [key, tp] of wanted) {
      if (!this.partitions.has(key)) this.partitions.set(key, this.newState(tp));
    }
    this.dropStaleChunks();
    this.cluster.refreshMetadata(partitions.map((tp) => tp.topic)).catch((err: unknown) => {
      this.logger.warn({ err }, 'metadata refresh after assign failed; fetches will retry it');
    });
    this.schedulePump();
  }

  assignment(): TopicPartitionRef[] {
    return [...this.partitions.values()].map(({ topic, partition }) => ({ topic, partition }));
  }

  /** Moves a partition: the next record returned is at the target. Buffered records of the partition are dropped. */
  seek(tp: TopicPartitionRef, target: SeekTarget): void {
    const state = this.stateOf(tp);
    state.epoch++;
    state.error = undefined;
    state.attempts = 0;
    state.retryAtMs = 0;
    state.highWatermark = undefined;
    state.endCheckedAt = undefined;
    if (typeof target === 'number') {
      if (!Number.isSafeInteger(target) || target < 0) throw new RivuletError('INVALID_REQUEST', `seek offset must be a non-negative integer, got ${target}`);
      state.position = target;
      state.fetchOffset = target;
      state.pendingReset = undefined;
    } else {
      state.position = undefined;
      state.fetchOffset = undefined;
      state.pendingReset = target;
    }
    this.dropStaleChunks();
    this.schedulePump();
  }

  /** The offset of the next record this consumer returns for the partition, or undefined while it is being looked up. */
  position(tp: TopicPartitionRef): number | undefined {
    return this.stateOf(tp).position;
  }

  /** The partition's high watermark as of the latest fetch, or undefined before one. */
  highWatermark(tp: TopicPartitionRef): number | undefined {
    return this.stateOf(tp).highWatermark;
  }

  /** Stops returning and fetching records of these partitions; buffered ones are kept for resume. */
  pause(partitions: readonly TopicPartitionRef[]): void {
    for (const tp of partitions) this.stateOf(tp).paused = true;
  }

  resume(partitions: readonly TopicPartitionRef[]): void {
    for (const tp of partitions) this.stateOf(tp).paused = false;
    this.changed.notify();
    this.schedulePump();
  }

  paused(): TopicPartitionRef[] {
    return [...this.partitions.values()].filter((s) => s.paused).map(({ topic, partition }) => ({ topic, partition }));
  }

  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    return this.stream()[Symbol.asyncIterator]();
  }

  /** The records as an async iterable; ends when the consumer closes (or at the end, with stopAtEnd). */
  async *stream(options: StreamOptions = {}): AsyncGenerator<ConsumerRecord, void, undefined> {
    for (;;) {
      const chunk = await this.nextChunk(options.stopAtEnd ?? false);
      if (chunk === undefined) return;
      // A pause or seek between two records takes effect at once; the rest of the chunk stays buffered.
      while (chunk.next < chunk.records.length && !chunk.state.paused && this.isCurrent(chunk)) {
        const record = chunk.records[chunk.next++]!;
        chunk.state.position = record.offset + 1;
        // Release before yielding: a caller that breaks out of the loop never comes back here.
        if (chunk.next === chunk.records.length) this.releaseIfDone(chunk);
        yield record;
      }
      this.releaseIfDone(chunk);
    }
  }

  /** Calls the handlers until the consumer closes; rejects with the first handler or fetch error. */
  async run(handlers: RunHandlers & StreamOptions): Promise<void> {
    if (handlers.eachRecord === undefined && handlers.eachBatch === undefined) {
      throw new RivuletError('INVALID_REQUEST', 'run() needs eachRecord or eachBatch');
    }
    for (;;) {
      const chunk = await this.nextChunk(handlers.stopAtEnd ?? false);
      if (chunk === undefined) return;
      const records = chunk.records.slice(chunk.next);
      chunk.next = chunk.records.length;
      if (handlers.eachBatch !== undefined) {
        await handlers.eachBatch({ topic: chunk.state.topic, partition: chunk.state.partition, records, highWatermark: chunk.highWatermark });
      }
      if (handlers.eachRecord !== undefined) {
        for (const record of records) {
          if (!this.isCurrent(chunk)) break;
          await handlers.eachRecord(record);
          chunk.state.position = record.offset + 1;
        }
      } else if (this.isCurrent(chunk)) {
        chunk.state.position = records.at(-1)!.offset + 1;
      }
      this.releaseIfDone(chunk);
    }
  }

  /** Stops fetching and ends iterators and run loops. */
  close(): Promise<void> {
    if (!this.closed) this.onClosed();
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.chunks = [];
    this.bufferedBytes = 0;
    this.changed.notify();
    return Promise.resolve();
  }

  private newState(tp: TopicPartitionRef): PartitionState {
    if (!Number.isInteger(tp.partition) || tp.partition < 0) throw new RivuletError('INVALID_REQUEST', `invalid partition ${tp.partition}`);
    return {
      topic: tp.topic,
      partition: tp.partition,
      position: undefined,
      fetchOffset: undefined,
      pendingReset: undefined,
      paused: false,
      epoch: 0,
      highWatermark: undefined,
      endCheckedAt: undefined,
      busy: false,
      attempts: 0,
      retryAtMs: 0,
      error: undefined,
    };
  }

  private stateOf(tp: TopicPartitionRef): PartitionState {
    const state = this.partitions.get(tpKey(tp.topic, tp.partition));
    if (state === undefined) throw new RivuletError('INVALID_REQUEST', `${tp.topic}-${tp.partition} is not assigned to this consumer`, tp);
    return state;
  }

  private hasUnread(chunk: BufferedChunk): boolean {
    return chunk.next < chunk.records.length || chunk.nextBatch < chunk.batches.length;
  }

  /** Decodes batches until the chunk has records to hand out; false when it has none left. */
  private async fill(chunk: BufferedChunk): Promise<boolean> {
    while (chunk.next >= chunk.records.length && chunk.nextBatch < chunk.batches.length) {
      const raw = chunk.batches[chunk.nextBatch++]!;
      let decoded;
      try {
        decoded = await decodeRecordBatch(raw);
      } catch (err) {
        const error = toRivuletError(err);
        throw new RivuletError(error.errorName === 'UNKNOWN' ? 'CORRUPT_MESSAGE' : error.errorName, `${chunk.state.topic}-${chunk.state.partition}: ${error.message}`, {
          topic: chunk.state.topic,
          partition: chunk.state.partition,
        });
      }
      chunk.records = recordsFromBatches(chunk.state.topic, chunk.state.partition, chunk.fetchOffset, [decoded]).records;
      chunk.next = 0;
    }
    return chunk.next < chunk.records.length;
  }

  private isCurrent(chunk: BufferedChunk): boolean {
    return !this.closed && chunk.epoch === chunk.state.epoch && this.partitions.get(tpKey(chunk.state.topic, chunk.state.partition)) === chunk.state;
  }

  /** Waits for the next chunk with records the application may see now; undefined when the iteration ends. */
  private async nextChunk(stopAtEnd: boolean): Promise<BufferedChunk | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      this.throwPartitionError();
      const chunk = this.chunks.find((c) => !c.state.paused && this.hasUnread(c) && this.isCurrent(c));
      if (chunk !== undefined) {
        if ((await this.fill(chunk)) && this.isCurrent(chunk)) return chunk;
        this.releaseIfDone(chunk);
        continue;
      }
      if (stopAtEnd && this.allAtEnd()) return undefined;
      this.schedulePump();
      await this.changed.wait();
    }
  }

  private throwPartitionError(): void {
    for (const state of this.partitions.values()) {
      if (state.error !== undefined && !state.paused) {
        const err = state.error;
        state.error = undefined;
        throw err;
      }
    }
  }

  private allAtEnd(): boolean {
    for (const state of this.partitions.values()) {
      if (state.paused) continue;
      if (state.position === undefined || state.highWatermark === undefined || state.endCheckedAt === undefined) return false;
      if (state.position < state.highWatermark) return false;
    }
    return true;
  }

  private releaseIfDone(chunk: BufferedChunk): void {
    const current = this.isCurrent(chunk);
    if (current && this.hasUnread(chunk)) return;
    const index = this.chunks.indexOf(chunk);
    if (index < 0) return;
    this.chunks.splice(index, 1);
    this.bufferedBytes -= chunk.sizeBytes;
    // Skipped offsets at the end (control batches, compacted gaps) still count as read.
    if (current && chunk.state.position !== undefined) chunk.state.position = Math.max(chunk.state.position, chunk.endOffset);
    this.schedulePump();
  }

  private dropStaleChunks(): void {
    const kept = this.chunks.filter((c) => this.isCurrent(c));
    for (const chunk of this.chunks) if (!kept.includes(chunk)) this.bufferedBytes -= chunk.sizeBytes;
    this.chunks = kept;
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Starts every offset lookup and fetch that may start now. */
  private pump(): void {
    if (this.closed) return;
    const nowMs = Date.now();
    const resets = new Map<number, PartitionState[]>();
    const fetches = new Map<number, PartitionState[]>();
    let leaderMissing = false;
    let earliestRetryMs = Number.POSITIVE_INFINITY;
    for (const state of this.partitions.values()) {
      if (state.busy || state.paused || state.error !== undefined) continue;
      if (state.retryAtMs > nowMs) {
        earliestRetryMs = Math.min(earliestRetryMs, state.retryAtMs);
        continue;
      }
      if (state.fetchOffset === undefined && state.pendingReset === undefined && !this.applyDefaultReset(state)) continue;
      const leader = this.cluster.leaderOf(state.topic, state.partition);
      if (leader === undefined) {
        leaderMissing = true;
        this.backOff(state);
        earliestRetryMs = Math.min(earliestRetryMs, state.retryAtMs);
        continue;
      }
      const target = state.pendingReset !== undefined ? resets : fetches;
      const list = target.get(leader) ?? [];
      list.push(state);
      target.set(leader, list);
    }
    if (leaderMissing) {
      this.cluster.refreshMetadata().catch((err: unknown) => this.logger.warn({ err }, 'metadata refresh for partition leaders failed'));
    }
    for (const [nodeId, states] of resets) this.startReset(nodeId, states);
    // The prefetch room is shared by every leader there is to fetch from now, so one leader's
    // fetch never reserves it all and starves the partitions other brokers lead.
    const idle = [...fetches].filter(([nodeId]) => !this.busyNodes.has(nodeId));
    let roomBytes = this.options.maxPrefetchBytes - this.bufferedBytes - this.reservedBytes;
    for (let i = 0; i < idle.length && roomBytes > 0; i++) {
      const [nodeId, states] = idle[i]!;
      const maxBytes = Math.min(this.options.fetchMaxBytes, Math.max(1, Math.floor(roomBytes / (idle.length - i))));
      this.startFetch(nodeId, states, maxBytes);
      roomBytes -= maxBytes;
    }
    if (Number.isFinite(earliestRetryMs)) this.scheduleRetry(earliestRetryMs - nowMs);
  }

  /** A partition without a position starts per autoOffsetReset; with 'none' that is an error the reader sees. */
  private applyDefaultReset(state: PartitionState): boolean {
    if (this.options.autoOffsetReset === 'none') {
      state.error = new RivuletError('OFFSET_OUT_OF_RANGE', `${state.topic}-${state.partition} has no position: seek() first or set autoOffsetReset`, {
        topic: state.topic,
        partition: state.partition,
      });
      this.changed.notify();
      return false;
    }
    state.pendingReset = this.options.autoOffsetReset;
    return true;
  }

  private scheduleRetry(delayMs: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.schedulePump(), Math.max(1, delayMs));
  }

  private backOff(state: PartitionState): void {
    state.attempts++;
    state.retryAtMs = Date.now() + backoffDelayMs(this.options.backoff, state.attempts);
  }

  private startReset(nodeId: number, states: PartitionState[]): void {
    const epochs = states.map((s) => s.epoch);
    for (const state of states) state.busy = true;
    this.listOffsets(nodeId, states)
      .then((results) => states.forEach((state, i) => this.applyReset(state, epochs[i]!, results.get(state))))
      .catch((err: unknown) => states.forEach((state, i) => this.applyFailure(state, epochs[i]!, toRivuletError(err))))
      .finally(() => {
        for (const state of states) state.busy = false;
        this.schedulePump();
      });
  }

  private async listOffsets(nodeId: number, states: readonly PartitionState[]): Promise<Map<PartitionState, clientApi.ListOffsetsPartitionResponse>> {
    const connection = this.cluster.connectionFor(nodeId);
    if (connection === undefined) throw new RivuletError('LEADER_NOT_AVAILABLE', `broker ${nodeId} left the metadata`, { nodeId });
    const byTopic = new Map<string, clientApi.ListOffsetsPartition[]>();
    for (const state of states) {
      const target = state.pendingReset!;
      const timestamp = target === 'earliest' ? LIST_OFFSETS_EARLIEST : target === 'latest' ? LIST_OFFSETS_LATEST : target.timestampMs;
      byTopic.set(state.topic, [...(byTopic.get(state.topic) ?? []), { partition: state.partition, timestamp }]);
    }
    const response = await connection.listOffsets({ topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) }, this.options.requestTimeoutMs);
    const results = new Map<PartitionState, clientApi.ListOffsetsPartitionResponse>();
    for (const topic of response.topics) {
      for (const p of topic.partitions) {
        const state = states.find((s) => s.topic === topic.name && s.partition === p.partition);
        if (state !== undefined) results.set(state, p);
      }
    }
    return results;
  }

  private applyReset(state: PartitionState, epoch: number, result: clientApi.ListOffsetsPartitionResponse | undefined): void {
    if (state.epoch !== epoch) return;
    if (result === undefined) {
      this.applyFailure(state, epoch, new RivuletError('UNKNOWN_SERVER_ERROR', 'ListOffsets left this partition out', state));
      return;
    }
    const error = resultError(result.errorCode, result.errorMessage, { topic: state.topic, partition: state.partition });
    if (error !== undefined) {
      this.applyFailure(state, epoch, error);
      return;
    }
    if (result.offset < 0) {
      // No record at or after the timestamp: like Kafka's offsetsForTimes, the position is the end.
      state.pendingReset = 'latest';
      return;
    }
    state.position = result.offset;
    state.fetchOffset = result.offset;
    state.pendingReset = undefined;
    state.attempts = 0;
  }

  /**
   * Fetches `states` from their leader, asking for at most `maxBytes` (the broker still returns
   * one whole batch when the first is larger, so a big record never stalls a partition).
   */
  private startFetch(nodeId: number, states: PartitionState[], maxBytes: number): void {
    this.busyNodes.add(nodeId);
    this.reservedBytes += maxBytes;
    const requested = states.map((state) => ({ state, epoch: state.epoch, fetchOffset: state.fetchOffset! }));
    for (const state of states) state.busy = true;
    this.fetch(nodeId, requested, maxBytes)
      .then((results) => this.applyFetch(requested, results))
      .catch((err: unknown) => {
        const error = toRivuletError(err);
        for (const r of requested) this.applyFailure(r.state, r.epoch, error);
      })
      .finally(() => {
        this.busyNodes.delete(nodeId);
        this.reservedBytes -= maxBytes;
        for (const state of states) state.busy = false;
        this.schedulePump();
      });
  }

  private async fetch(
    nodeId: number,
    requested: readonly { state: PartitionState; fetchOffset: number }[],
    maxBytes: number,
  ): Promise<Map<PartitionState, clientApi.FetchPartitionResponse>> {
    const connection = this.cluster.connectionFor(nodeId);
    if (connection === undefined) throw new RivuletError('LEADER_NOT_AVAILABLE', `broker ${nodeId} left the metadata`, { nodeId });
    const byTopic = new Map<string, clientApi.FetchPartition[]>();
    for (const { state, fetchOffset } of requested) {
      const leaderEpoch = this.cluster.topic(state.topic)?.partitions[state.partition]?.leaderEpoch ?? -1;
      const partitionMaxBytes = Math.min(this.options.maxPartitionFetchBytes, maxBytes);
      const partition = { partition: state.partition, fetchOffset, partitionMaxBytes, currentLeaderEpoch: leaderEpoch };
      byTopic.set(state.topic, [...(byTopic.get(state.topic) ?? []), partition]);
    }
    const request: clientApi.FetchRequest = {
      maxWaitMs: this.options.fetchMaxWaitMs,
      minBytes: this.options.fetchMinBytes,
      maxBytes,
      topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    };
    const response = await connection.fetch(request, this.options.fetchMaxWaitMs + this.options.requestTimeoutMs);
    const results = new Map<PartitionState, clientApi.FetchPartitionResponse>();
    for (const topic of response.topics) {
      for (const p of topic.partitions) {
        const match = requested.find((r) => r.state.topic === topic.name && r.state.partition === p.partition);
        if (match !== undefined) results.set(match.state, p);
      }
    }
    return results;
  }

  private applyFetch(
    requested: readonly { state: PartitionState; epoch: number; fetchOffset: number }[],
    results: Map<PartitionState, clientApi.FetchPartitionResponse>,
  ): void {
    for (const { state, epoch, fetchOffset } of requested) {
      const result = results.get(state);
      if (result === undefined || state.epoch !== epoch || this.closed) continue;
      const error = resultError(result.errorCode, result.errorMessage, { topic: state.topic, partition: state.partition, offset: fetchOffset });
      if (error !== undefined) {
        this.applyFailure(state, epoch, error);
        continue;
      }
      try {
        this.bufferRecords(state, epoch, fetchOffset, result);
      } catch (err) {
        this.applyFailure(state, epoch, toRivuletError(err));
      }
    }
  }

  private bufferRecords(state: PartitionState, epoch: number, fetchOffset: number, result: clientApi.FetchPartitionResponse): void {
    const { batches } = splitBatches(result.records);
    const last = batches.at(-1);
    const endOffset = last === undefined ? Math.max(fetchOffset, result.nextOffset) : lastOffsetOf(readBatchHeader(last)) + 1;
    state.highWatermark = result.highWatermark;
    state.attempts = 0;
    state.fetchOffset = endOffset;
    state.endCheckedAt = endOffset;
    if (batches.length === 0) {
      // Nothing to read, but the position may move past offsets the broker skipped.
      if (state.position !== undefined && this.chunks.every((c) => c.state !== state)) state.position = Math.max(state.position, endOffset);
      this.changed.notify();
      return;
    }
    const sizeBytes = batches.reduce((sum, b) => sum + b.length, 0);
    this.chunks.push({ state, epoch, batches, fetchOffset, endOffset, highWatermark: result.highWatermark, sizeBytes, nextBatch: 0, records: [], next: 0 });
    this.bufferedBytes += sizeBytes;
    this.changed.notify();
  }

  /** Handles a partition's fetch or lookup error: reset, retry after backoff, or hand it to the reader. */
  private applyFailure(state: PartitionState, epoch: number, error: RivuletError): void {
    if (state.epoch !== epoch || this.closed) return;
    if (error.errorName === 'OFFSET_OUT_OF_RANGE' && state.pendingReset === undefined) {
      if (this.options.autoOffsetReset === 'none') {
        state.error = error;
      } else {
        this.logger.info({ topic: state.topic, partition: state.partition, offset: state.fetchOffset, reset: this.options.autoOffsetReset }, 'offset out of range, resetting');
        this.seek(state, this.options.autoOffsetReset);
      }
      this.changed.notify();
      return;
    }
    if (error.retriable) {
      if (error.refreshMetadata) {
        this.cluster.refreshMetadata([state.topic]).catch((err: unknown) => this.logger.warn({ err }, 'metadata refresh after fetch error failed'));
      }
      this.logger.debug({ topic: state.topic, partition: state.partition, err: error }, 'fetch failed, retrying after backoff');
      this.backOff(state);
      return;
    }
    state.error = error;
    this.changed.notify();
  }
}

function toRivuletError(err: unknown): RivuletError {
  if (err instanceof RivuletError) return err;
  return new RivuletError('UNKNOWN_SERVER_ERROR', err instanceof Error ? err.message : String(err), {}, { cause: err });
}
