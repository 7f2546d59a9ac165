import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RivuletError, StorageError, assert, noopLogger, systemClock, topicPartitionKey } from '@rivulet/common';
import type { Clock, Logger, TopicPartition } from '@rivulet/common';
import { ClassicLevel } from 'classic-level';
import {
  MAX_PARTITION_ID,
  PARTITION_PREFIXES,
  Prefix,
  decodeProducerEntry,
  decodeRegistryKey,
  deletingKey,
  encodeState,
  encodeUint32,
  metaKey,
  partitionRangeEnd,
  partitionRangeStart,
  prefixEnd,
  prefixStart,
  registryKey,
  stateKey,
} from './keys.js';
import { writeChained } from './chained-write.js';
import { PartitionLog } from './partition-log.js';
import type { ProducerEntry } from './producer-state.js';
import type { LevelDb, LogStoreContext, PartitionLogConfig } from './partition-log.js';
import { TailCacheBudget } from './tail-cache.js';
import type { TailCacheStats } from './tail-cache.js';
import { WritePipeline } from './write-pipeline.js';
import type { BatchOp, WritePipelineStats } from './write-pipeline.js';

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

/** Directory under dataDir holding the LevelDB database of every partition replica. */
export const LOG_STORE_DIRECTORY = 'partition-logs';
const FORMAT_VERSION = 1;
const DEFAULT_WRITE_BATCH_BYTES_MAX = 8 * 1024 * 1024;
const DEFAULT_PENDING_WRITE_BYTES_MAX = 64 * 1024 * 1024;
export const DEFAULT_TAIL_CACHE_BYTES = 64 * 1024 * 1024;

/** The log store's LevelDB settings (also what `scripts/bench/leveldb-layout.ts` measures with). */
export const LOG_STORE_LEVELDB_OPTIONS = {
  keyEncoding: 'buffer',
  valueEncoding: 'buffer',
  // Batches are written once and read mostly sequentially: a large memtable and large table
  // files mean fewer, bigger flushes and compactions.
  writeBufferSize: 64 * 1024 * 1024,
  maxFileSize: 32 * 1024 * 1024,
  blockSize: 64 * 1024,
  cacheSize: 32 * 1024 * 1024,
  compression: false,
} as const;

interface RegistryEntry {
  readonly topicPartition: TopicPartition;
  readonly partitionId: number;
}

/**
 * Every partition replica of one broker data directory, in one LevelDB database. Appends
 * from all partitions issued in one event-loop turn commit as one LevelDB write batch.
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

  private constructor(
    private readonly db: LevelDb,
    options: LogStoreOptions,
  ) {
    this.logger = (options.logger ?? noopLogger).child({ component: 'log-store' });
    const sync = options.flushPolicy === 'always';
    const writeOptions = { sync };
    const writeBatch = (ops: BatchOp[]): Promise<void> => writeChained(db, ops, writeOptions);
    this.pipeline = new WritePipeline({
      writeBatch,
      writeBatchBytesMax: options.writeBatchBytesMax ?? DEFAULT_WRITE_BATCH_BYTES_MAX,
      pendingWriteBytesMax: options.pendingWriteBytesMax ?? DEFAULT_PENDING_WRITE_BYTES_MAX,
    });
    this.context = {
      db,
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
    let db: LevelDb;
    try {
      await mkdir(location, { recursive: true });
      db = new ClassicLevel<Buffer, Buffer>(location, LOG_STORE_LEVELDB_OPTIONS);
      await db.open();
    } catch (error) {
      throw new StorageError(`cannot open the log store at ${location}`, {}, { cause: error });
    }
    const store = new LogStore(db, options);
    try {
      await store.load();
    } catch (error) {
      await db.close();
      throw error instanceof RivuletError ? error : new StorageError(`cannot load the log store at ${location}`, {}, { cause: error });
    }
    return store;
  }

  private async load(): Promise<void> {
    const version = await this.db.get(metaKey('formatVersion'));
    if (version === undefined) {
      await this.db.batch([{ type: 'put', key: metaKey('formatVersion'), value: encodeUint32(FORMAT_VERSION) }], { sync: true });
    } else if (version.readUInt32BE(0) !== FORMAT_VERSION) {
      throw new StorageError(`log store format version ${version.readUInt32BE(0)} is not supported (expected ${FORMAT_VERSION})`);
    }
    const next = await this.db.get(metaKey('nextPartitionId'));
    this.nextPartitionId = next === undefined ? 0 : next.readUInt32BE(0);
    for (const [key, value] of await this.db.iterator({ gte: prefixStart(Prefix.registry), lt: prefixEnd(Prefix.registry) }).all()) {
      const topicPartition = decodeRegistryKey(key);
      this.registry.set(topicPartitionKey(topicPartition), { topicPartition, partitionId: value.readUInt32BE(0) });
    }
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
    await this.db.close();
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
