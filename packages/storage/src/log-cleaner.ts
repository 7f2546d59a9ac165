import { assert } from '@rivulet/common';
import type { DecodedRecord } from '@rivulet/records';

/*
 * Log compaction (Kafka's log cleaner, cleanup.policy=compact): the rules of a cleaning pass,
 * without I/O. PartitionLog.compact runs the pass, because every step of it has to hold the
 * log's own invariants (its truncation generations, group-commit pipeline, size and cleaner
 * accounting, tail cache, producer state); a separate module driving the log from outside
 * would need all of that exposed. What does not need the log lives here.
 *
 * A pass, as Kafka's:
 *   1. The cleanable range ends at the first of: the caller's bound (the high watermark), the
 *      base offset of the log's last batch (never cleaned, so the log end survives a reopen, as
 *      Kafka never cleans the active segment), and the first batch newer than
 *      min.compaction.lag.ms.
 *   2. The offset map: the latest offset of every key in the dirty section [firstDirty,
 *      cleanableEnd), where firstDirty is the cleaner checkpoint (or the log start). The map is
 *      bounded; when it fills, the pass ends at the batch that did not fit.
 *   3. Every batch from the log start to the end of the mapped range (or to the checkpoint, when
 *      nothing new is dirty: expired tombstones still go) is filtered: a record stays
 *      unless the map holds a later offset for its key, or it is a tombstone (null value) whose
 *      timestamp is delete.retention.ms or more before now. Records below the checkpoint whose key
 *      is not in the map stay: the clean section already holds each key once, so they are the
 *      latest of their key below cleanableEnd. Records without a key always stay.
 */

/** Default bound on the offset map's memory (Kafka's log.cleaner.dedupe.buffer.size is 128 MiB for all its threads). */
export const DEFAULT_OFFSET_MAP_BYTES_MAX = 32 * 1024 * 1024;
/** Batches of one atomic cleaning write; bounds the time the pass holds the write pipeline. */
export const DEFAULT_CLEANING_CHUNK_BATCHES_MAX = 1024;
/** Bytes of batches read for one atomic cleaning write. */
export const DEFAULT_CLEANING_CHUNK_BYTES_MAX = 8 * 1024 * 1024;
/** What one map entry costs besides its key bytes (a Map slot, the string header, the offset), rounded up. */
const OFFSET_MAP_ENTRY_OVERHEAD_BYTES = 64;

/**
 * Key bytes -> the latest offset seen for it, within a memory bound. Keys are compared as
 * bytes: each is held as a latin1 string, one character per byte.
 */
export class OffsetMap {
  private readonly latest = new Map<string, number>();
  private usedBytes = 0;

  constructor(readonly bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax > 0, 'offset map bound must be a positive integer');
  }

  get size(): number {
    return this.latest.size;
  }

  /** Whether the keys of a batch, `keyBytes` in all over `newKeys` keys, would fit. */
  fits(newKeys: number, keyBytes: number): boolean {
    return this.usedBytes + newKeys * OFFSET_MAP_ENTRY_OVERHEAD_BYTES + keyBytes <= this.bytesMax;
  }

  /** Records `offset` for `key`; offsets are put in increasing order, so the last put wins. */
  put(key: Buffer, offset: number): void {
    const name = key.toString('latin1');
    const previous = this.latest.get(name);
    assert(previous === undefined || previous < offset, `offset map: ${offset} put after ${previous}`);
    if (previous === undefined) this.usedBytes += OFFSET_MAP_ENTRY_OVERHEAD_BYTES + key.length;
    this.latest.set(name, offset);
  }

  get(key: Buffer): number | undefined {
    return this.latest.get(key.toString('latin1'));
  }

  /** Whether `key` is not in the map yet (for sizing a batch before putting it). */
  isNew(key: Buffer): boolean {
    return !this.latest.has(key.toString('latin1'));
  }
}

export interface RecordRetentionRule {
  readonly offsetMap: OffsetMap;
  /** The start of the dirty section: every keyed record at or after it is in the map. */
  readonly firstDirtyOffset: number;
  readonly nowMs: number;
  readonly deleteRetentionMs: number;
}

/**
 * Whether a record below the cleanable end stays. Tombstones are judged by their own timestamp
 * (a simplification of Kafka, which counts delete.retention.ms from the cleaning that first
 * reached the tombstone's batch): a tombstone goes on the first pass at least
 * delete.retention.ms after it was written, and consumers have that long to see it.
 */
export function isRecordRetained(record: DecodedRecord, rule: RecordRetentionRule): boolean {
  if (record.key === null) return true;
  const latestOffset = rule.offsetMap.get(record.key);
  assert(
    record.offset < rule.firstDirtyOffset || (latestOffset !== undefined && latestOffset >= record.offset),
    `the dirty record at ${record.offset} is missing from the offset map`,
  );
  if (latestOffset !== undefined && latestOffset > record.offset) return false;
  if (record.value === null && rule.nowMs - record.timestampMs >= rule.deleteRetentionMs) return false;
  return true;
}

export interface DirtyRatioInputs {
  /** Bytes of all batches. */
  readonly sizeBytes: number;
  /** Bytes of the batches below the cleaner checkpoint. */
  readonly cleanSectionBytes: number;
  readonly firstDirtyOffset: number;
  readonly cleanableEndOffset: number;
  readonly logEndOffset: number;
}

/**
 * The share of dirty bytes a pass could clean: cleanable dirty / (clean + cleanable dirty), as
 * Kafka's cleanable ratio. The dirty bytes below the cleanable end are estimated from offsets
 * (the dirty section has never been cleaned, so bytes follow offsets) instead of scanning the
 * keys; dirty bytes the pass cannot reach (above the high watermark, under min.compaction.lag.ms,
 * the last batch) do not count, so a pass never runs for data it may not touch.
 */
export function dirtyRatio(inputs: DirtyRatioInputs): number {
  const { sizeBytes, cleanSectionBytes, firstDirtyOffset, cleanableEndOffset, logEndOffset } = inputs;
  assert(cleanSectionBytes <= sizeBytes, `clean section ${cleanSectionBytes} bytes exceeds the log's ${sizeBytes}`);
  if (cleanableEndOffset <= firstDirtyOffset || logEndOffset <= firstDirtyOffset) return 0;
  const dirtyBytes = sizeBytes - cleanSectionBytes;
  const cleanableDirtyBytes = (dirtyBytes * (Math.min(cleanableEndOffset, logEndOffset) - firstDirtyOffset)) / (logEndOffset - firstDirtyOffset);
  return cleanableDirtyBytes === 0 ? 0 : cleanableDirtyBytes / (cleanSectionBytes + cleanableDirtyBytes);
}

/** Options of PartitionLog.cleaningDue: a topic's compaction configs and the replica's bound. */
export interface CleaningDueOptions {
  /** Offsets at or beyond it are not cleaned: the replica's high watermark. */
  readonly cleanableEndOffset: number;
  readonly nowMs: number;
  /** min.cleanable.dirty.ratio, 0..1. */
  readonly minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: a batch newer than this is not cleaned. */
  readonly minCompactionLagMs: number;
  /** max.compaction.lag.ms: dirty data older than this forces a pass whatever the ratio. */
  readonly maxCompactionLagMs: number;
  /** delete.retention.ms: a clean section holding a tombstone this old is due for a pass. */
  readonly deleteRetentionMs: number;
}

export type CleaningReason = 'dirty-ratio' | 'max-compaction-lag' | 'tombstones-expired' | 'not-dirty-enough' | 'nothing-cleanable';

export interface CleaningDecision {
  readonly isDue: boolean;
  readonly reason: CleaningReason;
  readonly dirtyRatio: number;
  readonly firstDirtyOffset: number;
  readonly cleanableEndOffset: number;
}

/** Options of one cleaning pass (PartitionLog.compact). */
export interface CompactOptions {
  /** Offsets at or beyond it are not cleaned: the replica's high watermark. */
  readonly cleanableEndOffset: number;
  readonly nowMs: number;
  /** delete.retention.ms: how long a tombstone stays once written. */
  readonly deleteRetentionMs: number;
  /** min.compaction.lag.ms. */
  readonly minCompactionLagMs: number;
  /** Memory for the offset map; default DEFAULT_OFFSET_MAP_BYTES_MAX. */
  readonly offsetMapBytesMax?: number;
  /** Batches per atomic write; default DEFAULT_CLEANING_CHUNK_BATCHES_MAX. */
  readonly chunkBatchesMax?: number;
  /** Batch bytes read per atomic write; default DEFAULT_CLEANING_CHUNK_BYTES_MAX. */
  readonly chunkBytesMax?: number;
}

export interface CompactionResult {
  /** The cleaner checkpoint after the pass: every key occurs at most once below it. */
  readonly cleanedUpToOffset: number;
  /** False when a truncation, deletion or failure stopped the pass midway (what it wrote stays valid). */
  readonly isComplete: boolean;
  readonly batchesRewritten: number;
  readonly batchesRemoved: number;
  readonly recordsRemoved: number;
  /** Bytes the log shrank by. */
  readonly bytesFreed: number;
}

export function checkCompactOptions(options: CompactOptions): void {
  for (const name of ['cleanableEndOffset', 'nowMs', 'deleteRetentionMs', 'minCompactionLagMs'] as const) {
    assert(Number.isSafeInteger(options[name]) && options[name] >= 0, `compact: ${name} must be a non-negative safe integer, got ${options[name]}`);
  }
  for (const name of ['offsetMapBytesMax', 'chunkBatchesMax', 'chunkBytesMax'] as const) {
    const value = options[name];
    assert(value === undefined || (Number.isSafeInteger(value) && value > 0), `compact: ${name} must be a positive integer, got ${value}`);
  }
}

export function checkCleaningDueOptions(options: CleaningDueOptions): void {
  for (const name of ['cleanableEndOffset', 'nowMs', 'minCompactionLagMs', 'maxCompactionLagMs', 'deleteRetentionMs'] as const) {
    assert(Number.isSafeInteger(options[name]) && options[name] >= 0, `cleaningDue: ${name} must be a non-negative safe integer, got ${options[name]}`);
  }
  assert(options.minCleanableDirtyRatio >= 0 && options.minCleanableDirtyRatio <= 1, `cleaningDue: minCleanableDirtyRatio must be in 0..1, got ${options.minCleanableDirtyRatio}`);
}
