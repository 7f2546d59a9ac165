import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RivuletError, StorageError, assert, noopLogger, systemClock, topicPartitionKey } from '@rivulet/common';
import type { Clock, Logger, TopicPartition } from '@rivulet/common';
import { ClassicLevel } from 'classic-level';
import {
  MAX_PARTITION_ID,
  PARTITION_PREFIXES,
  Prefix,
  batchSeqKey,
  batchSeqKeyOf,
  decodeDataKey,
  decodeGarbageRecord,
  decodeLastWrite,
  decodeProducerEntry,
  decodeRegistryKey,
  decodeState,
  decodeTimeIndexEntry,
  deletingKey,
  encodeGarbageRecord,
  encodeLastWrite,
  encodeState,
  encodeUint32,
  garbageKey,
  metaKey,
  readUint64,
  partitionRangeEnd,
  partitionRangeStart,
  prefixEnd,
  prefixStart,
  registryKey,
  stateKey,
} from './keys.js';
import { writeChained, writeChainedInOrder } from './chained-write.js';
import { PartitionLog } from './partition-log.js';
import type { ProducerEntry } from './producer-state.js';
import type { LevelDb, LogStoreContext, PartitionLogConfig } from './partition-log.js';
import { TailCacheBudget } from './tail-cache.js';
import type { TailCacheStats } from './tail-cache.js';
import { WritePipeline } from './write-pipeline.js';
import type { BatchOp, LogOp, WritePipelineStats } from './write-pipeline.js';

/** 'always': every LevelDB write batch with sync:true (fsync); 'os': let the OS flush (Kafka's default). */
export type FlushPolicy = 'always' | 'os';

export interface LogStoreOptions {
  dataDir: string;
  flushPolicy: FlushPolicy;
  logger?: Logger;
  clock?: Clock;
  /** Upper bound of one group-commit write batch; a larger turn is split into several, in order. Default 8 MiB. */
  writeBatchBytesMax?: number;
  /** Bound on appended bytes not yet written; beyond it appends reject with a retriable error. Default 64 MiB. */
  pendingWriteBytesMax?: number;
  /** Memory for recently committed batches of all partitions, read without LevelDB (0: none). Default 64 MiB. */
  tailCacheBytes?: number;
}

/** Directory under dataDir holding the index database of every partition replica (keys.ts). */
export const LOG_STORE_DIRECTORY = 'partition-logs';
/** Directory under dataDir holding the batch database: every replica's batch bytes, by batch sequence. */
export const BATCH_STORE_DIRECTORY = 'partition-batches';
/** 1: batch bytes in the index database, under their data keys; 2: in the batch database. */
const FORMAT_VERSION = 2;
/** The batch sequences the last write stored, [first, end): every sequence the index names is below end. */
const LAST_WRITE_KEY = metaKey('lastWrite');
/** Batches removed per LevelDB write when a partition is deleted or a store reopens. */
const CLEAR_CHUNK_BATCHES = 4096;
const DEFAULT_WRITE_BATCH_BYTES_MAX = 8 * 1024 * 1024;
const DEFAULT_PENDING_WRITE_BYTES_MAX = 64 * 1024 * 1024;
export const DEFAULT_TAIL_CACHE_BYTES = 64 * 1024 * 1024;

/** The batch database's LevelDB settings (also what `scripts/bench/leveldb-layout.ts` measures with). */
export const LOG_STORE_LEVELDB_OPTIONS = {
  keyEncoding: 'buffer',
  valueEncoding: 'buffer',
  // Batches are written once and read mostly sequentially: a large memtable and large table
  // files mean fewer, bigger flushes.
  writeBufferSize: 64 * 1024 * 1024,
  maxFileSize: 32 * 1024 * 1024,
  blockSize: 64 * 1024,
  cacheSize: 32 * 1024 * 1024,
  compression: false,
} as const;

/** The index database's settings: small keys and values, some rewritten with every write ('S'). */
export const LOG_INDEX_LEVELDB_OPTIONS = {
  keyEncoding: 'buffer',
  valueEncoding: 'buffer',
  writeBufferSize: 16 * 1024 * 1024,
  cacheSize: 16 * 1024 * 1024,
} as const;

/** Batches whose bytes are still to delete, and the garbage record in the index naming them (none: known in memory only). */
interface GarbageRecord {
  readonly key: Buffer | undefined;
  readonly batchSeqKeys: readonly Buffer[];
}

interface RegistryEntry {
  readonly topicPartition: TopicPartition;
  readonly partitionId: number;
}

/**
 * Every partition replica of one broker data directory, in two LevelDB databases. Appends
 * from all partitions issued in one event-loop turn commit as one write.
 *
 * The batch database holds batch bytes under one store-wide, ever-growing batch sequence, so
 * each write appends at the end of its key space: a flushed memtable overlaps no table, and
 * LevelDB moves tables down its levels without rewriting them. Keyed by partition and offset,
 * every flush overlapped every table below it and LevelDB rewrote each byte about three more
 * times. The index database holds everything else (keys.ts), each data key naming its
 * batch's sequence.
 *
 * Every write applies the batch bytes first, then the index, in one thread-pool task
 * (writeChainedInOrder): one hop to a worker thread per store write, and a rewritten batch's
 * bytes land before its key replaces the old one. What can still be left between the two:
 *  - bytes no index names (a kill between the two writes): all at or above the end of the
 *    `lastWrite` the index committed, which opening deletes;
 *  - index entries naming bytes never written (without fsync, the operating system may
 *    persist the index's log before the batch database's, and lose the rest in a power cut;
 *    stores written before the writes were ordered could also hold them): the index records
 *    each write's batch sequences (`lastWrite`), and opening, finding the last one's bytes
 *    missing, removes the data keys of those batches, which were never acknowledged, from the
 *    end of their partitions, with their time-index entries and size (the partitions' own
 *    recovery rolls back epochs, producer entries and the cleaner checkpoint, as after an
 *    interrupted truncation).
 * A write that deletes data keys (truncation, deletion, cleaning) records the deleted keys'
 * sequences in a garbage record ('G'). A later write deletes those bytes, and the one after it
 * the record, so a crash leaves at most garbage records, which opening finishes.
 */
export class LogStore {
  private readonly registry = new Map<string, RegistryEntry>();
  private readonly partitions = new Map<string, Promise<PartitionLog>>();
  private readonly pipeline: WritePipeline;
  private readonly context: LogStoreContext;
  private readonly logger: Logger;
  private nextPartitionId = 0;
  private closing = false;
  /**
   * Idempotent-producer entries read at open, by partition id, until each partition is opened.
   * One scan of them all costs far less than one seek per partition (most have none).
   */
  private readonly storedProducers = new Map<number, ProducerEntry[]>();

  /** The next batch sequence to hand out; every write records it in the index (the end of `lastWrite`). */
  private nextBatchSeq = 0;
  /** Garbage records committed, their batches not yet deleted from the batch database. */
  private garbage: GarbageRecord[] = [];
  /** Garbage records whose batches a completed write deleted; the next write deletes the records. */
  private collected: GarbageRecord[] = [];
  private nextGarbageNumber = 0;
  private isGarbageCollectionScheduled = false;
  private readonly writeOptions: { readonly sync: boolean };

  private constructor(
    private readonly db: LevelDb,
    private readonly batchDb: LevelDb,
    private readonly location: string,
    options: LogStoreOptions,
  ) {
    this.logger = (options.logger ?? noopLogger).child({ component: 'log-store' });
    this.writeOptions = { sync: options.flushPolicy === 'always' };
    const writeBatch = (ops: LogOp[]): Promise<void> => this.write(ops);
    this.pipeline = new WritePipeline({
      writeBatch,
      writeBatchBytesMax: options.writeBatchBytesMax ?? DEFAULT_WRITE_BATCH_BYTES_MAX,
      pendingWriteBytesMax: options.pendingWriteBytesMax ?? DEFAULT_PENDING_WRITE_BYTES_MAX,
    });
    this.context = {
      db,
      batchDb,
      allocateBatchSeq: () => this.nextBatchSeq++,
      pipeline: this.pipeline,
      clock: options.clock ?? systemClock,
      logger: this.logger,
      writeBatch,
      tailCache: new TailCacheBudget(options.tailCacheBytes ?? DEFAULT_TAIL_CACHE_BYTES),
      checkOpen: () => {
        if (this.closing) throw new StorageError('the log store is closed');
      },
    };
  }

  static async open(options: LogStoreOptions): Promise<LogStore> {
    assert(options.flushPolicy === 'always' || options.flushPolicy === 'os', `unknown flush policy ${String(options.flushPolicy)}`);
    const location = join(options.dataDir, LOG_STORE_DIRECTORY);
    const db = await openLevelDb(location, LOG_INDEX_LEVELDB_OPTIONS);
    let batchDb: LevelDb;
    try {
      batchDb = await openLevelDb(join(options.dataDir, BATCH_STORE_DIRECTORY), LOG_STORE_LEVELDB_OPTIONS);
    } catch (error) {
      await db.close();
      throw error;
    }
    const store = new LogStore(db, batchDb, location, options);
    try {
      await store.load();
    } catch (error) {
      await Promise.allSettled([db.close(), batchDb.close()]);
      throw error instanceof RivuletError ? error : new StorageError(`cannot load the log store at ${location}`, {}, { cause: error });
    }
    return store;
  }

  private async load(): Promise<void> {
    const version = await this.db.get(metaKey('formatVersion'));
    if (version === undefined) {
      await this.db.batch([{ type: 'put', key: metaKey('formatVersion'), value: encodeUint32(FORMAT_VERSION) }], { sync: true });
    } else if (version.readUInt32BE(0) !== FORMAT_VERSION) {
      const found = version.readUInt32BE(0);
      const advice =
        found < FORMAT_VERSION
          ? `; it was written by an older Rivulet. Move ${this.location} aside (only it: the rest of the data directory stays): the broker then copies its replicas from their leaders again`
          : '; it was written by a newer Rivulet';
      throw new StorageError(`log store format version ${found} is not supported (this build reads ${FORMAT_VERSION})${advice}`);
    }
    const next = await this.db.get(metaKey('nextPartitionId'));
    this.nextPartitionId = next === undefined ? 0 : next.readUInt32BE(0);
    for (const [key, value] of await this.db.iterator({ gte: prefixStart(Prefix.registry), lt: prefixEnd(Prefix.registry) }).all()) {
      const topicPartition = decodeRegistryKey(key);
      this.registry.set(topicPartitionKey(topicPartition), { topicPartition, partitionId: value.readUInt32BE(0) });
    }
    await this.recoverBatchDatabase();
    for (const [key, value] of await this.db.iterator({ gte: prefixStart(Prefix.producer), lt: prefixEnd(Prefix.producer) }).all()) {
      const pid = key.readUInt32BE(1);
      const entries = this.storedProducers.get(pid) ?? [];
      entries.push(decodeProducerEntry(key, value));
      this.storedProducers.set(pid, entries);
    }
    // Finish deletions a crash interrupted.
    for (const key of await this.db.keys({ gte: prefixStart(Prefix.deleting), lt: prefixEnd(Prefix.deleting) }).all()) {
      await this.clearPartitionKeys(key.readUInt32BE(1));
    }
    this.logger.info({ partitions: this.registry.size }, 'log store opened');
  }

  /** The replicas present on disk. */
  listPartitions(): TopicPartition[] {
    return [...this.registry.values()].map((entry) => ({ ...entry.topicPartition }));
  }

  /** Opens a partition's log, creating it if missing. Idempotent; a later call updates the retention config. */
  openPartition(tp: TopicPartition, config: PartitionLogConfig): Promise<PartitionLog> {
    try {
      this.context.checkOpen();
      validateTopicPartition(tp);
      validateConfig(config);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const key = topicPartitionKey(tp);
    const existing = this.partitions.get(key);
    if (existing !== undefined) {
      return existing.then((log) => {
        log.updateConfig(config);
        return log;
      });
    }
    const opening = this.loadPartition(tp, config);
    this.partitions.set(key, opening);
    // A failed open must not stay cached, so the broker can retry it.
    opening.catch(() => {
      if (this.partitions.get(key) === opening) this.partitions.delete(key);
    });
    return opening;
  }

  private async loadPartition(tp: TopicPartition, config: PartitionLogConfig): Promise<PartitionLog> {
    const key = topicPartitionKey(tp);
    let entry = this.registry.get(key);
    if (entry === undefined) {
      assert(this.nextPartitionId <= MAX_PARTITION_ID, 'partition ids exhausted');
      // Allocated synchronously so that concurrent creations never share an id; ids are
      // never reused, so keys left by an interrupted deletion cannot leak into a new partition.
      const partitionId = this.nextPartitionId++;
      entry = { topicPartition: { topic: tp.topic, partition: tp.partition }, partitionId };
      this.registry.set(key, entry);
      const ops: BatchOp[] = [
        { type: 'put', key: metaKey('nextPartitionId'), value: encodeUint32(this.nextPartitionId) },
        { type: 'put', key: registryKey(tp), value: encodeUint32(partitionId) },
        { type: 'put', key: stateKey(partitionId), value: encodeState({ logStartOffset: 0, sizeBytes: 0, highWatermarkCheckpoint: 0 }) },
      ];
      try {
        await this.pipeline.runExclusive(() => this.context.writeBatch(ops));
      } catch (error) {
        this.registry.delete(key);
        throw new StorageError('cannot create the partition log', { topic: tp.topic, partition: tp.partition }, { cause: error });
      }
    }
    try {
      const loaded = await PartitionLog.loadState(this.db, entry.partitionId, this.storedProducers.get(entry.partitionId) ?? []);
      const log = new PartitionLog(this.context, entry.partitionId, entry.topicPartition, config, loaded);
      await log.recover(loaded);
      // From here on the log owns its producer state.
      this.storedProducers.delete(entry.partitionId);
      return log;
    } catch (error) {
      if (error instanceof RivuletError) throw error;
      throw new StorageError('cannot load the partition log', { topic: tp.topic, partition: tp.partition }, { cause: error });
    }
  }

  /**
   * Removes a partition replica and all its keys. Pending appends reject with
   * UNKNOWN_TOPIC_OR_PARTITION. The registry entry goes first, atomically with a marker that
   * makes a reopened store finish the range deletes if a crash interrupts them.
   */
  async deletePartition(tp: TopicPartition): Promise<void> {
    this.context.checkOpen();
    const key = topicPartitionKey(tp);
    const entry = this.registry.get(key);
    if (entry === undefined) return;
    const opening = this.partitions.get(key);
    this.registry.delete(key);
    this.partitions.delete(key);
    if (opening !== undefined) {
      const log = await opening.catch(() => undefined);
      log?.markDeleted();
    }
    const pid = entry.partitionId;
    try {
      await this.pipeline.runExclusive(() =>
        this.context.writeBatch([
          { type: 'del', key: registryKey(tp) },
          { type: 'put', key: deletingKey(pid), value: Buffer.alloc(0) },
        ]),
      );
      // Outside the pipeline: nothing writes this partition's keys any more, so the range
      // deletes need not hold up other partitions' appends.
      await this.clearPartitionKeys(pid);
    } catch (error) {
      throw new StorageError('cannot delete the partition log', { topic: tp.topic, partition: tp.partition }, { cause: error });
    }
  }

  private async clearPartitionKeys(pid: number): Promise<void> {
    this.storedProducers.delete(pid);
    // The batches first, then the data keys naming them: a crash between leaves keys of a
    // partition still marked as being deleted, whose batches the next open deletes again.
    while (true) {
      const keys = await this.db.keys({ gte: partitionRangeStart(Prefix.data, pid), lt: partitionRangeEnd(Prefix.data, pid), limit: CLEAR_CHUNK_BATCHES }).all();
      if (keys.length === 0) break;
      await this.writeBytesThenIndex(
        keys.map((key): BatchOp => ({ type: 'del', key: batchSeqKeyOf(key) })),
        keys.map((key): BatchOp => ({ type: 'del', key })),
      );
    }
    for (const prefix of PARTITION_PREFIXES) {
      await this.db.clear({ gte: partitionRangeStart(prefix, pid), lt: partitionRangeEnd(prefix, pid) });
    }
    await this.db.del(deletingKey(pid));
  }

  /** Bytes appended but not yet written to LevelDB (the group-commit backlog). */
  pendingWriteBytes(): number {
    return this.pipeline.pendingWriteBytes();
  }

  /** Counters for tests and metrics. */
  stats(): Readonly<WritePipelineStats & TailCacheStats> {
    return { ...this.pipeline.stats, ...this.context.tailCache.stats };
  }

  /** Waits for every pending write, then closes the database; later calls fail with StorageError. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.pipeline.whenIdle();
    await Promise.allSettled(this.partitions.values());
    await this.pipeline.whenIdle();
    await Promise.all([this.db.close(), this.batchDb.close()]);
  }

  /**
   * One write of the store, on both databases: the batch database gets the new batches and
   * deletes the bytes of garbage records committed earlier; the index database gets the index
   * operations, this write's garbage record, the deletion of records whose bytes an earlier
   * write deleted, and `lastWrite`. See the class comment for the order.
   */
  private async write(ops: readonly LogOp[]): Promise<void> {
    const batchOps: BatchOp[] = [];
    const indexOps: BatchOp[] = [];
    const dropped: Buffer[] = [];
    for (const op of ops) {
      if (op.type === 'putBatch') batchOps.push({ type: 'put', key: op.key, value: op.value });
      else if (op.type === 'dropBatch') dropped.push(op.key);
      else indexOps.push(op);
    }
    const firstBatchSeq = batchOps.length === 0 ? this.nextBatchSeq : readUint64(batchOps[0]!.key, 0);
    const toCollect = this.garbage;
    const toForget = this.collected;
    this.garbage = [];
    this.collected = [];
    for (const record of toCollect) for (const key of record.batchSeqKeys) batchOps.push({ type: 'del', key });
    for (const record of toForget) if (record.key !== undefined) indexOps.push({ type: 'del', key: record.key });
    let record: GarbageRecord | undefined;
    if (dropped.length > 0) {
      const key = garbageKey(this.nextGarbageNumber++);
      record = { key, batchSeqKeys: dropped };
      indexOps.push({ type: 'put', key, value: encodeGarbageRecord(dropped) });
    }
    indexOps.push({ type: 'put', key: LAST_WRITE_KEY, value: encodeLastWrite({ firstBatchSeq, batchSeqEnd: this.nextBatchSeq }) });
    try {
      await this.writeBytesThenIndex(batchOps, indexOps);
    } catch (error) {
      // Whatever half landed, deleting those bytes and records again later is harmless; so is
      // deleting this write's new batches, which may have landed with no index naming them.
      const stored = batchOps.filter((op) => op.type === 'put').map((op) => op.key);
      this.garbage = [...toCollect, ...this.garbage, ...(stored.length > 0 ? [{ key: undefined, batchSeqKeys: stored }] : [])];
      this.collected = [...toForget, ...this.collected];
      throw error;
    }
    this.collected.push(...toCollect);
    if (record !== undefined) this.garbage.push(record);
    if (this.garbage.length > 0 || this.collected.length > 0) this.scheduleGarbageCollection();
  }

  /** The batch database's operations, then the index's once those are applied (see the class comment). */
  private writeBytesThenIndex(batchOps: BatchOp[], indexOps: BatchOp[]): Promise<void> {
    return writeChainedInOrder({ db: this.batchDb, ops: batchOps }, { db: this.db, ops: indexOps }, this.writeOptions);
  }

  /** Deletes the bytes of removed batches soon, with a write of its own if no other write comes first. */
  private scheduleGarbageCollection(): void {
    if (this.isGarbageCollectionScheduled) return;
    this.isGarbageCollectionScheduled = true;
    void this.pipeline
      .runExclusive(() => {
        this.isGarbageCollectionScheduled = false;
        return this.garbage.length === 0 && this.collected.length === 0 ? Promise.resolve() : this.write([]);
      })
      .catch((error: unknown) => this.logger.error({ err: error }, 'deleting the bytes of removed batches failed; the next write or open retries'));
  }

  /**
   * Finishes what a crash left in the batch database: batches at or above the batch sequence
   * the index last committed (written, never indexed) and those of garbage records.
   */
  private async recoverBatchDatabase(): Promise<void> {
    const stored = await this.db.get(LAST_WRITE_KEY);
    const { firstBatchSeq, batchSeqEnd } = stored === undefined ? { firstBatchSeq: 0, batchSeqEnd: 0 } : decodeLastWrite(stored);
    this.nextBatchSeq = batchSeqEnd;
    await this.batchDb.clear({ gte: batchSeqKey(batchSeqEnd) });
    // A batch write is atomic, so any of its batches present means it landed (a partition
    // deleted since may have taken its own share of them, never every other partition's).
    if (firstBatchSeq < batchSeqEnd) {
      const [present] = await this.batchDb.keys({ gte: batchSeqKey(firstBatchSeq), lt: batchSeqKey(batchSeqEnd), limit: 1 }).all();
      if (present === undefined) await this.removeTornBatches(firstBatchSeq, batchSeqEnd);
    }
    let records = 0;
    let batches = 0;
    while (true) {
      const page = await this.db.iterator({ gte: prefixStart(Prefix.garbage), lt: prefixEnd(Prefix.garbage), limit: 64 }).all();
      if (page.length === 0) break;
      const deletes = page.flatMap(([, value]) => decodeGarbageRecord(value).map((key): BatchOp => ({ type: 'del', key })));
      await this.writeBytesThenIndex(deletes, page.map(([key]): BatchOp => ({ type: 'del', key })));
      records += page.length;
      batches += deletes.length;
    }
    if (records > 0) this.logger.info({ records, batches }, 'deleted the bytes of batches removed before the last stop');
  }

  /**
   * The last write's index landed and its batch bytes did not (a kill between the two): its
   * batches were never acknowledged. Removes, from the end of every partition, the data keys
   * naming them, their time-index entries, and their bytes from each partition's size, in one
   * atomic write; opening each partition then rolls its epochs, producer entries and cleaner
   * checkpoint back to its new log end.
   */
  private async removeTornBatches(firstBatchSeq: number, batchSeqEnd: number): Promise<void> {
    const ops: BatchOp[] = [];
    let removed = 0;
    for (const { partitionId: pid } of this.registry.values()) {
      const keys: Buffer[] = [];
      for await (const key of this.db.keys({ gte: partitionRangeStart(Prefix.data, pid), lt: partitionRangeEnd(Prefix.data, pid), reverse: true })) {
        if (decodeDataKey(key).batchSeq < firstBatchSeq) break;
        keys.push(key);
      }
      if (keys.length === 0) continue;
      const batches = keys.map(decodeDataKey);
      assert(batches.every((b) => b.batchSeq < batchSeqEnd), `partition ${pid} names a batch at or beyond the committed batch sequence ${batchSeqEnd}`);
      // Read from the end backwards: the last one is the lowest.
      const lowestBaseOffset = batches[batches.length - 1]!.baseOffset;
      for (const key of keys) ops.push({ type: 'del', key });
      for await (const [key, value] of this.db.iterator({ gte: partitionRangeStart(Prefix.timeIndex, pid), lt: partitionRangeEnd(Prefix.timeIndex, pid), reverse: true })) {
        if (decodeTimeIndexEntry(key, value).lastOffset < lowestBaseOffset) break;
        ops.push({ type: 'del', key });
      }
      const stateValue = await this.db.get(stateKey(pid));
      assert(stateValue !== undefined, `partition ${pid} has no state record`);
      const state = decodeState(stateValue);
      const removedBytes = batches.reduce((sum, b) => sum + b.sizeBytes, 0);
      assert(removedBytes <= state.sizeBytes, `partition ${pid}: removing ${removedBytes} bytes from a log of ${state.sizeBytes}`);
      ops.push({
        type: 'put',
        key: stateKey(pid),
        value: encodeState({ ...state, sizeBytes: state.sizeBytes - removedBytes, highWatermarkCheckpoint: Math.min(state.highWatermarkCheckpoint, lowestBaseOffset) }),
      });
      removed += keys.length;
    }
    ops.push({ type: 'put', key: LAST_WRITE_KEY, value: encodeLastWrite({ firstBatchSeq: batchSeqEnd, batchSeqEnd }) });
    await writeChained(this.db, ops, { sync: true });
    this.logger.warn({ batches: removed, firstBatchSeq, batchSeqEnd }, 'removed batches whose bytes a crash kept from being written; they were never acknowledged');
  }
}

async function openLevelDb(location: string, options: typeof LOG_INDEX_LEVELDB_OPTIONS | typeof LOG_STORE_LEVELDB_OPTIONS): Promise<LevelDb> {
  try {
    await mkdir(location, { recursive: true });
    const db = new ClassicLevel<Buffer, Buffer>(location, options);
    await db.open();
    return db;
  } catch (error) {
    throw new StorageError(`cannot open the log store database at ${location}`, {}, { cause: error });
  }
}

function validateTopicPartition(tp: TopicPartition): void {
  if (typeof tp.topic !== 'string' || tp.topic.length === 0 || tp.topic.includes('\u0000')) {
    throw new RivuletError('INVALID_TOPIC_EXCEPTION', `invalid topic name ${JSON.stringify(tp.topic)}`);
  }
  if (!Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition > 0x7fffffff) {
    throw new RivuletError('INVALID_PARTITIONS', `invalid partition ${tp.partition}`, { topic: tp.topic });
  }
}

function validateConfig(config: PartitionLogConfig): void {
  for (const [name, value] of Object.entries(config)) {
    if (!Number.isSafeInteger(value) || value < -1) {
      throw new RivuletError('INVALID_CONFIG', `${name} must be -1 (unlimited) or a non-negative integer, got ${String(value)}`);
    }
  }
}
