import { readBatchHeader } from '@rivulet/records';
import { buildTestBatch, testBatchPayload } from './record-batch.js';

export const CRASH_TOPIC = 'crash';
export const CRASH_PARTITIONS = 4;

/** Records in batch `batchNumber`; varies so offsets and batch numbers do not move in step. */
export function crashRecordCount(batchNumber: number): number {
  return 1 + (batchNumber % 5);
}

/** Each partition's batches come from one idempotent producer, id partition + 1. */
export function crashProducerId(partition: number): number {
  return partition + 1;
}

/** The base sequence of batch `batchNumber`: the records of every batch before it. */
export function crashSequence(batchNumber: number): number {
  const cycles = Math.floor(batchNumber / 5);
  const rest = batchNumber % 5;
  // crashRecordCount(k) = 1 + k % 5: each full cycle of five batches holds 15 records.
  return cycles * 15 + rest + (rest * (rest - 1)) / 2;
}

function fillerBytes(partition: number, batchNumber: number): Buffer {
  // Sizes vary from tiny to ~40 KiB so write batches mix small and large values.
  const size = ((batchNumber * 7919 + partition * 104729) % 40) * 1024 + (batchNumber % 13);
  const filler = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) filler[i] = (batchNumber + partition * 31 + i) & 0xff;
  return filler;
}

/** Batch `batchNumber` of `partition`: its payload names both and is followed by checkable filler. */
export function crashBatch(partition: number, batchNumber: number): Buffer {
  const label = Buffer.from(`p${partition}:n${batchNumber}:`);
  return buildTestBatch({
    recordCount: crashRecordCount(batchNumber),
    payload: Buffer.concat([label, fillerBytes(partition, batchNumber)]),
    maxTimestampMs: 1_700_000_000_000 + batchNumber,
    producerId: crashProducerId(partition),
    producerEpoch: 0,
    baseSequence: crashSequence(batchNumber),
  });
}

/** Decodes the first batch of `records` and checks its payload is exactly what crashBatch wrote. */
export function parseCrashBatch(records: Buffer): { partition: number; batchNumber: number; baseOffset: number; lastOffset: number; sizeBytes: number } {
  const header = readBatchHeader(records);
  const payload = testBatchPayload(records.subarray(0, header.sizeBytes));
  const match = /^p(\d+):n(\d+):/.exec(payload.subarray(0, 32).toString('latin1'));
  if (match === null) throw new Error('crash batch has no label');
  const partition = Number(match[1]);
  const batchNumber = Number(match[2]);
  const expected = crashBatch(partition, batchNumber);
  if (header.sizeBytes !== expected.length) throw new Error(`batch p${partition}:n${batchNumber} has size ${header.sizeBytes}, expected ${expected.length}`);
  if (header.lastOffsetDelta !== crashRecordCount(batchNumber) - 1) throw new Error(`batch p${partition}:n${batchNumber} has the wrong lastOffsetDelta`);
  if (!payload.equals(testBatchPayload(expected))) throw new Error(`batch p${partition}:n${batchNumber} payload is corrupt`);
  return { partition, batchNumber, baseOffset: header.baseOffset, lastOffset: header.baseOffset + header.lastOffsetDelta, sizeBytes: header.sizeBytes };
}
