import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD_BYTES, CURRENT_MAGIC, HeaderField } from '@rivulet/records';

export interface TestBatchOptions {
  /** Records in the batch; lastOffsetDelta is recordCount - 1. */
  recordCount: number;
  /** Bytes after the 61-byte header. Storage never decodes them, so any bytes do. */
  payload?: Buffer;
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  baseTimestampMs?: number;
  maxTimestampMs?: number;
  /** Idempotent producer fields; left out, the batch has none (-1). */
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
}

/**
 * Builds a minimal uncompressed RecordBatch v2: a correct header (lengths, magic, offsets,
 * timestamps, counts) followed by opaque payload bytes standing for the records. The CRC is
 * left zero: storage does not check it (the broker validates batches before appending).
 */
export function buildTestBatch(options: TestBatchOptions): Buffer {
  const payload = options.payload ?? Buffer.alloc(0);
  const batch = Buffer.alloc(BATCH_HEADER_BYTES + payload.length);
  const baseTimestampMs = options.baseTimestampMs ?? 0;
  batch.writeBigInt64BE(BigInt(options.baseOffset ?? 0), HeaderField.baseOffset);
  batch.writeInt32BE(batch.length - BATCH_LOG_OVERHEAD_BYTES, HeaderField.batchLength);
  batch.writeInt32BE(options.partitionLeaderEpoch ?? -1, HeaderField.partitionLeaderEpoch);
  batch.writeInt8(CURRENT_MAGIC, HeaderField.magic);
  batch.writeInt16BE(0, HeaderField.attributes);
  batch.writeInt32BE(options.recordCount - 1, HeaderField.lastOffsetDelta);
  batch.writeBigInt64BE(BigInt(baseTimestampMs), HeaderField.baseTimestamp);
  batch.writeBigInt64BE(BigInt(options.maxTimestampMs ?? baseTimestampMs), HeaderField.maxTimestamp);
  batch.writeBigInt64BE(BigInt(options.producerId ?? -1), HeaderField.producerId);
  batch.writeInt16BE(options.producerEpoch ?? -1, HeaderField.producerEpoch);
  batch.writeInt32BE(options.baseSequence ?? -1, HeaderField.baseSequence);
  batch.writeInt32BE(options.recordCount, HeaderField.recordCount);
  payload.copy(batch, BATCH_HEADER_BYTES);
  return batch;
}

/** The opaque payload of a batch built by buildTestBatch. */
export function testBatchPayload(batch: Buffer): Buffer {
  return batch.subarray(BATCH_HEADER_BYTES);
}
