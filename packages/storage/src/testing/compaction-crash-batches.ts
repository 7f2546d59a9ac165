import { encodeRecordBatchSync } from '@rivulet/records';

/*
 * The batches compaction-crash-writer.ts appends: batch n holds 1 + n % 4 records, record j
 * with key compactionCrashKey(n, j) and value "n:j", so a verifier can tell what any record it
 * reads back is and where it was written. Some records carry filler so batches vary in size.
 */

export const COMPACTION_CRASH_TOPIC = 'compaction-crash';
const KEYS = 24;

export function compactionCrashRecordCount(batchNumber: number): number {
  return 1 + (batchNumber % 4);
}

export function compactionCrashKey(batchNumber: number, index: number): string {
  return `k${(batchNumber * 7 + index * 5) % KEYS}`;
}

export function compactionCrashBatch(batchNumber: number): Buffer {
  return encodeRecordBatchSync({
    compression: batchNumber % 3 === 0 ? 'gzip' : 'none',
    nowMs: 1_700_000_000_000 + batchNumber,
    records: Array.from({ length: compactionCrashRecordCount(batchNumber) }, (_, index) => ({
      key: Buffer.from(compactionCrashKey(batchNumber, index)),
      value: Buffer.from(`${batchNumber}:${index}:${'x'.repeat((batchNumber * 31 + index * 17) % 600)}`),
    })),
  });
}

/** The batch number and record index a value names. */
export function parseCompactionCrashValue(value: string): { batchNumber: number; index: number } {
  const [batchNumber, index] = value.split(':');
  return { batchNumber: Number(batchNumber), index: Number(index) };
}
