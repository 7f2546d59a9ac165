import { RivuletError, assert } from '@rivulet/common';

/*
 * Kafka RecordBatch v2 (magic 2) header, 61 bytes, big-endian:
 *
 *   offset  size  field
 *        0     8  baseOffset            rewritten by the broker on append
 *        8     4  batchLength           bytes after this field (from partitionLeaderEpoch to the end)
 *       12     4  partitionLeaderEpoch  rewritten by the broker on append
 *       16     1  magic                 must be 2
 *       17     4  crc                   CRC-32C of bytes [21, end)
 *       21     2  attributes            bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control
 *       23     4  lastOffsetDelta
 *       27     8  baseTimestamp
 *       35     8  maxTimestamp
 *       43     8  producerId
 *       51     2  producerEpoch
 *       53     4  baseSequence
 *       57     4  recordCount
 *       61     …  records (compressed as a whole when attributes say so)
 *
 * baseOffset and partitionLeaderEpoch lie outside the CRC's range, which is why the broker
 * can assign offsets without touching the records or recomputing the checksum.
 */
export const BATCH_HEADER_BYTES = 61;
/** Bytes before batchLength's range begins: baseOffset (8) + batchLength (4). */
export const BATCH_LOG_OVERHEAD_BYTES = 12;
export const CRC_START_OFFSET = 21;
export const CURRENT_MAGIC = 2;

export const HeaderField = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
} as const;

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionType = (typeof Compression)[keyof typeof Compression];
export type CompressionName = keyof typeof Compression;

export const TimestampType = { createTime: 0, logAppendTime: 1 } as const;
export type TimestampTypeValue = (typeof TimestampType)[keyof typeof TimestampType];

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_BIT = 0x08;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;

/** The decoded fixed header of one batch. Offsets and timestamps are safe integers. */
export interface BatchHeader {
  readonly baseOffset: number;
  /** Total size of the batch in bytes, header included (batchLength + 12). */
  readonly sizeBytes: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly compression: number;
  readonly timestampType: TimestampTypeValue;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

export function lastOffsetOf(header: Pick<BatchHeader, 'baseOffset' | 'lastOffsetDelta'>): number {
  return header.baseOffset + header.lastOffsetDelta;
}

function readInt64(buf: Buffer, at: number): number {
  const value = buf.readBigInt64BE(at);
  const asNumber = Number(value);
  // A value outside the safe range cannot be an offset or a timestamp we produced.
  if (!Number.isSafeInteger(asNumber)) return Number.NaN;
  return asNumber;
}

/**
 * Reads the fixed header of the batch that starts at `at`. It checks only that the header
 * fits; validation of lengths, magic and CRC is `validateBatch`'s job (see codec). Returns
 * NaN for int64 fields outside the safe-integer range so callers' checks reject them.
 */
export function readBatchHeader(buf: Buffer, at = 0): BatchHeader {
  assert(at >= 0 && at + BATCH_HEADER_BYTES <= buf.length, 'readBatchHeader: header does not fit in buffer');
  const attributes = buf.readInt16BE(at + HeaderField.attributes);
  return {
    baseOffset: readInt64(buf, at + HeaderField.baseOffset),
    sizeBytes: buf.readInt32BE(at + HeaderField.batchLength) + BATCH_LOG_OVERHEAD_BYTES,
    partitionLeaderEpoch: buf.readInt32BE(at + HeaderField.partitionLeaderEpoch),
    magic: buf.readInt8(at + HeaderField.magic),
    crc: buf.readUInt32BE(at + HeaderField.crc),
    attributes,
    compression: attributes & COMPRESSION_MASK,
    timestampType: (attributes & TIMESTAMP_TYPE_BIT) !== 0 ? TimestampType.logAppendTime : TimestampType.createTime,
    isTransactional: (attributes & TRANSACTIONAL_BIT) !== 0,
    isControl: (attributes & CONTROL_BIT) !== 0,
    lastOffsetDelta: buf.readInt32BE(at + HeaderField.lastOffsetDelta),
    baseTimestamp: readInt64(buf, at + HeaderField.baseTimestamp),
    maxTimestamp: readInt64(buf, at + HeaderField.maxTimestamp),
    producerId: readInt64(buf, at + HeaderField.producerId),
    producerEpoch: buf.readInt16BE(at + HeaderField.producerEpoch),
    baseSequence: buf.readInt32BE(at + HeaderField.baseSequence),
    recordCount: buf.readInt32BE(at + HeaderField.recordCount),
  };
}

export function buildAttributes(options: {
  compression: number;
  timestampType: TimestampTypeValue;
  isTransactional: boolean;
  isControl: boolean;
}): number {
  return (
    (options.compression & COMPRESSION_MASK) |
    (options.timestampType === TimestampType.logAppendTime ? TIMESTAMP_TYPE_BIT : 0) |
    (options.isTransactional ? TRANSACTIONAL_BIT : 0) |
    (options.isControl ? CONTROL_BIT : 0)
  );
}

/** `attributes` with its compression bits set to `codec`, every other bit unchanged. */
export function withCompression(attributes: number, codec: number): number {
  return (attributes & ~COMPRESSION_MASK) | (codec & COMPRESSION_MASK);
}

/** Rewrites baseOffset in place; outside the CRC's range, so the checksum stays valid. */
export function setBaseOffset(buf: Buffer, at: number, baseOffset: number): void {
  assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, 'setBaseOffset: offset must be a non-negative safe integer');
  buf.writeBigInt64BE(BigInt(baseOffset), at + HeaderField.baseOffset);
}

/** Rewrites partitionLeaderEpoch in place; outside the CRC's range. */
export function setPartitionLeaderEpoch(buf: Buffer, at: number, leaderEpoch: number): void {
  assert(Number.isInteger(leaderEpoch) && leaderEpoch >= -1 && leaderEpoch <= 0x7fffffff, 'setPartitionLeaderEpoch: out of int32 range');
  buf.writeInt32BE(leaderEpoch, at + HeaderField.partitionLeaderEpoch);
}

/**
 * Splits a buffer of concatenated batches into the byte ranges of whole batches, reading
 * only batchLength. A fetch may end mid-batch (the broker cuts at the byte limit), so a
 * trailing partial batch is left out and `wholeBytes` says where it began. A batchLength
 * too small to hold a header is corruption, not a cut: stopping there would leave a
 * consumer asking for the same bytes forever, so it throws CORRUPT_MESSAGE.
 */
export function splitBatches(buf: Buffer): { batches: Buffer[]; wholeBytes: number } {
  const batches: Buffer[] = [];
  let at = 0;
  while (at + BATCH_LOG_OVERHEAD_BYTES <= buf.length) {
    const sizeBytes = buf.readInt32BE(at + HeaderField.batchLength) + BATCH_LOG_OVERHEAD_BYTES;
    if (sizeBytes < BATCH_HEADER_BYTES) {
      throw new RivuletError('CORRUPT_MESSAGE', `batch at byte ${at} has invalid batchLength ${sizeBytes - BATCH_LOG_OVERHEAD_BYTES}`);
    }
    if (at + sizeBytes > buf.length) break;
    batches.push(buf.subarray(at, at + sizeBytes));
    at += sizeBytes;
  }
  return { batches, wholeBytes: at };
}
