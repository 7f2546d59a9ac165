import { RivuletError, assert } from '@rivulet/common';
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD_BYTES, HeaderField, TimestampType } from './batch-header.js';
import type { BatchHeader } from './batch-header.js';
import { checkBatchFraming, checkProducedCounts, isValidRecordTimestamp } from './batch-check.js';
import type { RecordPosition } from './record-codec.js';
import { skipRecord } from './record-codec.js';
import type { RecordsOptions } from './records-section.js';
import { checkFullyRead, recordsReader, recordsSection, recordsSectionSync } from './records-section.js';

/*
 * Validation for the broker's produce path. The shallow check reads only the 61-byte header
 * and the CRC; the deep check also walks every record (decompressing first when needed) to
 * prove its length framing and that offsetDeltas run 0..recordCount-1. The walk keeps one
 * reader and one position object for the whole batch and creates nothing per record.
 */

export interface ValidateOptions extends RecordsOptions {
  /** Largest accepted batch, header included (Kafka's max.message.bytes). */
  readonly maxBatchBytes: number;
  /** Walk the records too, not only the header and CRC. */
  readonly deep?: boolean;
  /**
   * Refuse a record without a key (INVALID_RECORD): a compacted topic keeps the latest record
   * per key, so a keyless one has no place in it (Kafka's LogValidator rule). Needs `deep`.
   */
  readonly requireKeys?: boolean;
}

function checkRequireKeysIsDeep(options: ValidateOptions): void {
  assert(options.requireKeys !== true || options.deep === true, 'validateBatch: requireKeys needs the deep walk');
}

function checkProducedHeader(buf: Buffer, options: ValidateOptions): BatchHeader {
  const header = checkBatchFraming(buf, options.maxBatchBytes);
  checkProducedCounts(header);
  return header;
}

function walkProducedRecords(header: BatchHeader, records: Buffer, options: ValidateOptions): void {
  const reader = recordsReader(records, header);
  const position: RecordPosition = { timestampDelta: 0, offsetDelta: 0, hasKey: false };
  const isCreateTime = header.timestampType === TimestampType.createTime;
  for (let index = 0; index < header.recordCount; index++) {
    skipRecord(reader, index, position);
    if (position.offsetDelta !== index) reader.fail(`record ${index} has offsetDelta ${position.offsetDelta}, expected ${index}`);
    if (options.requireKeys === true && !position.hasKey) {
      throw new RivuletError('INVALID_RECORD', `record ${index} has no key; a compacted topic (cleanup.policy compact) keeps records by key, so each needs one`);
    }
    if (isCreateTime && !isValidRecordTimestamp(header.baseTimestamp + position.timestampDelta)) {
      throw new RivuletError('INVALID_TIMESTAMP', `record ${index} has timestamp ${header.baseTimestamp + position.timestampDelta}`);
    }
  }
  checkFullyRead(reader, header);
}

/**
 * Validates the batch at the start of `buf` (bytes after it are ignored) synchronously. The
 * deep walk of a zstd batch needs the async codec and throws UNSUPPORTED_COMPRESSION_TYPE
 * here; use `validateBatch` for it.
 */
export function validateBatchSync(buf: Buffer, options: ValidateOptions): BatchHeader {
  const header = checkProducedHeader(buf, options);
  checkRequireKeysIsDeep(options);
  if (options.deep === true) walkProducedRecords(header, recordsSectionSync(buf, header, options), options);
  return header;
}

/** Validates the batch at the start of `buf` (bytes after it are ignored), any codec. */
export async function validateBatch(buf: Buffer, options: ValidateOptions): Promise<BatchHeader> {
  const header = checkProducedHeader(buf, options);
  checkRequireKeysIsDeep(options);
  if (options.deep === true) walkProducedRecords(header, await recordsSection(buf, header, options), options);
  return header;
}

/*
 * A produce request's records field: one or more whole batches and nothing else. Each batch
 * is cut at its batchLength and validated alone. The first batch gets validateBatch's own
 * diagnosis (too large, bad magic, truncated); after a whole batch, bytes that do not form
 * another whole batch are trailing garbage: CORRUPT_MESSAGE.
 */
function nextBatch(buf: Buffer, at: number): Buffer {
  const remainingBytes = buf.length - at;
  const sizeBytes = remainingBytes >= BATCH_LOG_OVERHEAD_BYTES ? buf.readInt32BE(at + HeaderField.batchLength) + BATCH_LOG_OVERHEAD_BYTES : 0;
  const isWhole = sizeBytes >= BATCH_HEADER_BYTES && sizeBytes <= remainingBytes;
  if (isWhole) return buf.subarray(at, at + sizeBytes);
  if (at === 0) return buf;
  throw new RivuletError('CORRUPT_MESSAGE', `${remainingBytes} trailing bytes after byte ${at} do not form a whole batch`);
}

function checkNotEmpty(buf: Buffer): void {
  if (buf.length === 0) throw new RivuletError('CORRUPT_MESSAGE', 'no record batches in an empty buffer');
}

export function validateProducedBatchesSync(buf: Buffer, options: ValidateOptions): BatchHeader[] {
  checkNotEmpty(buf);
  const headers: BatchHeader[] = [];
  for (let at = 0; at < buf.length; ) {
    const header = validateBatchSync(nextBatch(buf, at), options);
    headers.push(header);
    at += header.sizeBytes;
  }
  return headers;
}

export async function validateProducedBatches(buf: Buffer, options: ValidateOptions): Promise<BatchHeader[]> {
  checkNotEmpty(buf);
  const headers: BatchHeader[] = [];
  for (let at = 0; at < buf.length; ) {
    const header = await validateBatch(nextBatch(buf, at), options);
    headers.push(header);
    at += header.sizeBytes;
  }
  return headers;
}
