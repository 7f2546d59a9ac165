import { RivuletError } from '@rivulet/common';
import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  CRC_START_OFFSET,
  CURRENT_MAGIC,
  Compression,
  HeaderField,
  readBatchHeader,
} from './batch-header.js';
import type { BatchHeader } from './batch-header.js';
import { crc32c } from './crc32c.js';

/*
 * Checks of a batch's fixed header, shared by validation (broker, strict) and decoding
 * (consumer, tolerant of what log compaction leaves behind). Order matters: magic sits at
 * byte 16 in every message format, so it is checked before the v2 layout is trusted; the
 * size limit before the buffer length, so an oversized batch is reported as too large rather
 * than truncated; the CRC before any field inside its range is interpreted.
 */

const HIGHEST_CODEC = Compression.zstd;

function corrupt(message: string): never {
  throw new RivuletError('CORRUPT_MESSAGE', message);
}

/** Checks framing, magic, size and CRC of the batch at the start of `buf`; returns its header. */
export function checkBatchFraming(buf: Buffer, maxBatchBytes: number): BatchHeader {
  if (buf.length <= HeaderField.magic) corrupt(`${buf.length} bytes is shorter than a batch header (${BATCH_HEADER_BYTES})`);
  const magic = buf.readInt8(HeaderField.magic);
  if (magic !== CURRENT_MAGIC) {
    throw new RivuletError('UNSUPPORTED_FOR_MESSAGE_FORMAT', `batch has magic ${magic}; only RecordBatch v2 (magic 2) is supported`);
  }
  if (buf.length < BATCH_HEADER_BYTES) corrupt(`${buf.length} bytes is shorter than a batch header (${BATCH_HEADER_BYTES})`);
  const batchLength = buf.readInt32BE(HeaderField.batchLength);
  const sizeBytes = batchLength + BATCH_LOG_OVERHEAD_BYTES;
  if (sizeBytes < BATCH_HEADER_BYTES) corrupt(`batchLength ${batchLength} is smaller than the header that follows it`);
  if (sizeBytes > maxBatchBytes) {
    throw new RivuletError('MESSAGE_TOO_LARGE', `batch of ${sizeBytes} bytes exceeds the limit of ${maxBatchBytes} bytes`);
  }
  if (sizeBytes > buf.length) corrupt(`batchLength says ${sizeBytes} bytes but only ${buf.length} are present`);
  const storedCrc = buf.readUInt32BE(HeaderField.crc);
  const computedCrc = crc32c(buf.subarray(CRC_START_OFFSET, sizeBytes));
  if (storedCrc !== computedCrc) {
    corrupt(`CRC-32C mismatch: header says 0x${storedCrc.toString(16)}, bytes give 0x${computedCrc.toString(16)}`);
  }
  return checkHeaderFields(readBatchHeader(buf, 0));
}

function isValidTimestamp(timestampMs: number): boolean {
  // readBatchHeader turns values outside the safe range into NaN, which fails here too.
  return Number.isSafeInteger(timestampMs) && timestampMs >= 0;
}

function checkHeaderFields(header: BatchHeader): BatchHeader {
  if (header.compression > HIGHEST_CODEC) {
    throw new RivuletError('UNSUPPORTED_COMPRESSION_TYPE', `batch uses unknown compression codec ${header.compression}`);
  }
  if (!isValidTimestamp(header.baseTimestamp) || !isValidTimestamp(header.maxTimestamp)) {
    throw new RivuletError(
      'INVALID_TIMESTAMP',
      `batch timestamps base ${header.baseTimestamp} / max ${header.maxTimestamp} must be non-negative safe integers`,
    );
  }
  if (!Number.isSafeInteger(header.producerId)) throw new RivuletError('INVALID_RECORD', 'producerId is outside the safe integer range');
  return header;
}

/** A produced batch must hold records and number them 0..recordCount-1. */
export function checkProducedCounts(header: BatchHeader): void {
  if (header.recordCount <= 0) throw new RivuletError('INVALID_RECORD', `batch declares ${header.recordCount} records; at least one is required`);
  if (header.lastOffsetDelta !== header.recordCount - 1) {
    throw new RivuletError(
      'INVALID_RECORD',
      `lastOffsetDelta ${header.lastOffsetDelta} does not match recordCount ${header.recordCount} (expected ${header.recordCount - 1})`,
    );
  }
}

/**
 * A stored batch may have lost records to compaction, so it may hold fewer records than its
 * offset range (even none), but never more, and its baseOffset must be a real offset.
 */
export function checkStoredCounts(header: BatchHeader): void {
  const lastOffset = header.baseOffset + header.lastOffsetDelta;
  if (!Number.isSafeInteger(header.baseOffset) || header.baseOffset < 0 || !Number.isSafeInteger(lastOffset)) {
    corrupt(`baseOffset ${header.baseOffset} with lastOffsetDelta ${header.lastOffsetDelta} is outside the safe offset range`);
  }
  if (header.recordCount < 0 || header.lastOffsetDelta < header.recordCount - 1) {
    throw new RivuletError('INVALID_RECORD', `recordCount ${header.recordCount} does not fit lastOffsetDelta ${header.lastOffsetDelta}`);
  }
}

export function isValidRecordTimestamp(timestampMs: number): boolean {
  return isValidTimestamp(timestampMs);
}
