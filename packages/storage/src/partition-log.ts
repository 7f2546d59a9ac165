import { AssertionError, RivuletError, StorageError, assert, assertSafeUint } from '@rivulet/common';
import type { Clock, ErrorContext, Logger, TopicPartition } from '@rivulet/common';
import { decodeRecordBatch, filterRecordBatch, readBatchHeader, setBaseOffset, setPartitionLeaderEpoch, type BatchHeader } from '@rivulet/records';
import type { ClassicLevel } from 'classic-level';
import {
  NO_CLEANER_CHECKPOINT,
  NO_TOMBSTONE_MS,
  Prefix,
  batchSeqKey,
  batchSeqKeyOf,
  cleanerCheckpointKey,
  dataKey,
  dataSeekKey,
  decodeCleanerCheckpoint,
  decodeDataKey,
  decodeEpochKey,
  decodeState,
  decodeTimeIndexEntry,
  encodeCleanerCheckpoint,
  encodeUint64,
  encodeProducerEntry,
  encodeState,
  encodeTimeIndexValue,
  epochKey,
  partitionRangeEnd,
  partitionRangeStart,
  producerKey,
  readUint64,
  stateKey,
  timeIndexKey,
} from './keys.js';
import type { CleanerCheckpoint, DataKey, TimeIndexEntry } from './keys.js';
import { LeaderEpochCache } from './leader-epoch-cache.js';
import {
  DEFAULT_CLEANING_CHUNK_BATCHES_MAX,
  DEFAULT_CLEANING_CHUNK_BYTES_MAX,
  DEFAULT_OFFSET_MAP_BYTES_MAX,
  OffsetMap,
  checkCleaningDueOptions,
  checkCompactOptions,
  dirtyRatio,
  isRecordRetained,
  type CleaningDecision,
  type CleaningDueOptions,
  type CompactOptions,
  type CompactionResult,
  type RecordRetentionRule,
} from './log-cleaner.js';
import type { EpochCacheChange, EpochEntry } from './leader-epoch-cache.js';
import { TailCache } from './tail-cache.js';
import type { TailCacheBudget } from './tail-cache.js';
import {
  NO_PRODUCER_ID,
  ProducerStateTable,
  checkLeaderAppend,
  lastSequenceOf,
  validateProducerFields,
  type ProducerEntry,
  type ProducerStateChange,
} from './producer-state.js';
import type { BatchOp, LogOp, WriteParticipant, WritePipeline } from './write-pipeline.js';

export type LevelDb = ClassicLevel<Buffer, Buffer>;

/** Retention settings of one partition; -1 means unlimited (Kafka's retention.ms / retention.bytes). */
export interface PartitionLogConfig {
  retentionMs: number;
  retentionBytes: number;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  logAppendTimeMs: number;
  /** A retry of a batch the producer already wrote: these are its original offsets, and nothing was appended. */
  isDuplicate?: boolean;
}

export interface ReadResult {
  /** Whole batches, in offset order. */
  readonly batches: readonly Buffer[];
  /** The batches' total size. */
  readonly byteLength: number;
  /** The batches concatenated; joined on first use, so a reader that sends them on as they are copies them once. */
  readonly records: Buffer;
  readonly batchCount: number;
  /** The offset after the last returned batch (fromOffset when nothing was returned). */
  readonly nextOffset: number;
}

/** What PartitionLog needs from the LogStore that owns it. */
export interface LogStoreContext {
  /** The index database (keys.ts). */
  readonly db: LevelDb;
  /** The batch database: batch bytes by batch sequence. */
  readonly batchDb: LevelDb;
  /** The next store-wide batch sequence; call it while preparing the write that stores the batch. */
  allocateBatchSeq(): number;
  readonly pipeline: WritePipeline;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Writes one batch of operations outside group commit, with the store's flush policy. */
  writeBatch(ops: LogOp[]): Promise<void>;
  /** Throws if the store is closing or closed. */
  checkOpen(): void;
  /** Memory shared by the partitions' tail caches. */
  readonly tailCache: TailCacheBudget;
}

/** A follower append whose base offset is below the log-end offset; the fetcher must truncate or re-fetch. */
export class UnexpectedAppendOffsetError extends RivuletError {
  override readonly name = 'UnexpectedAppendOffsetError';
  constructor(
    readonly expectedOffset: number,
    readonly actualOffset: number,
    context: ErrorContext,
  ) {
    super('OFFSET_OUT_OF_RANGE', `follower append at offset ${actualOffset}, expected ${expectedOffset}`, { ...context, offset: actualOffset });
  }
}

interface PendingAppend {
  readonly batch: Buffer;
  /** The log end this append follows: its base offset, or less when a follower's batch skips offsets a compaction removed. */
  readonly previousEnd: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestampMs: number;
  readonly logAppendTimeMs: number;
  /** The truncation generation this append belongs to; re-tagged when a truncation keeps it. */
  generation: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: Error) => void;
}

interface PendingCheckpoint {
  readonly offset: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** One partition's share of a group-committed write batch. */
interface PartitionWork {
  readonly appends: PendingAppend[];
  readonly epochOps: BatchOp[];
  /** Producer entries changed by these appends (or by expiry), written with them. */
  readonly producerOps: BatchOp[];
  readonly checkpoints: PendingCheckpoint[];
}

/** Batches deleted per store write during truncation and deletion; bounds memory and pauses. */
const DELETE_CHUNK_BATCHES = 4096;
/** Batches a cleaning pass takes from a LevelDB iterator at once (each up to max.message.bytes). */
const CLEANING_READ_PAGE_BATCHES = 16;
/** Data keys a read takes from the index at once (keys only: 29 bytes each). */
const READ_KEYS_PAGE = 256;
/** Reads of a log changing under them, before a read gives up with a storage error. */
const READ_ATTEMPTS_MAX = 3;
/**
 * Idempotent producers remembered per partition; past it the least recently active one is
 * forgotten (it gets UNKNOWN_PRODUCER_ID and starts over). An entry is under 200 bytes on disk.
 */
export const PRODUCERS_PER_PARTITION_MAX = 10_000;

export interface LoadedPartitionState {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly sizeBytes: number;
  readonly highWatermarkCheckpoint: number;
  readonly epochs: EpochEntry[];
  readonly indexMaxTimestampMs: number;
  readonly firstBatchLastOffset: number | undefined;
  /** Idempotent-producer entries as of the last write; may describe batches a crash cut off (recover() rolls them back). */
  readonly producers: ProducerEntry[];
  readonly cleanerCheckpoint: CleanerCheckpoint;
}

/** What a cleaning pass has done so far. */
type CleaningCounts = { -readonly [K in Exclude<keyof CompactionResult, 'cleanedUpToOffset'>]: CompactionResult[K] };

/** One batch of a cleaning chunk and what the pass does with it. */
interface CleanedBatch {
  readonly key: Buffer;
  readonly lastOffset: number;
  readonly oldSizeBytes: number;
  /** undefined: unchanged; null: removed; a buffer: the rewritten batch. */
  readonly replacement: Buffer | null | undefined;
  readonly recordsRemoved: number;
}

/** A cleaning chunk ready to commit: consecutive batches, ending at `endOffset`. */
interface CleaningChunk {
  readonly batches: CleanedBatch[];
  /** The last batch's last offset + 1. */
  readonly endOffset: number;
}

/** What a cleaning pass needs to find unchanged when it commits a chunk. */
interface CleaningSnapshot {
  readonly generation: number;
  readonly restartGeneration: number;
  readonly logStartOffset: number;
}

/**
 * The log of one partition replica, stored as whole RecordBatch v2 byte strings in the
 * store's batch database, found through its data keys in the index database (see keys.ts for
 * the layout and log-store.ts for how the two are written). Offsets are assigned synchronously;
 * data becomes readable (logEndOffset advances) only when its group-committed write batch
 * has been applied by LevelDB. A failed write makes the replica unusable: every later call
 * rejects with the StorageError that caused it.
 */
export class PartitionLog implements WriteParticipant<PartitionWork> {
  readonly topicPartition: TopicPartition;
  private config: PartitionLogConfig;
  private readonly errorContext: ErrorContext;
  private readonly epochCache: LeaderEpochCache;
  /** Recently committed batches, so reads at the log end skip LevelDB. */
  private readonly tail: TailCache;
  private readonly producers: ProducerStateTable;
  /** Idempotent appends not yet committed, by base offset: a duplicate of one waits for it. */
  private readonly inflightIdempotent = new Map<number, Promise<AppendResult>>();

  /** Visible log start: reads below it fail. */
  private logStart: number;
  /**
   * The log start written to the state record. It moves with logStart, except during a
   * full truncation, where it changes only with the last deletion chunk so that a crash
   * midway leaves a prefix of the old log rather than a log starting at the new offset.
   */
  private durableLogStart: number;
  /** The offset after the last committed (readable) batch. */
  private committedEnd: number;
  /** The offset the next appended batch receives; leads committedEnd while writes are pending. */
  private nextOffset: number;
  /** Bytes of all batches in LevelDB for this partition, as of the last committed write. */
  private committedSizeBytes: number;
  private committedHighWatermark: number;
  /** Running maximum of batch max timestamps, as of the last write handed to LevelDB (-1: none). */
  private indexMaxTimestampMs: number;
  /** Bumped by every truncation; appends from an older generation never become readable. */
  private generation = 0;
  /** Bumped by every full truncation; a deletion that started before one stops. */
  private restartGeneration = 0;
  private failure: Error | undefined;
  private deleted = false;
  /** The cleaner checkpoint's offset: every key occurs at most once below it (0: never cleaned). */
  private cleanedUpTo: number;
  /** Bytes of the batches below cleanedUpTo. */
  private cleanSectionBytes: number;
  /** At or below the timestamp of every tombstone below cleanedUpTo (NO_TOMBSTONE_MS: none). */
  private earliestTombstoneMs: number;
  /** The cleaning pass running now (one at a time); resolves when it ends. */
  private cleaningRun: Promise<unknown> = Promise.resolve();
  private readonly createWork = (): PartitionWork => ({ appends: [], epochOps: [], producerOps: [], checkpoints: [] });

  constructor(
    private readonly ctx: LogStoreContext,
    readonly partitionId: number,
    topicPartition: TopicPartition,
    config: PartitionLogConfig,
    loaded: LoadedPartitionState,
  ) {
    this.topicPartition = { topic: topicPartition.topic, partition: topicPartition.partition };
    this.config = { ...config };
    this.errorContext = { topic: topicPartition.topic, partition: topicPartition.partition };
    this.logStart = loaded.logStartOffset;
    this.durableLogStart = loaded.logStartOffset;
    this.committedEnd = loaded.logEndOffset;
    this.nextOffset = loaded.logEndOffset;
    this.committedSizeBytes = loaded.sizeBytes;
    this.committedHighWatermark = loaded.highWatermarkCheckpoint;
    this.indexMaxTimestampMs = loaded.indexMaxTimestampMs;
    this.epochCache = new LeaderEpochCache(loaded.epochs);
    this.tail = new TailCache(ctx.tailCache);
    this.producers = new ProducerStateTable(PRODUCERS_PER_PARTITION_MAX, loaded.producers);
    this.cleanedUpTo = loaded.cleanerCheckpoint.cleanedUpToOffset;
    this.cleanSectionBytes = loaded.cleanerCheckpoint.cleanSectionBytes;
    this.earliestTombstoneMs = loaded.cleanerCheckpoint.earliestTombstoneMs;
    assert(this.cleanSectionBytes <= this.committedSizeBytes, `clean section of ${this.cleanSectionBytes} bytes in a log of ${this.committedSizeBytes}`);
  }

  /**
   * Reads a partition's persisted state with a handful of seeks; no scan of batch data. Its
   * producer entries come from the store, which reads every partition's in one scan.
   */
  static async loadState(db: LevelDb, pid: number, producers: ProducerEntry[]): Promise<LoadedPartitionState> {
    const stateValue = await db.get(stateKey(pid));
    assert(stateValue !== undefined, `partition ${pid} has no state record`);
    const state = decodeState(stateValue);
    const lastKeys = await db.keys({ gte: partitionRangeStart(Prefix.data, pid), lt: partitionRangeEnd(Prefix.data, pid), reverse: true, limit: 1 }).all();
    const firstKeys = await db.keys({ gte: partitionRangeStart(Prefix.data, pid), lt: partitionRangeEnd(Prefix.data, pid), limit: 1 }).all();
    const lastIndex = await db.keys({ gte: partitionRangeStart(Prefix.timeIndex, pid), lt: partitionRangeEnd(Prefix.timeIndex, pid), reverse: true, limit: 1 }).all();
    const epochEntries = await db.iterator({ gte: partitionRangeStart(Prefix.epoch, pid), lt: partitionRangeEnd(Prefix.epoch, pid) }).all();
    const cleanerValue = await db.get(cleanerCheckpointKey(pid));
    const lastBatch = lastKeys[0] === undefined ? undefined : decodeDataKey(lastKeys[0]);
    return {
      logStartOffset: state.logStartOffset,
      logEndOffset: Math.max(state.logStartOffset, lastBatch === undefined ? 0 : lastBatch.lastOffset + 1),
      sizeBytes: state.sizeBytes,
      highWatermarkCheckpoint: state.highWatermarkCheckpoint,
      epochs: epochEntries.map(([key, value]) => ({ leaderEpoch: decodeEpochKey(key), startOffset: readUint64(value, 0) })),
      indexMaxTimestampMs: lastIndex[0] === undefined ? -1 : readUint64(lastIndex[0], 5),
      firstBatchLastOffset: firstKeys[0] === undefined ? undefined : decodeDataKey(firstKeys[0]).lastOffset,
      producers,
      cleanerCheckpoint: cleanerValue === undefined ? NO_CLEANER_CHECKPOINT : decodeCleanerCheckpoint(cleanerValue),
    };
  }

  /**
   * Finishes what a crash may have interrupted: batches below a persisted log start (a
   * deletion that had advanced the log start but not yet removed every batch) and epoch
   * entries beyond the log end.
   */
  async recover(loaded: LoadedPartitionState): Promise<void> {
    this.recordEpochChange(this.epochCache.truncateFromEnd(this.committedEnd + 1));
    // Entries are written with their batches, so only a truncation cut short by a crash can
    // leave entries that describe batches beyond the log end.
    this.recordProducerChange(this.producers.truncateFrom(this.committedEnd));
    if (this.cleanedUpTo > this.committedEnd) {
      // A truncation into an offset gap ended the log below its cleaner checkpoint (reopening
      // puts the log end after the last batch). No batch lies between, so the clean bytes stand.
      this.cleanedUpTo = this.committedEnd;
      await this.ctx.pipeline.runExclusive(() => this.ctx.writeBatch([this.cleanerOp(this.cleanerCheckpoint())]));
    }
    if (loaded.firstBatchLastOffset !== undefined && loaded.firstBatchLastOffset < this.logStart) {
      const deleted = await this.deleteBatchesBelow(this.logStart);
      this.ctx.logger.info({ ...this.errorContext, deleted }, 'removed batches below the log start left by an interrupted deletion');
    }
  }

  logStartOffset(): number {
    return this.logStart;
  }

  logEndOffset(): number {
    return this.committedEnd;
  }

  sizeBytes(): number {
    return this.committedSizeBytes;
  }

  retentionConfig(): PartitionLogConfig {
    return { ...this.config };
  }

  updateConfig(config: PartitionLogConfig): void {
    this.config = { ...config };
  }

  /**
   * Appends one batch as leader. An idempotent batch is first checked against its producer's
   * state, appends still being written included, so up to five in-flight batches of one
   * producer are judged in order: a retry of a remembered batch resolves with its original
   * offsets (isDuplicate) once that batch is written, and nothing is appended; a sequence gap,
   * a fenced producer epoch or an unknown producer rejects and changes nothing.
   */
  appendAsLeader(batch: Buffer, leaderEpoch: number): Promise<AppendResult> {
    try {
      this.checkUsable();
      const header = readBatchHeader(batch);
      assert(header.sizeBytes === batch.length, 'appendAsLeader: buffer must hold exactly one batch');
      validateProducerFields(header, this.errorContext);
      if (header.producerId !== NO_PRODUCER_ID) {
        const check = checkLeaderAppend(this.producers.get(header.producerId), header, this.errorContext);
        if (check.kind === 'duplicate') {
          this.ctx.logger.debug({ ...this.errorContext, producerId: header.producerId, offset: check.batch.baseOffset }, 'duplicate idempotent batch answered with its original offset');
          return this.duplicateResult(check.batch.baseOffset, check.batch.lastOffset, check.batch.appendTimeMs);
        }
      }
      this.ctx.pipeline.checkCapacity(batch.length);
      const baseOffset = this.nextOffset;
      setBaseOffset(batch, 0, baseOffset);
      setPartitionLeaderEpoch(batch, 0, leaderEpoch);
      return this.enqueueAppend(batch, baseOffset, header, leaderEpoch);
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  /**
   * Appends the batches of one produce request together (consecutive offsets, one write
   * batch). An idempotent batch must travel alone, as Kafka requires of every Produce v3+
   * request, so that a refusal can never leave part of a request appended.
   */
  appendBatchesAsLeader(batches: readonly Buffer[], leaderEpoch: number): Promise<AppendResult[]> {
    try {
      if (batches.length > 1 && batches.some((b) => readBatchHeader(b).producerId !== NO_PRODUCER_ID)) {
        throw new RivuletError('INVALID_RECORD', `an idempotent produce must carry exactly one batch per partition, got ${batches.length}`, this.errorContext);
      }
      return Promise.all(batches.map((batch) => this.appendAsLeader(batch, leaderEpoch)));
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  /** The answer to a retried batch: its original offsets, once the original is written. */
  private duplicateResult(baseOffset: number, lastOffset: number, appendTimeMs: number): Promise<AppendResult> {
    if (lastOffset < this.committedEnd) return Promise.resolve({ baseOffset, lastOffset, logAppendTimeMs: appendTimeMs, isDuplicate: true });
    const original = this.inflightIdempotent.get(baseOffset);
    assert(original !== undefined, `a remembered batch at ${baseOffset} is neither committed (log end ${this.committedEnd}) nor being written`);
    return original.then((result) => ({ ...result, isDuplicate: true }));
  }

  /**
   * Appends a leader's batch with its own offsets and leader epoch. Its base offset may lie
   * above the log end, when the leader's compaction removed the batches in between: the log
   * end then jumps to its last offset + 1 and the skipped offsets stay a gap, as on the leader
   * (Kafka's follower does the same). A base offset below the log end is refused.
   */
  appendAsFollower(batch: Buffer): Promise<AppendResult> {
    try {
      this.checkUsable();
      const header = readBatchHeader(batch);
      assert(header.sizeBytes === batch.length, 'appendAsFollower: buffer must hold exactly one batch');
      if (header.baseOffset < this.nextOffset) {
        throw new UnexpectedAppendOffsetError(this.nextOffset, header.baseOffset, this.errorContext);
      }
      this.ctx.pipeline.checkCapacity(batch.length);
      return this.enqueueAppend(batch, header.baseOffset, header, header.partitionLeaderEpoch);
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  private enqueueAppend(batch: Buffer, baseOffset: number, header: BatchHeader, leaderEpoch: number): Promise<AppendResult> {
    const { lastOffsetDelta, maxTimestamp: maxTimestampMs } = header;
    assert(Number.isInteger(lastOffsetDelta) && lastOffsetDelta >= 0, 'batch lastOffsetDelta must be non-negative');
    const lastOffset = baseOffset + lastOffsetDelta;
    const previousEnd = this.nextOffset;
    assert(baseOffset >= previousEnd, `append at ${baseOffset} below the log end ${previousEnd}`);
    this.nextOffset = lastOffset + 1;
    // As Kafka does on every append, the first batch of a new epoch records where it starts.
    if (leaderEpoch >= 0) this.recordEpochChange(this.epochCache.assign(leaderEpoch, baseOffset));
    const work = this.ctx.pipeline.workFor(this, batch.length, this.createWork);
    const logAppendTimeMs = this.ctx.clock.wallClockMs();
    const generation = this.generation;
    const appended = new Promise<AppendResult>((resolve, reject) => {
      work.appends.push({ batch, previousEnd, baseOffset, lastOffset, maxTimestampMs, logAppendTimeMs, generation, resolve, reject });
    });
    // Leader and follower appends alike update the producer state, so any replica can lead.
    if (header.producerId !== NO_PRODUCER_ID && header.baseSequence >= 0 && header.producerEpoch >= 0) {
      const lastSequence = lastSequenceOf(header.baseSequence, lastOffsetDelta);
      const producerBatch = { producerEpoch: header.producerEpoch, firstSequence: header.baseSequence, lastSequence, baseOffset, lastOffset, appendTimeMs: logAppendTimeMs };
      this.recordProducerChange(this.producers.append(header.producerId, producerBatch));
      this.inflightIdempotent.set(baseOffset, appended);
      const forget = (): void => void this.inflightIdempotent.delete(baseOffset);
      appended.then(forget, forget);
    }
    return appended;
  }

  /** Records producer-entry changes in the open write batch, so they commit with the data that caused them. */
  private recordProducerChange(change: ProducerStateChange): void {
    if (change.removed.length === 0 && change.put.length === 0) return;
    const work = this.ctx.pipeline.workFor(this, 0, this.createWork);
    appendProducerOps(work.producerOps, this.partitionId, change);
  }

  /** What this replica knows of its idempotent producers (for tests and diagnostics). */
  producerEntries(): ProducerEntry[] {
    return this.producers.list();
  }

  /** Forgets producers idle for `expirationMs` (Kafka's producer.id.expiration.ms); persisted with the next write batch. */
  expireProducers(nowMs: number, expirationMs: number): number {
    this.checkUsable();
    const change = this.producers.expire(nowMs, expirationMs);
    this.recordProducerChange(change);
    return change.removed.length;
  }

  /** Records an epoch-cache change in the open write batch, so it commits with the data that caused it. */
  private recordEpochChange(change: EpochCacheChange): void {
    if (change.removed.length === 0 && change.put.length === 0) return;
    const work = this.ctx.pipeline.workFor(this, 0, this.createWork);
    appendEpochOps(work.epochOps, this.partitionId, change);
  }

  prepareWrite(work: PartitionWork, ops: LogOp[]): boolean {
    if (this.failure !== undefined || this.deleted) {
      this.failWrite(work, this.failure ?? this.deletedError());
      return false;
    }
    let addedBytes = 0;
    for (const append of work.appends) {
      this.pushBatchPut(ops, append.baseOffset, append.lastOffset, append.batch);
      addedBytes += append.batch.length;
      // Kafka's time index rule: an entry only where the running maximum timestamp grows.
      if (Number.isSafeInteger(append.maxTimestampMs) && append.maxTimestampMs > this.indexMaxTimestampMs) {
        this.indexMaxTimestampMs = append.maxTimestampMs;
        ops.push({
          type: 'put',
          key: timeIndexKey(this.partitionId, append.maxTimestampMs),
          value: encodeTimeIndexValue(append.baseOffset, append.lastOffset),
        });
      }
    }
    for (const op of work.epochOps) ops.push(op);
    for (const op of work.producerOps) ops.push(op);
    const lastCheckpoint = work.checkpoints[work.checkpoints.length - 1];
    ops.push(this.stateOp(this.committedSizeBytes + addedBytes, lastCheckpoint?.offset ?? this.committedHighWatermark));
    return true;
  }

  completeWrite(work: PartitionWork): void {
    for (const append of work.appends) {
      this.committedSizeBytes += append.batch.length;
      if (append.generation === this.generation) {
        assert(append.previousEnd === this.committedEnd, `commit out of order: batch at ${append.baseOffset} follows ${append.previousEnd}, log end ${this.committedEnd}`);
        this.committedEnd = append.lastOffset + 1;
        this.tail.add(append.baseOffset, append.lastOffset, append.batch);
        append.resolve({ baseOffset: append.baseOffset, lastOffset: append.lastOffset, logAppendTimeMs: append.logAppendTimeMs });
      } else {
        append.reject(new RivuletError('NOT_LEADER_OR_FOLLOWER', 'the log was truncated before this append committed', { ...this.errorContext, offset: append.baseOffset }));
      }
    }
    const lastCheckpoint = work.checkpoints[work.checkpoints.length - 1];
    if (lastCheckpoint !== undefined) this.committedHighWatermark = lastCheckpoint.offset;
    for (const checkpoint of work.checkpoints) checkpoint.resolve();
  }

  failWrite(work: PartitionWork, error: Error): void {
    const failure = this.fail(error, 'write batch failed');
    for (const append of work.appends) append.reject(failure);
    for (const checkpoint of work.checkpoints) checkpoint.reject(failure);
  }

  /**
   * Marks the replica failed (once) and returns the error every later call rejects with.
   * An AssertionError (a bug) passes through untouched: it is meant to crash the process.
   */
  private fail(error: Error, what: string): Error {
    if (error instanceof AssertionError) return error;
    if (this.failure !== undefined) return this.failure;
    if (this.deleted) return this.deletedError();
    this.failure = error instanceof RivuletError ? error : new StorageError(`${what}: ${error.message}`, this.errorContext, { cause: error });
    this.tail.clear();
    this.ctx.logger.error({ ...this.errorContext, err: error }, 'partition log failed; the replica is unusable until the broker reopens it');
    return this.failure;
  }

  /** Stores a batch's bytes under a new batch sequence and its data key naming that sequence. */
  private pushBatchPut(ops: LogOp[], baseOffset: number, lastOffset: number, batch: Buffer): void {
    const batchSeq = this.ctx.allocateBatchSeq();
    ops.push({ type: 'putBatch', key: batchSeqKey(batchSeq), value: batch });
    ops.push({ type: 'put', key: dataKey(this.partitionId, baseOffset, lastOffset, batch.length, batchSeq), value: EMPTY_VALUE });
  }

  private stateOp(sizeBytes: number, highWatermark: number): BatchOp {
    return {
      type: 'put',
      key: stateKey(this.partitionId),
      value: encodeState({ logStartOffset: this.durableLogStart, sizeBytes, highWatermarkCheckpoint: highWatermark }),
    };
  }

  async read(fromOffset: number, maxBytes: number, maxOffsetExclusive?: number): Promise<ReadResult> {
    this.checkUsable();
    assertSafeUint(fromOffset, 'read: fromOffset');
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new RivuletError('INVALID_FETCH_SIZE', `maxBytes must be a non-negative integer, got ${maxBytes}`, this.errorContext);
    }
    if (fromOffset < this.logStart || fromOffset > this.committedEnd) throw this.outOfRange(fromOffset);
    let upperExclusive = maxOffsetExclusive === undefined ? this.committedEnd : Math.min(this.committedEnd, maxOffsetExclusive);
    if (fromOffset >= upperExclusive) return readResult(fromOffset, [], 0, fromOffset);
    const cached = this.tail.read(fromOffset, upperExclusive, maxBytes);
    if (cached !== undefined) return readResult(fromOffset, cached.batches, cached.totalBytes, cached.nextOffset);
    return this.readAgainIfChanged((isRetry) => {
      if (isRetry) {
        // The log changed under the read (truncated, deleted or cleaned): read its new state.
        if (fromOffset < this.logStart || fromOffset > this.committedEnd) throw this.outOfRange(fromOffset);
        upperExclusive = Math.min(upperExclusive, this.committedEnd);
        if (fromOffset >= upperExclusive) return Promise.resolve(readResult(fromOffset, [], 0, fromOffset));
      }
      return this.readFromDatabase(fromOffset, maxBytes, upperExclusive);
    });
  }

  /**
   * Runs `read` again (after checking the log is still usable) while a batch it found in the
   * index is gone from the batch database, at most READ_ATTEMPTS_MAX times in all.
   */
  private async readAgainIfChanged<T>(read: (isRetry: boolean) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read(attempt > 1);
      } catch (error) {
        if (!(error instanceof LogChangedError) || attempt === READ_ATTEMPTS_MAX) throw this.wrapReadError(error);
      }
      this.checkUsable();
    }
  }

  private async readFromDatabase(fromOffset: number, maxBytes: number, upperExclusive: number): Promise<ReadResult> {
    // The upper bound excludes every batch whose last offset is >= upperExclusive; sizes are in the keys.
    const iterator = this.ctx.db.keys({ gte: dataSeekKey(this.partitionId, fromOffset), lt: dataSeekKey(this.partitionId, upperExclusive) });
    const keys: Buffer[] = [];
    let totalBytes = 0;
    let nextOffset = fromOffset;
    try {
      reading: while (true) {
        const page = await iterator.nextv(READ_KEYS_PAGE);
        if (page.length === 0) break;
        for (const key of page) {
          const { lastOffset, sizeBytes } = decodeDataKey(key);
          if (keys.length > 0 && totalBytes + sizeBytes > maxBytes) break reading;
          keys.push(key);
          totalBytes += sizeBytes;
          nextOffset = lastOffset + 1;
        }
      }
    } finally {
      await iterator.close();
    }
    const batches = await this.batchesOf(keys);
    return readResult(fromOffset, batches, totalBytes, nextOffset);
  }

  /**
   * The bytes of the batches the data keys name, from the batch database. The keys come from
   * an earlier read of the index, so a batch removed since (its bytes go one write after its
   * key) throws LogChangedError.
   */
  private async batchesOf(keys: readonly Buffer[]): Promise<Buffer[]> {
    if (keys.length === 0) return [];
    const values = await this.ctx.batchDb.getMany(keys.map(batchSeqKeyOf));
    for (const value of values) if (value === undefined) throw new LogChangedError(this.errorContext);
    return values as Buffer[];
  }

  /** The batches of [from, end) with their data keys, `pageBatches` at a time (`limitBatches` in all). */
  private async *batchPages(from: number, end: number, pageBatches: number, limitBatches = -1): AsyncGenerator<[Buffer, Buffer][]> {
    const iterator = this.ctx.db.keys({ gte: dataSeekKey(this.partitionId, from), lt: dataSeekKey(this.partitionId, end), limit: limitBatches });
    try {
      while (true) {
        const keys = await iterator.nextv(pageBatches);
        if (keys.length === 0) return;
        const batches = await this.batchesOf(keys);
        yield keys.map((key, i): [Buffer, Buffer] => [key, batches[i]!]);
      }
    } finally {
      await iterator.close();
    }
  }

  /**
   * Kafka ListOffsets by timestamp at batch granularity: the first batch (at or after the log
   * start) whose max timestamp is >= timestampMs, as its base offset (or the log start, if
   * that lies inside it) and its max timestamp; null if no batch qualifies.
   */
  async offsetForTimestamp(timestampMs: number): Promise<{ offset: number; timestampMs: number } | null> {
    this.checkUsable();
    const target = Math.max(0, Math.floor(timestampMs));
    let entry: TimeIndexEntry | undefined;
    try {
      const found = await this.ctx.db
        .iterator({ gte: timeIndexKey(this.partitionId, target), lt: partitionRangeEnd(Prefix.timeIndex, this.partitionId), limit: 1 })
        .all();
      entry = found[0] === undefined ? undefined : decodeTimeIndexEntry(found[0][0], found[0][1]);
    } catch (error) {
      throw this.wrapReadError(error);
    }
    // Every batch before the entry has a max timestamp below the target (the entry is where
    // the running maximum first reached it), so no entry means no batch qualifies.
    if (entry === undefined || entry.lastOffset >= this.committedEnd) return null;
    if (entry.lastOffset >= this.logStart) {
      // Compaction keeps a rewritten batch's max timestamp, but may have removed the entry's
      // batch altogether; then the answer is the first batch after it that reaches the target.
      if (entry.lastOffset < this.cleanedUpTo && !(await this.hasBatchEndingAt(entry.lastOffset))) return this.scanForTimestamp(target, Math.max(entry.baseOffset, this.logStart));
      return { offset: Math.max(entry.baseOffset, this.logStart), timestampMs: entry.timestampMs };
    }
    // The entry's batch was deleted; the batches after the log start that precede the next
    // entry are not indexed on their own, so scan their headers (this only happens for
    // targets at or below the maximum timestamp of deleted data).
    return this.scanForTimestamp(target, this.logStart);
  }

  private async hasBatchEndingAt(lastOffset: number): Promise<boolean> {
    try {
      const [key] = await this.ctx.db.keys({ gte: dataSeekKey(this.partitionId, lastOffset), lt: partitionRangeEnd(Prefix.data, this.partitionId), limit: 1 }).all();
      return key !== undefined && decodeDataKey(key).lastOffset === lastOffset;
    } catch (error) {
      throw this.wrapReadError(error);
    }
  }

  private scanForTimestamp(target: number, fromOffset: number): Promise<{ offset: number; timestampMs: number } | null> {
    return this.readAgainIfChanged(async () => {
      for await (const page of this.batchPages(Math.max(fromOffset, this.logStart), this.committedEnd, 64)) {
        for (const [, value] of page) {
          const header = readBatchHeader(value);
          if (header.maxTimestamp >= target) return { offset: Math.max(header.baseOffset, this.logStart), timestampMs: header.maxTimestamp };
        }
      }
      return null;
    });
  }

  /**
   * Removes every record at or after `offset`. The offset must be a batch boundary (callers
   * truncate to a leader's epoch end); at or below the log start the log is emptied and
   * restarts at `offset`, as Kafka's truncateFullyAndStartAt. Offsets take effect at once:
   * the next append gets `offset`, reads stop there; appends still pending at or beyond it
   * reject.
   */
  truncateTo(offset: number): Promise<void> {
    try {
      this.checkUsable();
      assertSafeUint(offset, 'truncateTo: offset');
      if (offset >= this.nextOffset) return Promise.resolve();
      if (offset <= this.logStart) return this.truncateFullyAndStartAt(offset);
      const pending = this.pendingAppends().filter((append) => append.generation === this.generation);
      for (const append of pending) {
        assert(append.baseOffset >= offset || append.lastOffset < offset, `truncateTo(${offset}) falls inside pending batch ${append.baseOffset}..${append.lastOffset}`);
      }
      this.generation++;
      // Pending appends wholly below the truncation point survive it.
      for (const append of pending) if (append.lastOffset < offset) append.generation = this.generation;
      this.nextOffset = offset;
      this.committedEnd = Math.min(this.committedEnd, offset);
      this.tail.clear();
      const epochChange = this.epochCache.truncateFromEnd(offset);
      const producerChange = this.producers.truncateFrom(offset);
      return this.ctx.pipeline.runExclusive(() => this.truncateTask(offset, epochChange, producerChange, undefined));
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  /** Empties the log and restarts it at `offset` (a follower whose leader's log starts beyond it). */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    try {
      this.checkUsable();
      assertSafeUint(offset, 'truncateFullyAndStartAt: offset');
      this.generation++;
      this.restartGeneration++;
      this.nextOffset = offset;
      this.committedEnd = offset;
      this.logStart = offset;
      this.tail.clear();
      const epochChange = this.epochCache.clear();
      // Kafka forgets every producer when it restarts a log; the leader's newer history is not here.
      const producerChange = this.producers.clear();
      return this.ctx.pipeline.runExclusive(() => this.truncateTask(0, epochChange, producerChange, offset));
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  /** Appends not yet committed; few (the write backlog is bounded), so truncation may look at each. */
  private pendingAppends(): PendingAppend[] {
    return this.ctx.pipeline.pendingWorkOf(this).flatMap((work) => work.appends);
  }

  /**
   * Deletes batches from the top down to `offset`, one atomic chunk at a time, so that a
   * crash leaves a prefix of the old log. Each chunk also removes the time-index entries
   * of its batches and writes the partition state; the final one removes the epoch entries
   * and rewrites the rolled-back producer entries (a crash before it is mended on reopening,
   * which rolls producer entries back to the log end it finds).
   */
  private async truncateTask(offset: number, epochChange: EpochCacheChange, producerChange: ProducerStateChange, restartAt: number | undefined): Promise<void> {
    if (this.deleted) return;
    const { db } = this.ctx;
    const pid = this.partitionId;
    try {
      if (restartAt === undefined) {
        const [first] = await db.keys({ gte: dataSeekKey(pid, offset), lt: partitionRangeEnd(Prefix.data, pid), limit: 1 }).all();
        if (first !== undefined) {
          const batch = decodeDataKey(first);
          assert(batch.baseOffset >= offset, `truncateTo(${offset}) falls inside batch ${batch.baseOffset}..${batch.lastOffset}`);
        }
      }
      while (true) {
        const keys = await db.keys({ gte: dataSeekKey(pid, offset), lt: partitionRangeEnd(Prefix.data, pid), reverse: true, limit: DELETE_CHUNK_BATCHES }).all();
        const ops: LogOp[] = [];
        let deletedBytes = 0;
        let deletedCleanBytes = 0;
        let lowestBaseOffset = Number.MAX_SAFE_INTEGER;
        for (const key of keys) {
          const batch = decodeDataKey(key);
          pushBatchDelete(ops, key);
          deletedBytes += batch.sizeBytes;
          if (batch.lastOffset < this.cleanedUpTo) deletedCleanBytes += batch.sizeBytes;
          lowestBaseOffset = Math.min(lowestBaseOffset, batch.baseOffset);
        }
        const isLast = keys.length < DELETE_CHUNK_BATCHES;
        // Index entries of the deleted batches are the newest ones (higher chunks went first);
        // the last chunk also removes entries at or past the truncation point whose batches
        // compaction had removed. A full restart removes every entry, including one kept for
        // deleted history.
        const indexFloor = !isLast ? lowestBaseOffset : restartAt !== undefined ? -1 : Math.min(lowestBaseOffset, offset);
        for (const key of await this.timeIndexKeysFrom(indexFloor)) ops.push({ type: 'del', key });
        if (isLast) {
          appendEpochOps(ops, pid, epochChange);
          appendProducerOps(ops, pid, producerChange);
          if (restartAt !== undefined) this.durableLogStart = restartAt;
        }
        // What is left lies below the deleted batches (and below the truncation point), so the
        // cleaner checkpoint comes down with them.
        const cleanedUpTo = Math.min(this.cleanedUpTo, lowestBaseOffset, isLast ? offset : Number.MAX_SAFE_INTEGER);
        const cleanSectionBytes = this.cleanSectionBytes - deletedCleanBytes;
        // Tombstones may have gone with the batches; the earliest stays a lower bound until the next pass.
        const earliestTombstoneMs = cleanSectionBytes === 0 ? NO_TOMBSTONE_MS : this.earliestTombstoneMs;
        if (cleanedUpTo !== this.cleanedUpTo || deletedCleanBytes > 0) ops.push(this.cleanerOp({ cleanedUpToOffset: cleanedUpTo, cleanSectionBytes, earliestTombstoneMs }));
        ops.push(this.stateOp(this.committedSizeBytes - deletedBytes, this.committedHighWatermark));
        await this.ctx.writeBatch(ops);
        this.committedSizeBytes -= deletedBytes;
        this.cleanedUpTo = cleanedUpTo;
        this.cleanSectionBytes = cleanSectionBytes;
        this.earliestTombstoneMs = earliestTombstoneMs;
        if (isLast) break;
      }
      const [lastIndexKey] = await db.keys({ gte: partitionRangeStart(Prefix.timeIndex, pid), lt: partitionRangeEnd(Prefix.timeIndex, pid), reverse: true, limit: 1 }).all();
      this.indexMaxTimestampMs = lastIndexKey === undefined ? -1 : readUint64(lastIndexKey, 5);
    } catch (error) {
      throw this.fail(asError(error), 'truncation failed');
    }
  }

  /**
   * Kafka DeleteRecords: advances the log start to `offset` (at most the log end) and deletes
   * the batches that lie wholly below it. Reads below the new start fail at once; the
   * returned promise resolves when the deletion is durable.
   */
  async deleteRecordsBefore(offset: number): Promise<number> {
    this.checkUsable();
    assertSafeUint(offset, 'deleteRecordsBefore: offset');
    if (offset > this.committedEnd) throw this.outOfRange(offset);
    if (offset > this.logStart) await this.advanceLogStart(offset);
    return this.logStart;
  }

  private async advanceLogStart(offset: number): Promise<number> {
    this.logStart = offset;
    this.durableLogStart = offset;
    this.recordEpochChange(this.epochCache.truncateFromStart(offset));
    // The state record carrying the new log start goes out with the next group commit,
    // before any batch is deleted; reopening after a crash finishes the deletion.
    this.ctx.pipeline.workFor(this, 0, this.createWork);
    return this.deleteBatchesBelow(offset);
  }

  /** Deletes, in atomic chunks that interleave with appends, every batch whose last offset is below `offset`. */
  private async deleteBatchesBelow(offset: number): Promise<number> {
    const generation = this.restartGeneration;
    let deleted = 0;
    while (true) {
      const chunk = await this.ctx.pipeline.runExclusive(() => this.deleteChunkBelow(offset, generation));
      deleted += chunk.deletedBatches;
      if (chunk.done) return deleted;
    }
  }

  private async deleteChunkBelow(offset: number, generation: number): Promise<{ deletedBatches: number; done: boolean }> {
    // A truncation since the deletion began may have restarted the log below `offset`.
    if (this.deleted || this.failure !== undefined || generation !== this.restartGeneration) return { deletedBatches: 0, done: true };
    const { db } = this.ctx;
    const pid = this.partitionId;
    try {
      const keys = await db.keys({ gte: partitionRangeStart(Prefix.data, pid), lt: dataSeekKey(pid, offset), limit: DELETE_CHUNK_BATCHES }).all();
      if (keys.length === 0) return { deletedBatches: 0, done: true };
      const ops: LogOp[] = [];
      let deletedBytes = 0;
      let deletedCleanBytes = 0;
      let highestLastOffset = -1;
      for (const key of keys) {
        const batch = decodeDataKey(key);
        pushBatchDelete(ops, key);
        deletedBytes += batch.sizeBytes;
        if (batch.lastOffset < this.cleanedUpTo) deletedCleanBytes += batch.sizeBytes;
        highestLastOffset = Math.max(highestLastOffset, batch.lastOffset);
      }
      if (deletedCleanBytes > 0) ops.push(this.cleanerOp({ ...this.cleanerCheckpoint(), cleanSectionBytes: this.cleanSectionBytes - deletedCleanBytes }));
      // Index entries of deleted batches go too, except the newest of them: offsetForTimestamp
      // needs it to know when the remaining, unindexed batches could still match.
      const indexEntries = await db
        .iterator({ gte: partitionRangeStart(Prefix.timeIndex, pid), lt: partitionRangeEnd(Prefix.timeIndex, pid), limit: DELETE_CHUNK_BATCHES + 2 })
        .all();
      const covered: Buffer[] = [];
      for (const [key, value] of indexEntries) {
        if (decodeTimeIndexEntry(key, value).lastOffset > highestLastOffset) break;
        covered.push(key);
      }
      for (const key of covered.slice(0, -1)) ops.push({ type: 'del', key });
      ops.push(this.stateOp(this.committedSizeBytes - deletedBytes, this.committedHighWatermark));
      await this.ctx.writeBatch(ops);
      this.committedSizeBytes -= deletedBytes;
      this.cleanSectionBytes -= deletedCleanBytes;
      return { deletedBatches: keys.length, done: keys.length < DELETE_CHUNK_BATCHES };
    } catch (error) {
      throw this.fail(asError(error), 'deletion failed');
    }
  }

  /**
   * Applies retention.ms (by batch max timestamp, as Kafka judges segments) and
   * retention.bytes (deleting oldest batches while at least retentionBytes would remain,
   * as Kafka does). The newest batch is always kept.
   */
  async applyRetention(nowMs: number): Promise<{ deletedBatches: number }> {
    this.checkUsable();
    let deletedBatches = 0;
    if (this.config.retentionMs >= 0) {
      const tail = await this.lastCommittedBatch();
      if (tail !== undefined) {
        const found = await this.offsetForTimestamp(nowMs - this.config.retentionMs);
        const target = Math.min(found === null ? this.committedEnd : found.offset, tail.baseOffset);
        if (target > this.logStart) deletedBatches += await this.advanceLogStart(target);
      }
    }
    if (this.config.retentionBytes >= 0 && this.committedSizeBytes > this.config.retentionBytes) {
      const target = await this.bytesRetentionTarget(this.config.retentionBytes);
      if (target > this.logStart) deletedBatches += await this.advanceLogStart(target);
    }
    return { deletedBatches };
  }

  private async bytesRetentionTarget(retentionBytes: number): Promise<number> {
    const tail = await this.lastCommittedBatch();
    if (tail === undefined) return this.logStart;
    let remainingBytes = this.committedSizeBytes;
    let target = this.logStart;
    let from = dataSeekKey(this.partitionId, this.logStart);
    const until = dataSeekKey(this.partitionId, tail.baseOffset);
    try {
      while (true) {
        const keys = await this.ctx.db.keys({ gte: from, lt: until, limit: DELETE_CHUNK_BATCHES }).all();
        for (const key of keys) {
          const batch = decodeDataKey(key);
          if (remainingBytes - batch.sizeBytes < retentionBytes) return target;
          remainingBytes -= batch.sizeBytes;
          target = batch.lastOffset + 1;
        }
        if (keys.length < DELETE_CHUNK_BATCHES) return target;
        from = dataSeekKey(this.partitionId, target);
      }
    } catch (error) {
      throw this.wrapReadError(error);
    }
  }

  private async lastCommittedBatch(): Promise<DataKey | undefined> {
    try {
      const [key] = await this.ctx.db
        .keys({ gte: partitionRangeStart(Prefix.data, this.partitionId), lt: dataSeekKey(this.partitionId, this.committedEnd), reverse: true, limit: 1 })
        .all();
      return key === undefined ? undefined : decodeDataKey(key);
    } catch (error) {
      throw this.wrapReadError(error);
    }
  }

  /** The time-index keys whose batches end at or after `floor`, newest first. */
  private async timeIndexKeysFrom(floor: number): Promise<Buffer[]> {
    const iterator = this.ctx.db.iterator({ gte: partitionRangeStart(Prefix.timeIndex, this.partitionId), lt: partitionRangeEnd(Prefix.timeIndex, this.partitionId), reverse: true });
    const keys: Buffer[] = [];
    try {
      while (true) {
        const entries = await iterator.nextv(256);
        for (const [key, value] of entries) {
          if (decodeTimeIndexEntry(key, value).lastOffset < floor) return keys;
          keys.push(key);
        }
        if (entries.length === 0) return keys;
      }
    } finally {
      await iterator.close();
    }
  }

  // ---- log compaction (see log-cleaner.ts) ----------------------------------------------

  /** The cleaner checkpoint: every key occurs at most once below its offset; its bytes are the clean section's. */
  cleanerCheckpoint(): CleanerCheckpoint {
    return { cleanedUpToOffset: this.cleanedUpTo, cleanSectionBytes: this.cleanSectionBytes, earliestTombstoneMs: this.earliestTombstoneMs };
  }

  /**
   * Whether a cleaning pass is worth running now: the cleanable share of dirty bytes reaches
   * min.cleanable.dirty.ratio, the first dirty batch is older than max.compaction.lag.ms, or a
   * tombstone in the clean section may have outlived delete.retention.ms (KIP-534: a log with
   * nothing new still loses its expired tombstones).
   */
  async cleaningDue(options: CleaningDueOptions): Promise<CleaningDecision> {
    this.checkUsable();
    checkCleaningDueOptions(options);
    const firstDirtyOffset = Math.max(this.cleanedUpTo, this.logStart);
    const cleanableEndOffset = await this.cleanableEnd(options);
    const ratio = dirtyRatio({
      sizeBytes: this.committedSizeBytes,
      cleanSectionBytes: this.cleanSectionBytes,
      firstDirtyOffset,
      cleanableEndOffset,
      logEndOffset: this.committedEnd,
    });
    const decision = (isDue: boolean, reason: CleaningDecision['reason']): CleaningDecision => ({ isDue, reason, dirtyRatio: ratio, firstDirtyOffset, cleanableEndOffset });
    if (cleanableEndOffset > firstDirtyOffset) {
      if (ratio >= options.minCleanableDirtyRatio && ratio > 0) return decision(true, 'dirty-ratio');
      // Kafka's rule: the first dirty batch's (max) timestamp says how long dirty data has waited.
      const first = await this.read(firstDirtyOffset, 1, cleanableEndOffset);
      if (first.batchCount > 0 && options.nowMs - readBatchHeader(first.records).maxTimestamp >= options.maxCompactionLagMs) return decision(true, 'max-compaction-lag');
    }
    if (this.earliestTombstoneMs !== NO_TOMBSTONE_MS && this.cleanedUpTo > this.logStart && options.nowMs - this.earliestTombstoneMs >= options.deleteRetentionMs) {
      return decision(true, 'tombstones-expired');
    }
    return decision(false, cleanableEndOffset > firstDirtyOffset ? 'not-dirty-enough' : 'nothing-cleanable');
  }

  /**
   * One cleaning pass (cleanup.policy=compact; the rules are in log-cleaner.ts) over the log
   * from its start to the end of the dirty data it could map, or over the clean section alone
   * when nothing is dirty (expired tombstones still go). Every record stays at its offset; a
   * batch that lost records is rewritten in place (same base offset and header fields, new
   * CRC, same codec); one left empty is removed, unless it is one of the batches the producer
   * state remembers for an idempotent producer: that one stays as an empty batch, so a follower
   * copying this log still learns the producer's epoch and sequence from it (Kafka keeps a
   * producer's last batch for the same reason).
   *
   * `cleanableEndOffset` must be at or below the high watermark: a record is removed because a
   * later one of its key exists, so that later one must never be truncated away.
   *
   * The pass writes in chunks, each one store write (the rewritten bytes first, then one atomic
   * index write) holding its batches, the partition state (size) and the cleaner checkpoint, run
   * between group commits: a crash between chunks
   * leaves a readable log, cleaned up to the last chunk's end. Reading and rewriting happen
   * outside the write pipeline; a chunk commits only if no truncation, deletion or log-start
   * move happened since the pass began, otherwise the pass stops there (isComplete false).
   * Passes on one partition run one at a time.
   */
  compact(options: CompactOptions): Promise<CompactionResult> {
    const run = this.cleaningRun.then(() => this.runCleaningPassUnlessChanged(options));
    this.cleaningRun = run.catch(() => undefined);
    return run;
  }

  /** A pass that finds a batch gone from under it (truncated or deleted meanwhile) stops, as one whose chunk finds the log changed does. */
  private async runCleaningPassUnlessChanged(options: CompactOptions): Promise<CompactionResult> {
    const result = { isComplete: true, batchesRewritten: 0, batchesRemoved: 0, recordsRemoved: 0, bytesFreed: 0 };
    try {
      return await this.runCleaningPass(options, result);
    } catch (error) {
      if (!(error instanceof LogChangedError)) throw error;
      return this.stoppedPass(result);
    }
  }

  /** Counts what it changed in `result` as it commits, so a pass that stops early still reports it. */
  private async runCleaningPass(options: CompactOptions, result: CleaningCounts): Promise<CompactionResult> {
    this.checkUsable();
    checkCompactOptions(options);
    const snapshot: CleaningSnapshot = { generation: this.generation, restartGeneration: this.restartGeneration, logStartOffset: this.logStart };
    const firstDirtyOffset = Math.max(this.cleanedUpTo, this.logStart);
    const cleanableEnd = await this.cleanableEnd(options);
    const offsetMap = new OffsetMap(options.offsetMapBytesMax ?? DEFAULT_OFFSET_MAP_BYTES_MAX);
    const mappedEnd = cleanableEnd > firstDirtyOffset ? await this.buildOffsetMap(offsetMap, firstDirtyOffset, cleanableEnd) : firstDirtyOffset;
    // Nothing dirty mapped: the clean section alone (firstDirtyOffset is then a batch boundary, or the log start).
    const cleanEnd = Math.max(mappedEnd, firstDirtyOffset);
    const rule: RecordRetentionRule = { offsetMap, firstDirtyOffset, nowMs: options.nowMs, deleteRetentionMs: options.deleteRetentionMs };
    const tombstones = { earliestMs: NO_TOMBSTONE_MS };
    let from = snapshot.logStartOffset;
    while (from < cleanEnd) {
      const chunk = await this.cleanChunk(from, cleanEnd, rule, tombstones, options);
      if (chunk === undefined) break;
      const isChanged = chunk.batches.some((b) => b.replacement !== undefined);
      // Until the pass has seen every batch, tombstones below the checkpoint it has not reached keep the old bound.
      const earliestTombstoneMs = Math.min(this.earliestTombstoneMs, tombstones.earliestMs);
      if (isChanged || chunk.endOffset > this.cleanedUpTo || earliestTombstoneMs !== this.earliestTombstoneMs) {
        if (!(await this.commitCleaning(chunk, earliestTombstoneMs, snapshot))) return this.stoppedPass(result);
      }
      for (const batch of chunk.batches) {
        if (batch.replacement === undefined) continue;
        if (batch.replacement === null) result.batchesRemoved++;
        else result.batchesRewritten++;
        result.recordsRemoved += batch.recordsRemoved;
        result.bytesFreed += batch.oldSizeBytes - (batch.replacement?.length ?? 0);
      }
      from = chunk.endOffset;
    }
    // Every batch below the checkpoint was seen: the tombstone bound becomes exact.
    if (from >= this.cleanedUpTo && tombstones.earliestMs !== this.earliestTombstoneMs) {
      if (!(await this.commitCleaning({ batches: [], endOffset: this.cleanedUpTo }, tombstones.earliestMs, snapshot))) return this.stoppedPass(result);
    }
    this.ctx.logger.debug({ ...this.errorContext, ...result, cleanedUpTo: this.cleanedUpTo }, 'cleaning pass done');
    return { ...result, cleanedUpToOffset: this.cleanedUpTo };
  }

  private stoppedPass(result: CleaningCounts): CompactionResult {
    this.ctx.logger.info({ ...this.errorContext, cleanedUpTo: this.cleanedUpTo }, 'cleaning pass stopped: the log was truncated, deleted or failed, or its start moved');
    return { ...result, cleanedUpToOffset: this.cleanedUpTo, isComplete: false };
  }

  private commitCleaning(chunk: CleaningChunk, earliestTombstoneMs: number, snapshot: CleaningSnapshot): Promise<boolean> {
    return this.ctx.pipeline.runExclusive(() => this.commitCleaningChunk(chunk, earliestTombstoneMs, snapshot));
  }

  /**
   * Where cleaning must stop: the caller's bound (the high watermark), the log end, the last
   * batch (never cleaned, so reopening finds the same log end) and the first batch newer than
   * min.compaction.lag.ms.
   */
  private async cleanableEnd(options: { cleanableEndOffset: number; nowMs: number; minCompactionLagMs: number }): Promise<number> {
    const last = await this.lastCommittedBatch();
    if (last === undefined) return 0;
    let end = Math.min(options.cleanableEndOffset, this.committedEnd, last.baseOffset);
    if (options.minCompactionLagMs > 0) {
      const recent = await this.offsetForTimestamp(options.nowMs - options.minCompactionLagMs + 1);
      if (recent !== null) end = Math.min(end, recent.offset);
    }
    return end;
  }

  /**
   * Fills `offsetMap` with the latest offset of every key in the batches of [from, end); stops
   * before the first batch whose keys would not fit (but takes the first batch whatever its
   * size, so a pass always progresses). Returns the offset after the last batch mapped.
   */
  private async buildOffsetMap(offsetMap: OffsetMap, from: number, end: number): Promise<number> {
    let mappedEnd = from;
    try {
      for await (const entries of this.batchPages(from, end, CLEANING_READ_PAGE_BATCHES)) {
        for (const [key, value] of entries) {
          const { lastOffset } = decodeDataKey(key);
          const decoded = await decodeRecordBatch(value);
          if (!decoded.header.isControl) {
            const keys = decoded.records.flatMap((record) => (record.key === null ? [] : [record]));
            const newKeys = keys.filter((record) => offsetMap.isNew(record.key!));
            const newKeyBytes = newKeys.reduce((sum, record) => sum + record.key!.length, 0);
            if (offsetMap.size > 0 && !offsetMap.fits(newKeys.length, newKeyBytes)) return mappedEnd;
            for (const record of keys) offsetMap.put(record.key!, record.offset);
          }
          mappedEnd = lastOffset + 1;
        }
      }
      return mappedEnd;
    } catch (error) {
      throw this.wrapReadError(error);
    }
  }

  /** Reads the next chunk of batches from `from` (below `end`) and works out what cleaning makes of each. */
  private async cleanChunk(from: number, end: number, rule: RecordRetentionRule, tombstones: { earliestMs: number }, options: CompactOptions): Promise<CleaningChunk | undefined> {
    const batchesMax = options.chunkBatchesMax ?? DEFAULT_CLEANING_CHUNK_BATCHES_MAX;
    const bytesMax = options.chunkBytesMax ?? DEFAULT_CLEANING_CHUNK_BYTES_MAX;
    const entries: [Buffer, Buffer][] = [];
    try {
      let readBytes = 0;
      reading: for await (const page of this.batchPages(from, end, CLEANING_READ_PAGE_BATCHES, batchesMax)) {
        for (const entry of page) {
          if (entries.length > 0 && readBytes + entry[1].length > bytesMax) break reading;
          readBytes += entry[1].length;
          entries.push(entry);
        }
      }
    } catch (error) {
      throw this.wrapReadError(error);
    }
    if (entries.length === 0) return undefined;
    const batches: CleanedBatch[] = [];
    for (const [key, value] of entries) {
      const { baseOffset, lastOffset, sizeBytes } = decodeDataKey(key);
      const header = readBatchHeader(value);
      assert(header.baseOffset === baseOffset && header.sizeBytes === sizeBytes, `batch at ${baseOffset} does not match its key`);
      if (header.isControl) {
        batches.push({ key, lastOffset, oldSizeBytes: sizeBytes, replacement: undefined, recordsRemoved: 0 });
        continue;
      }
      const filtered = await filterRecordBatch(value, (record) => {
        const isRetained = isRecordRetained(record, rule);
        if (isRetained && record.key !== null && record.value === null) tombstones.earliestMs = Math.min(tombstones.earliestMs, record.timestampMs);
        return isRetained;
      });
      let replacement: Buffer | null | undefined = filtered.removedRecords === 0 ? undefined : filtered.batch;
      if (filtered.keptRecords === 0 && !this.isRememberedProducerBatch(header.producerId, lastOffset)) replacement = null;
      batches.push({ key, lastOffset, oldSizeBytes: sizeBytes, replacement, recordsRemoved: filtered.removedRecords });
    }
    return { batches, endOffset: batches[batches.length - 1]!.lastOffset + 1 };
  }

  /** Whether the producer state remembers this batch (idempotent producers' last five batches). */
  private isRememberedProducerBatch(producerId: number, lastOffset: number): boolean {
    if (producerId === NO_PRODUCER_ID) return false;
    return this.producers.get(producerId)?.batches.some((b) => b.lastOffset === lastOffset) ?? false;
  }

  /**
   * Writes one cleaned chunk, its partition state and the cleaner checkpoint in one atomic
   * LevelDB batch; runs as an exclusive task, so it sees every earlier write and no later one.
   * Returns false, writing nothing, if the log changed under the pass.
   */
  private async commitCleaningChunk(chunk: CleaningChunk, earliestTombstoneMs: number, snapshot: CleaningSnapshot): Promise<boolean> {
    const isUnchanged =
      !this.deleted &&
      this.failure === undefined &&
      this.generation === snapshot.generation &&
      this.restartGeneration === snapshot.restartGeneration &&
      this.logStart === snapshot.logStartOffset;
    if (!isUnchanged) return false;
    const ops: LogOp[] = [];
    let sizeDeltaBytes = 0;
    let cleanSectionBytes = this.cleanSectionBytes;
    let highestChangedOffset = -1;
    for (const batch of chunk.batches) {
      const newSizeBytes = batch.replacement === undefined ? batch.oldSizeBytes : (batch.replacement?.length ?? 0);
      // Batches below the old checkpoint were clean already; the others become clean now.
      cleanSectionBytes += batch.lastOffset < this.cleanedUpTo ? newSizeBytes - batch.oldSizeBytes : newSizeBytes;
      if (batch.replacement === undefined) continue;
      pushBatchDelete(ops, batch.key);
      if (batch.replacement !== null) this.pushBatchPut(ops, decodeDataKey(batch.key).baseOffset, batch.lastOffset, batch.replacement);
      sizeDeltaBytes += newSizeBytes - batch.oldSizeBytes;
      highestChangedOffset = batch.lastOffset;
    }
    const cleanedUpTo = Math.max(this.cleanedUpTo, chunk.endOffset);
    ops.push(this.cleanerOp({ cleanedUpToOffset: cleanedUpTo, cleanSectionBytes, earliestTombstoneMs }));
    ops.push(this.stateOp(this.committedSizeBytes + sizeDeltaBytes, this.committedHighWatermark));
    try {
      await this.ctx.writeBatch(ops);
    } catch (error) {
      throw this.fail(asError(error), 'cleaning failed');
    }
    this.committedSizeBytes += sizeDeltaBytes;
    this.cleanedUpTo = cleanedUpTo;
    this.cleanSectionBytes = cleanSectionBytes;
    this.earliestTombstoneMs = earliestTombstoneMs;
    // Cached batches up to the last rewritten one may be stale; the tail above them is not.
    if (highestChangedOffset >= 0) this.tail.dropThrough(highestChangedOffset);
    return true;
  }

  private cleanerOp(checkpoint: CleanerCheckpoint): BatchOp {
    assert(checkpoint.cleanSectionBytes >= 0, `clean section bytes went negative: ${checkpoint.cleanSectionBytes}`);
    return { type: 'put', key: cleanerCheckpointKey(this.partitionId), value: encodeCleanerCheckpoint(checkpoint) };
  }

  /** The high watermark of the last completed checkpoint (0 before any). */
  highWatermarkCheckpoint(): number {
    return this.committedHighWatermark;
  }

  /** Persists the high watermark with the next group commit; resolves when it is durable. */
  checkpointHighWatermark(offset: number): Promise<void> {
    try {
      this.checkUsable();
      assertSafeUint(offset, 'checkpointHighWatermark: offset');
      const work = this.ctx.pipeline.workFor(this, 0, this.createWork);
      return new Promise<void>((resolve, reject) => {
        work.checkpoints.push({ offset, resolve, reject });
      });
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  leaderEpochEntries(): { leaderEpoch: number; startOffset: number }[] {
    return this.epochCache.list();
  }

  /** Records that `leaderEpoch` starts at `startOffset` (e.g. on becoming leader, at the log end); persisted with the next write batch. */
  assignLeaderEpochStart(leaderEpoch: number, startOffset: number): void {
    this.checkUsable();
    this.recordEpochChange(this.epochCache.assign(leaderEpoch, startOffset));
  }

  /** Kafka OffsetForLeaderEpoch (KIP-101/279); end offsets never exceed the committed log end. */
  endOffsetForLeaderEpoch(leaderEpoch: number): { leaderEpoch: number; endOffset: number } {
    this.checkUsable();
    const answer = this.epochCache.endOffsetFor(leaderEpoch, this.committedEnd);
    return answer.endOffset < 0 ? answer : { leaderEpoch: answer.leaderEpoch, endOffset: Math.min(answer.endOffset, this.committedEnd) };
  }

  /** Called by LogStore.deletePartition: every later call fails and pending writes are dropped. */
  markDeleted(): void {
    this.deleted = true;
    this.tail.clear();
  }

  private checkUsable(): void {
    this.ctx.checkOpen();
    if (this.deleted) throw this.deletedError();
    if (this.failure !== undefined) throw this.failure;
  }

  private deletedError(): RivuletError {
    return new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', 'the partition log was deleted', this.errorContext);
  }

  private outOfRange(offset: number): RivuletError {
    return new RivuletError(
      'OFFSET_OUT_OF_RANGE',
      `offset ${offset} is outside [${this.logStart}, ${this.committedEnd}]`,
      { ...this.errorContext, offset },
    );
  }

  private wrapReadError(error: unknown): Error {
    if (error instanceof RivuletError) return error;
    const cause = asError(error);
    return new StorageError(`read failed: ${cause.message}`, this.errorContext, { cause });
  }
}

function appendEpochOps(ops: LogOp[], pid: number, change: EpochCacheChange): void {
  for (const entry of change.removed) ops.push({ type: 'del', key: epochKey(pid, entry.leaderEpoch) });
  for (const entry of change.put) ops.push({ type: 'put', key: epochKey(pid, entry.leaderEpoch), value: encodeUint64(entry.startOffset) });
}

const EMPTY_RECORDS = Buffer.alloc(0);
const EMPTY_VALUE = Buffer.alloc(0);

/** Deletes a data key; its batch's bytes go from the batch database once this write has committed. */
function pushBatchDelete(ops: LogOp[], dataKeyBytes: Buffer): void {
  ops.push({ type: 'del', key: dataKeyBytes });
  ops.push({ type: 'dropBatch', key: batchSeqKeyOf(dataKeyBytes) });
}

/**
 * A batch named by a data key was gone from the batch database: the log was truncated,
 * deleted or cleaned since the key was read. Readers read again; a cleaning pass stops.
 */
class LogChangedError extends StorageError {
  constructor(context: ErrorContext) {
    super('the partition log changed during the read; read it again', context);
  }
}

/** A read's answer: its batches, or nothing at `fromOffset`. */
function readResult(fromOffset: number, batches: Buffer[], totalBytes: number, nextOffset: number): ReadResult {
  return batches.length === 0 ? new BatchesRead([], 0, fromOffset) : new BatchesRead(batches, totalBytes, nextOffset);
}

/** A ReadResult that joins its batches only when `records` is asked for, once. */
class BatchesRead implements ReadResult {
  private joined: Buffer | undefined;

  constructor(
    readonly batches: readonly Buffer[],
    readonly byteLength: number,
    readonly nextOffset: number,
  ) {}

  get batchCount(): number {
    return this.batches.length;
  }

  get records(): Buffer {
    if (this.joined === undefined) {
      const count = this.batches.length;
      this.joined = count === 0 ? EMPTY_RECORDS : count === 1 ? this.batches[0]! : Buffer.concat(this.batches, this.byteLength);
    }
    return this.joined;
  }
}

function appendProducerOps(ops: LogOp[], pid: number, change: ProducerStateChange): void {
  for (const producerId of change.removed) ops.push({ type: 'del', key: producerKey(pid, producerId) });
  for (const entry of change.put) ops.push({ type: 'put', key: producerKey(pid, entry.producerId), value: encodeProducerEntry(entry) });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

