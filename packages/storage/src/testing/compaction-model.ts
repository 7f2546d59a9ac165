import { expect } from 'vitest';
import { decodeRecordBatches, splitBatches, readBatchHeader } from '@rivulet/records';
import type { PartitionLog } from '../partition-log.js';

/** A record as the tests and the model see it. */
export interface ModelRecord {
  readonly offset: number;
  readonly key: string | null;
  /** null: a tombstone. */
  readonly value: string | null;
  readonly timestampMs: number;
}

export interface StoredBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly sizeBytes: number;
  readonly recordCount: number;
}

/** Reads the whole log from its start, checking framing, CRCs and increasing offsets on the way. */
export async function readWholeLog(log: PartitionLog, maxBytes = 1 << 20): Promise<{ records: ModelRecord[]; batches: StoredBatch[] }> {
  const records: ModelRecord[] = [];
  const batches: StoredBatch[] = [];
  let offset = log.logStartOffset();
  while (offset < log.logEndOffset()) {
    const read = await log.read(offset, maxBytes);
    if (read.batchCount === 0) break;
    expect(splitBatches(read.records).wholeBytes).toBe(read.records.length);
    for (const decoded of await decodeRecordBatches(read.records)) {
      const header = decoded.header;
      const previous = batches[batches.length - 1];
      if (previous !== undefined) expect(header.baseOffset).toBeGreaterThan(previous.lastOffset);
      batches.push({ baseOffset: header.baseOffset, lastOffset: header.baseOffset + header.lastOffsetDelta, sizeBytes: header.sizeBytes, recordCount: header.recordCount });
      for (const r of decoded.records) {
        if (r.offset < log.logStartOffset()) continue;
        records.push({ offset: r.offset, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, timestampMs: r.timestampMs });
      }
    }
    expect(read.nextOffset).toBe(batches[batches.length - 1]!.lastOffset + 1);
    offset = read.nextOffset;
  }
  for (let i = 1; i < records.length; i++) expect(records[i]!.offset).toBeGreaterThan(records[i - 1]!.offset);
  return { records, batches };
}

/** The size accounting and the cleaner checkpoint must match the batches actually stored. */
export function expectConsistentAccounting(log: PartitionLog, batches: readonly StoredBatch[]): void {
  expect(log.sizeBytes()).toBe(batches.reduce((sum, b) => sum + b.sizeBytes, 0));
  const checkpoint = log.cleanerCheckpoint();
  expect(checkpoint.cleanedUpToOffset).toBeLessThanOrEqual(log.logEndOffset());
  const clean = batches.filter((b) => b.lastOffset < checkpoint.cleanedUpToOffset);
  expect(checkpoint.cleanSectionBytes).toBe(clean.reduce((sum, b) => sum + b.sizeBytes, 0));
  // The checkpoint is a batch boundary.
  expect(batches.some((b) => b.baseOffset < checkpoint.cleanedUpToOffset && b.lastOffset >= checkpoint.cleanedUpToOffset)).toBe(false);
}

/**
 * What a cleaning pass that ended at `cleanedEnd` must leave of `records`: below it, the latest
 * record of each key (keyless records always), minus tombstones written deleteRetentionMs or
 * more before `nowMs`; at and after it, everything.
 */
export function modelClean(records: readonly ModelRecord[], cleanedEnd: number, nowMs: number, deleteRetentionMs: number): ModelRecord[] {
  const latest = new Map<string, number>();
  for (const r of records) if (r.offset < cleanedEnd && r.key !== null) latest.set(r.key, r.offset);
  return records.filter((r) => {
    if (r.offset >= cleanedEnd || r.key === null) return true;
    if (latest.get(r.key) !== r.offset) return false;
    return !(r.value === null && nowMs - r.timestampMs >= deleteRetentionMs);
  });
}

/** The header of the batch holding `offset`, read back from the log. */
export async function batchHeaderAt(log: PartitionLog, offset: number) {
  const read = await log.read(offset, 1);
  return read.batchCount === 0 ? undefined : readBatchHeader(read.records);
}
