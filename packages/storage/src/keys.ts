import { assert } from '@rivulet/common';
import type { TopicPartition } from '@rivulet/common';
import type { ProducerBatch, ProducerEntry } from './producer-state.js';

/*
 * Key layout of the log store's index database. Every key starts with a one-byte prefix
 * naming its kind; all integers are big-endian so that byte order is numeric order and
 * reads by offset or timestamp are range scans. `pid` is the compact numeric partition id
 * the registry assigns to each topic-partition (never reused, so a half-deleted partition
 * can never leak keys into a new one).
 *
 *   'M' name                                      store metadata (format version, next pid)
 *   'R' topic(utf8) 0x00 partition(u32)  -> pid(u32)            registry
 *   'X' pid                              -> ''                  partition deletion in progress
 *   'S' pid                              -> logStartOffset(u64) sizeBytes(u64) hwCheckpoint(u64)
 *   'E' pid epoch(u32)                   -> startOffset(u64)    leader-epoch cache
 *   'T' pid maxTimestampMs(u64)          -> baseOffset(u64) lastOffset(u64)   time index
 *   'D' pid lastOffset(u64) lastOffsetDelta(u32) sizeBytes(u32) batchSeq(u64) -> ''   a batch, stored under batchSeq
 *   'P' pid producerId(u64)              -> producer entry (see encodeProducerEntry)
 *   'C' pid                              -> cleanedUpToOffset(u64) cleanSectionBytes(u64) earliestTombstoneMs(u64)   log cleaner checkpoint
 *   'G' writeNumber(u64)                 -> batchSeq(u64)...    batches whose data keys are gone, to delete from the batch database
 *   'M' 'lastWrite'                      -> firstBatchSeq(u64) batchSeqEnd(u64)   the batches the last write stored
 *
 * The batch bytes themselves live in a second database, the batch database, under their
 * batch sequence alone: one store-wide counter, so every write appends at the end of its key
 * space and LevelDB only ever moves those tables down its levels instead of merging them
 * (see log-store.ts).
 *
 * Data keys are ordered by the LAST offset of their batch, so a seek to `'D' pid offset`
 * (a 13-byte key, which sorts before every 29-byte key sharing that prefix) lands on the
 * batch containing `offset`. The base offset, size and batch sequence are in the key too, so
 * truncation, retention and size accounting work on keys alone, without reading batch bytes.
 *
 * The cleaner checkpoint (absent: 0, 0) says how far log compaction has cleaned: every key
 * occurs at most once among the records below cleanedUpToOffset (always a batch boundary), and
 * cleanSectionBytes is the size of the batches below it. The bytes above it are the dirty ones
 * whose share decides whether a cleaning pass is worth its cost (min.cleanable.dirty.ratio).
 * earliestTombstoneMs is at or below the timestamp of every tombstone left below it
 * (2^53 - 1: none), so that a pass runs when one may expire even if nothing is dirty. Every
 * write that removes or rewrites batches below it (cleaning, truncation, deletion) writes it in
 * the same atomic batch, so it always matches the data.
 */

export const Prefix = {
  meta: 0x4d, // 'M'
  registry: 0x52, // 'R'
  deleting: 0x58, // 'X'
  state: 0x53, // 'S'
  epoch: 0x45, // 'E'
  timeIndex: 0x54, // 'T'
  data: 0x44, // 'D'
  producer: 0x50, // 'P'
  cleaner: 0x43, // 'C'
  garbage: 0x47, // 'G'
} as const;

/** Prefixes holding per-partition keys ('<prefix> pid ...'); deletePartition clears each. */
export const PARTITION_PREFIXES: readonly number[] = [Prefix.state, Prefix.epoch, Prefix.timeIndex, Prefix.data, Prefix.producer, Prefix.cleaner];

export const DATA_KEY_BYTES = 29;
export const BATCH_SEQ_KEY_BYTES = 8;
export const DATA_SEEK_KEY_BYTES = 13;
export const STATE_VALUE_BYTES = 24;
export const TIME_INDEX_VALUE_BYTES = 16;
export const CLEANER_CHECKPOINT_VALUE_BYTES = 24;
export const MAX_PARTITION_ID = 0xfffffffe;

const TWO_POW_32 = 0x1_0000_0000;

/** Writes a non-negative safe integer as 8 big-endian bytes without going through BigInt. */
export function writeUint64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_POW_32), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

export function readUint64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

function pidKey(prefix: number, pid: number, extraBytes: number): Buffer {
  const key = Buffer.allocUnsafe(5 + extraBytes);
  key[0] = prefix;
  key.writeUInt32BE(pid, 1);
  return key;
}

/** The first key of a partition's keys under `prefix` (inclusive bound). */
export function partitionRangeStart(prefix: number, pid: number): Buffer {
  return pidKey(prefix, pid, 0);
}

/** The key after all of a partition's keys under `prefix` (exclusive bound). */
export function partitionRangeEnd(prefix: number, pid: number): Buffer {
  assert(pid < MAX_PARTITION_ID + 1, 'partition id out of range');
  return pidKey(prefix, pid + 1, 0);
}

export interface DataKey {
  readonly lastOffset: number;
  readonly baseOffset: number;
  readonly sizeBytes: number;
  /** Where the batch's bytes are in the batch database. */
  readonly batchSeq: number;
}

export function dataKey(pid: number, baseOffset: number, lastOffset: number, sizeBytes: number, batchSeq: number): Buffer {
  const key = pidKey(Prefix.data, pid, 24);
  writeUint64(key, lastOffset, 5);
  key.writeUInt32BE(lastOffset - baseOffset, 13);
  key.writeUInt32BE(sizeBytes, 17);
  writeUint64(key, batchSeq, 21);
  return key;
}

/** The batch database's key of a batch: its batch sequence, big-endian. */
export function batchSeqKey(batchSeq: number): Buffer {
  return encodeUint64(batchSeq);
}

/** The batch-database key of the batch a data key names (a view into the data key, not a copy). */
export function batchSeqKeyOf(dataKeyBytes: Buffer): Buffer {
  assert(dataKeyBytes.length === DATA_KEY_BYTES && dataKeyBytes[0] === Prefix.data, 'not a data key');
  return dataKeyBytes.subarray(DATA_KEY_BYTES - BATCH_SEQ_KEY_BYTES);
}

/** The `'M' lastWrite` value: the batch sequences the last write stored, [first, end); end is the next sequence to hand out. */
export interface LastWrite {
  readonly firstBatchSeq: number;
  readonly batchSeqEnd: number;
}

export function encodeLastWrite(lastWrite: LastWrite): Buffer {
  const value = Buffer.allocUnsafe(16);
  writeUint64(value, lastWrite.firstBatchSeq, 0);
  writeUint64(value, lastWrite.batchSeqEnd, 8);
  return value;
}

export function decodeLastWrite(value: Buffer): LastWrite {
  assert(value.length === 16, 'lastWrite has the wrong length');
  return { firstBatchSeq: readUint64(value, 0), batchSeqEnd: readUint64(value, 8) };
}

/** A garbage record's value: the batch-database keys it lists, back to back. */
export function encodeGarbageRecord(batchSeqKeys: readonly Buffer[]): Buffer {
  return Buffer.concat(batchSeqKeys);
}

export function decodeGarbageRecord(value: Buffer): Buffer[] {
  assert(value.length % BATCH_SEQ_KEY_BYTES === 0, 'garbage record has the wrong length');
  const keys: Buffer[] = [];
  for (let at = 0; at < value.length; at += BATCH_SEQ_KEY_BYTES) keys.push(value.subarray(at, at + BATCH_SEQ_KEY_BYTES));
  return keys;
}

/** A garbage record's key: the number of the write that removed the batches it lists. */
export function garbageKey(writeNumber: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = Prefix.garbage;
  writeUint64(key, writeNumber, 1);
  return key;
}

/** A bound that sorts before the data key of every batch whose last offset is >= `offset`. */
export function dataSeekKey(pid: number, offset: number): Buffer {
  const key = pidKey(Prefix.data, pid, 8);
  writeUint64(key, offset, 5);
  return key;
}

export function decodeDataKey(key: Buffer): DataKey {
  assert(key.length === DATA_KEY_BYTES && key[0] === Prefix.data, 'not a data key');
  const lastOffset = readUint64(key, 5);
  return { lastOffset, baseOffset: lastOffset - key.readUInt32BE(13), sizeBytes: key.readUInt32BE(17), batchSeq: readUint64(key, 21) };
}

export function stateKey(pid: number): Buffer {
  return pidKey(Prefix.state, pid, 0);
}

export interface PartitionState {
  readonly logStartOffset: number;
  readonly sizeBytes: number;
  readonly highWatermarkCheckpoint: number;
}

export function encodeState(state: PartitionState): Buffer {
  const value = Buffer.allocUnsafe(STATE_VALUE_BYTES);
  writeUint64(value, state.logStartOffset, 0);
  writeUint64(value, state.sizeBytes, 8);
  writeUint64(value, state.highWatermarkCheckpoint, 16);
  return value;
}

export function decodeState(value: Buffer): PartitionState {
  assert(value.length === STATE_VALUE_BYTES, 'partition state has the wrong length');
  return { logStartOffset: readUint64(value, 0), sizeBytes: readUint64(value, 8), highWatermarkCheckpoint: readUint64(value, 16) };
}

export function cleanerCheckpointKey(pid: number): Buffer {
  return pidKey(Prefix.cleaner, pid, 0);
}

export interface CleanerCheckpoint {
  /** Every key occurs at most once below this offset (a batch boundary). */
  readonly cleanedUpToOffset: number;
  /** Bytes of the batches below cleanedUpToOffset. */
  readonly cleanSectionBytes: number;
  /** At or below the timestamp of every tombstone below cleanedUpToOffset; NO_TOMBSTONE_MS when there is none. */
  readonly earliestTombstoneMs: number;
}

export const NO_TOMBSTONE_MS = Number.MAX_SAFE_INTEGER;
export const NO_CLEANER_CHECKPOINT: CleanerCheckpoint = { cleanedUpToOffset: 0, cleanSectionBytes: 0, earliestTombstoneMs: NO_TOMBSTONE_MS };

export function encodeCleanerCheckpoint(checkpoint: CleanerCheckpoint): Buffer {
  const value = Buffer.allocUnsafe(CLEANER_CHECKPOINT_VALUE_BYTES);
  writeUint64(value, checkpoint.cleanedUpToOffset, 0);
  writeUint64(value, checkpoint.cleanSectionBytes, 8);
  writeUint64(value, checkpoint.earliestTombstoneMs, 16);
  return value;
}

export function decodeCleanerCheckpoint(value: Buffer): CleanerCheckpoint {
  assert(value.length === CLEANER_CHECKPOINT_VALUE_BYTES, 'cleaner checkpoint has the wrong length');
  return { cleanedUpToOffset: readUint64(value, 0), cleanSectionBytes: readUint64(value, 8), earliestTombstoneMs: readUint64(value, 16) };
}

export function epochKey(pid: number, leaderEpoch: number): Buffer {
  const key = pidKey(Prefix.epoch, pid, 4);
  key.writeUInt32BE(leaderEpoch, 5);
  return key;
}

export function decodeEpochKey(key: Buffer): number {
  return key.readUInt32BE(5);
}

export function encodeUint64(value: number): Buffer {
  const buf = Buffer.allocUnsafe(8);
  writeUint64(buf, value, 0);
  return buf;
}

export function timeIndexKey(pid: number, timestampMs: number): Buffer {
  const key = pidKey(Prefix.timeIndex, pid, 8);
  writeUint64(key, timestampMs, 5);
  return key;
}

export interface TimeIndexEntry {
  readonly timestampMs: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

export function encodeTimeIndexValue(baseOffset: number, lastOffset: number): Buffer {
  const value = Buffer.allocUnsafe(TIME_INDEX_VALUE_BYTES);
  writeUint64(value, baseOffset, 0);
  writeUint64(value, lastOffset, 8);
  return value;
}

export function decodeTimeIndexEntry(key: Buffer, value: Buffer): TimeIndexEntry {
  return { timestampMs: readUint64(key, 5), baseOffset: readUint64(value, 0), lastOffset: readUint64(value, 8) };
}

export function registryKey(tp: TopicPartition): Buffer {
  const topicBytes = Buffer.from(tp.topic, 'utf8');
  const key = Buffer.allocUnsafe(1 + topicBytes.length + 1 + 4);
  key[0] = Prefix.registry;
  topicBytes.copy(key, 1);
  key[1 + topicBytes.length] = 0;
  key.writeUInt32BE(tp.partition, 2 + topicBytes.length);
  return key;
}

export function decodeRegistryKey(key: Buffer): TopicPartition {
  const topic = key.toString('utf8', 1, key.length - 5);
  return { topic, partition: key.readUInt32BE(key.length - 4) };
}

export function deletingKey(pid: number): Buffer {
  return pidKey(Prefix.deleting, pid, 0);
}

export function metaKey(name: string): Buffer {
  return Buffer.concat([Buffer.of(Prefix.meta), Buffer.from(name, 'utf8')]);
}

export function encodeUint32(value: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf.writeUInt32BE(value, 0);
  return buf;
}

export function prefixStart(prefix: number): Buffer {
  return Buffer.of(prefix);
}

export function prefixEnd(prefix: number): Buffer {
  return Buffer.of(prefix + 1);
}

export function producerKey(pid: number, producerId: number): Buffer {
  assert(Number.isSafeInteger(producerId) && producerId >= 0, 'producerKey: producer id must be a non-negative safe integer');
  const key = pidKey(Prefix.producer, pid, 8);
  writeUint64(key, producerId, 5);
  return key;
}

const PRODUCER_ENTRY_HEADER_BYTES = 15;
const PRODUCER_BATCH_BYTES = 34;

/*
 * A producer entry, big-endian:
 *   producerEpoch(i16) lastSequence(i32) lastAppendTimeMs(u64) batchCount(u8)
 *   then per batch: producerEpoch(i16) firstSequence(i32) lastSequence(i32)
 *                   baseOffset(u64) lastOffset(u64) appendTimeMs(u64)
 */
export function encodeProducerEntry(entry: ProducerEntry): Buffer {
  assert(entry.batches.length <= 255, 'encodeProducerEntry: too many batches');
  const value = Buffer.allocUnsafe(PRODUCER_ENTRY_HEADER_BYTES + PRODUCER_BATCH_BYTES * entry.batches.length);
  value.writeInt16BE(entry.producerEpoch, 0);
  value.writeInt32BE(entry.lastSequence, 2);
  writeUint64(value, Math.max(0, entry.lastAppendTimeMs), 6);
  value.writeUInt8(entry.batches.length, 14);
  entry.batches.forEach((b, i) => {
    const at = PRODUCER_ENTRY_HEADER_BYTES + i * PRODUCER_BATCH_BYTES;
    value.writeInt16BE(b.producerEpoch, at);
    value.writeInt32BE(b.firstSequence, at + 2);
    value.writeInt32BE(b.lastSequence, at + 6);
    writeUint64(value, b.baseOffset, at + 10);
    writeUint64(value, b.lastOffset, at + 18);
    writeUint64(value, Math.max(0, b.appendTimeMs), at + 26);
  });
  return value;
}

export function decodeProducerEntry(key: Buffer, value: Buffer): ProducerEntry {
  assert(key.length === 13 && key[0] === Prefix.producer, 'not a producer key');
  assert(value.length >= PRODUCER_ENTRY_HEADER_BYTES, 'producer entry too short');
  const count = value.readUInt8(14);
  assert(value.length === PRODUCER_ENTRY_HEADER_BYTES + count * PRODUCER_BATCH_BYTES, 'producer entry has the wrong length');
  const batches: ProducerBatch[] = [];
  for (let i = 0; i < count; i++) {
    const at = PRODUCER_ENTRY_HEADER_BYTES + i * PRODUCER_BATCH_BYTES;
    batches.push({
      producerEpoch: value.readInt16BE(at),
      firstSequence: value.readInt32BE(at + 2),
      lastSequence: value.readInt32BE(at + 6),
      baseOffset: readUint64(value, at + 10),
      lastOffset: readUint64(value, at + 18),
      appendTimeMs: readUint64(value, at + 26),
    });
  }
  return { producerId: readUint64(key, 5), producerEpoch: value.readInt16BE(0), lastSequence: value.readInt32BE(2), lastAppendTimeMs: readUint64(value, 6), batches };
}
