import { RivuletError, assert } from '@rivulet/common';
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  CRC_START_OFFSET,
  CURRENT_MAGIC,
  Compression,
  HeaderField,
  TimestampType,
  buildAttributes,
} from './batch-header.js';
import type { CompressionName, CompressionType, TimestampTypeValue } from './batch-header.js';
import { compressAsync, compressSync } from './compression.js';
import { crc32c } from './crc32c.js';
import type { RecordInput } from './record-codec.js';
import { recordBodySizeBytes, writeRecord } from './record-codec.js';
import { varintSizeBytes } from './varint.js';

export interface EncodeBatchInput {
  /** Offset of the first record; producers leave it 0 and the broker assigns the real one. */
  readonly baseOffset?: number;
  /** Defaults to -1: no leader has written this batch yet. */
  readonly partitionLeaderEpoch?: number;
  /** Idempotent / transactional producer identity; all default to -1 (none). */
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly isTransactional?: boolean;
  readonly isControl?: boolean;
  readonly timestampType?: TimestampTypeValue;
  /** A codec by name ('gzip') or by its attribute value (1); defaults to none. */
  readonly compression?: CompressionName | CompressionType;
  /** Timestamp for records that carry none; defaults to Date.now() at encode time. */
  readonly nowMs?: number;
  readonly records: readonly RecordInput[];
}

const INT16_MAX = 0x7fff;
const INT32_MAX = 0x7fffffff;

/**
 * The sizes and deltas worked out before writing, so the batch is written into a single
 * allocation. `bodySizesBytes` keeps each record's body size for its length prefix.
 */
interface BatchPlan {
  readonly compression: CompressionType;
  readonly baseTimestampMs: number;
  readonly maxTimestampMs: number;
  readonly lastOffsetDelta: number;
  readonly recordsBytes: number;
  readonly bodySizesBytes: Int32Array;
  readonly timestampsMs: Float64Array;
  readonly offsetDeltas: Int32Array;
}

function resolveCompression(compression: EncodeBatchInput['compression']): CompressionType {
  if (compression === undefined) return Compression.none;
  if (typeof compression === 'string') {
    if (!Object.hasOwn(Compression, compression)) throw new RivuletError('UNSUPPORTED_COMPRESSION_TYPE', `unknown codec '${compression}'`);
    return Compression[compression];
  }
  if (!Object.values(Compression).includes(compression)) {
    throw new RivuletError('UNSUPPORTED_COMPRESSION_TYPE', `unknown codec ${String(compression)}`);
  }
  return compression;
}

function recordTimestampMs(record: RecordInput, nowMs: number, index: number): number {
  const timestampMs = record.timestampMs ?? nowMs;
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
    throw new RivuletError('INVALID_TIMESTAMP', `record ${index} has timestamp ${timestampMs}; need a non-negative integer of ms`);
  }
  return timestampMs;
}

function recordOffsetDelta(record: RecordInput, previous: number, index: number): number {
  const offsetDelta = record.offsetDelta ?? index;
  if (!Number.isInteger(offsetDelta) || offsetDelta <= previous || offsetDelta > INT32_MAX) {
    throw new RivuletError('INVALID_RECORD', `record ${index} has offsetDelta ${offsetDelta}; deltas must increase from 0 within int32`);
  }
  return offsetDelta;
}

function planBatch(input: EncodeBatchInput): BatchPlan {
  const { records } = input;
  if (records.length === 0) throw new RivuletError('INVALID_RECORD', 'a record batch needs at least one record');
  const nowMs = input.nowMs ?? Date.now();
  const count = records.length;
  const timestampsMs = new Float64Array(count);
  const offsetDeltas = new Int32Array(count);
  let maxTimestampMs = -1;
  let previousOffsetDelta = -1;
  for (let index = 0; index < count; index++) {
    timestampsMs[index] = recordTimestampMs(records[index]!, nowMs, index);
    maxTimestampMs = Math.max(maxTimestampMs, timestampsMs[index]!);
    previousOffsetDelta = offsetDeltas[index] = recordOffsetDelta(records[index]!, previousOffsetDelta, index);
  }
  const baseTimestampMs = timestampsMs[0]!;
  const bodySizesBytes = new Int32Array(count);
  let recordsBytes = 0;
  for (let index = 0; index < count; index++) {
    const bodyBytes = recordBodySizeBytes(records[index]!, timestampsMs[index]! - baseTimestampMs, offsetDeltas[index]!);
    if (bodyBytes > INT32_MAX) throw new RivuletError('MESSAGE_TOO_LARGE', `record ${index} is ${bodyBytes} bytes, over int32`);
    bodySizesBytes[index] = bodyBytes;
    recordsBytes += varintSizeBytes(bodyBytes) + bodyBytes;
  }
  if (recordsBytes > INT32_MAX - BATCH_HEADER_BYTES) throw new RivuletError('MESSAGE_TOO_LARGE', `records take ${recordsBytes} bytes, over int32`);
  const compression = resolveCompression(input.compression);
  const lastOffsetDelta = previousOffsetDelta;
  return { compression, baseTimestampMs, maxTimestampMs, lastOffsetDelta, recordsBytes, bodySizesBytes, timestampsMs, offsetDeltas };
}

function writeRecords(buf: Buffer, at: number, records: readonly RecordInput[], plan: BatchPlan): void {
  let pos = at;
  const body = { sizeBytes: 0, timestampDelta: 0, offsetDelta: 0 };
  for (let index = 0; index < records.length; index++) {
    body.sizeBytes = plan.bodySizesBytes[index]!;
    body.timestampDelta = plan.timestampsMs[index]! - plan.baseTimestampMs;
    body.offsetDelta = plan.offsetDeltas[index]!;
    pos = writeRecord(buf, pos, records[index]!, body);
  }
  assert(pos === at + plan.recordsBytes, `writeRecords: wrote ${pos - at} bytes, planned ${plan.recordsBytes}`);
}

/* int64 as two int32 halves: exact for safe integers and avoids a BigInt per field. */
function writeInt64(buf: Buffer, at: number, value: number): void {
  assert(Number.isSafeInteger(value), `writeInt64: ${value} is not a safe integer`);
  const high = Math.floor(value / 0x100000000);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(value - high * 0x100000000, at + 4);
}

function checkIntRange(value: number, min: number, max: number, what: string): number {
  assert(Number.isInteger(value) && value >= min && value <= max, `encodeRecordBatch: ${what} ${value} is out of range`);
  return value;
}

/** Fills the 61-byte header of a batch whose records are already in place, CRC last. */
function writeBatchHeader(buf: Buffer, input: EncodeBatchInput, plan: BatchPlan): void {
  writeInt64(buf, HeaderField.baseOffset, input.baseOffset ?? 0);
  buf.writeInt32BE(buf.length - BATCH_LOG_OVERHEAD_BYTES, HeaderField.batchLength);
  buf.writeInt32BE(checkIntRange(input.partitionLeaderEpoch ?? -1, -1, INT32_MAX, 'partitionLeaderEpoch'), HeaderField.partitionLeaderEpoch);
  buf.writeInt8(CURRENT_MAGIC, HeaderField.magic);
  const attributes = buildAttributes({
    compression: plan.compression,
    timestampType: input.timestampType ?? TimestampType.createTime,
    isTransactional: input.isTransactional ?? false,
    isControl: input.isControl ?? false,
  });
  buf.writeInt16BE(attributes, HeaderField.attributes);
  buf.writeInt32BE(plan.lastOffsetDelta, HeaderField.lastOffsetDelta);
  writeInt64(buf, HeaderField.baseTimestamp, plan.baseTimestampMs);
  writeInt64(buf, HeaderField.maxTimestamp, plan.maxTimestampMs);
  writeInt64(buf, HeaderField.producerId, input.producerId ?? -1);
  buf.writeInt16BE(checkIntRange(input.producerEpoch ?? -1, -1, INT16_MAX, 'producerEpoch'), HeaderField.producerEpoch);
  buf.writeInt32BE(checkIntRange(input.baseSequence ?? -1, -1, INT32_MAX, 'baseSequence'), HeaderField.baseSequence);
  buf.writeInt32BE(input.records.length, HeaderField.recordCount);
  buf.writeUInt32BE(crc32c(buf.subarray(CRC_START_OFFSET)), HeaderField.crc);
}

function encodeUncompressed(input: EncodeBatchInput, plan: BatchPlan): Buffer {
  const buf = Buffer.allocUnsafe(BATCH_HEADER_BYTES + plan.recordsBytes);
  writeRecords(buf, BATCH_HEADER_BYTES, input.records, plan);
  writeBatchHeader(buf, input, plan);
  return buf;
}

function assembleCompressed(input: EncodeBatchInput, plan: BatchPlan, compressed: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length);
  compressed.copy(buf, BATCH_HEADER_BYTES);
  writeBatchHeader(buf, input, plan);
  return buf;
}

function serializeRecords(input: EncodeBatchInput, plan: BatchPlan): Buffer {
  const recordsBuf = Buffer.allocUnsafe(plan.recordsBytes);
  writeRecords(recordsBuf, 0, input.records, plan);
  return recordsBuf;
}

/**
 * Encodes a RecordBatch v2 synchronously. Every codec but zstd is supported; zstd's binding is
 * asynchronous, so asking for it here throws UNSUPPORTED_COMPRESSION_TYPE.
 */
export function encodeRecordBatchSync(input: EncodeBatchInput): Buffer {
  const plan = planBatch(input);
  if (plan.compression === Compression.none) return encodeUncompressed(input, plan);
  return assembleCompressed(input, plan, compressSync(plan.compression, serializeRecords(input, plan)));
}

/** Encodes a RecordBatch v2 with any codec, zstd included. */
export async function encodeRecordBatch(input: EncodeBatchInput): Promise<Buffer> {
  const plan = planBatch(input);
  if (plan.compression === Compression.none) return encodeUncompressed(input, plan);
  return assembleCompressed(input, plan, await compressAsync(plan.compression, serializeRecords(input, plan)));
}
