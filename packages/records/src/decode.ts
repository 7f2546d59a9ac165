import { RivuletError } from '@rivulet/common';
import { TimestampType, splitBatches } from './batch-header.js';
import type { BatchHeader } from './batch-header.js';
import { checkBatchFraming, checkStoredCounts, isValidRecordTimestamp } from './batch-check.js';
import type { DecodedRecord, RecordPosition } from './record-codec.js';
import { readRecordFields } from './record-codec.js';
import type { RecordsOptions } from './records-section.js';
import { checkFullyRead, recordsReader, recordsSection, recordsSectionSync } from './records-section.js';

/*
 * Decoding for consumers and tools: check a batch (framing, magic, CRC, codec, timestamps),
 * decompress its records and materialise them with absolute offsets and timestamps. Keys,
 * values and header values are views into the input (uncompressed) or into the decompressed
 * buffer, not copies: keep the input unchanged while the records are in use.
 */

export interface DecodedBatch {
  readonly header: BatchHeader;
  readonly records: DecodedRecord[];
}

export type DecodeOptions = RecordsOptions;

/** The header checks decoding applies (framing, magic, CRC, codec, timestamps, stored counts). */
export function checkBatchForDecode(buf: Buffer): BatchHeader {
  const header = checkBatchFraming(buf, Number.MAX_SAFE_INTEGER);
  checkStoredCounts(header);
  return header;
}

function recordTimestampMs(header: BatchHeader, timestampDelta: number, index: number): number {
  if (header.timestampType === TimestampType.logAppendTime) return header.maxTimestamp;
  const timestampMs = header.baseTimestamp + timestampDelta;
  if (!isValidRecordTimestamp(timestampMs)) {
    throw new RivuletError('INVALID_TIMESTAMP', `record ${index} has timestamp ${timestampMs}`);
  }
  return timestampMs;
}

/**
 * Walks the records in order, handing each to `visit` with the byte range [start, end) it
 * occupies in `records` (its length prefix included). offsetDeltas increase strictly and stay
 * within lastOffsetDelta (gaps allowed after compaction).
 */
export function walkRecords(header: BatchHeader, records: Buffer, visit: (record: DecodedRecord, start: number, end: number) => void): void {
  const reader = recordsReader(records, header);
  const position: RecordPosition = { timestampDelta: 0, offsetDelta: 0, hasKey: false };
  let previousOffsetDelta = -1;
  for (let index = 0; index < header.recordCount; index++) {
    const start = reader.pos;
    const fields = readRecordFields(reader, index, position);
    if (position.offsetDelta <= previousOffsetDelta || position.offsetDelta > header.lastOffsetDelta) {
      reader.fail(`record ${index} has offsetDelta ${position.offsetDelta} after ${previousOffsetDelta} (last ${header.lastOffsetDelta})`);
    }
    previousOffsetDelta = position.offsetDelta;
    const record: DecodedRecord = {
      offset: header.baseOffset + position.offsetDelta,
      timestampMs: recordTimestampMs(header, position.timestampDelta, index),
      key: fields.key,
      value: fields.value,
      headers: fields.headers,
    };
    visit(record, start, reader.pos);
  }
  checkFullyRead(reader, header);
}

function readRecords(header: BatchHeader, records: Buffer): DecodedRecord[] {
  const decoded: DecodedRecord[] = [];
  walkRecords(header, records, (record) => decoded.push(record));
  return decoded;
}

/** Decodes the batch at the start of `buf` (bytes after it are ignored), any codec but zstd. */
export function decodeRecordBatchSync(buf: Buffer, options: DecodeOptions = {}): DecodedBatch {
  const header = checkBatchForDecode(buf);
  return { header, records: readRecords(header, recordsSectionSync(buf, header, options)) };
}

/** Decodes the batch at the start of `buf` (bytes after it are ignored), any codec. */
export async function decodeRecordBatch(buf: Buffer, options: DecodeOptions = {}): Promise<DecodedBatch> {
  const header = checkBatchForDecode(buf);
  return { header, records: readRecords(header, await recordsSection(buf, header, options)) };
}

/** Decodes concatenated batches, ignoring a trailing partial batch; any codec but zstd. */
export function decodeRecordBatchesSync(buf: Buffer, options: DecodeOptions = {}): DecodedBatch[] {
  return splitBatches(buf).batches.map((batch) => decodeRecordBatchSync(batch, options));
}

/** Decodes concatenated batches, ignoring a trailing partial batch; any codec. */
export async function decodeRecordBatches(buf: Buffer, options: DecodeOptions = {}): Promise<DecodedBatch[]> {
  const decoded: DecodedBatch[] = [];
  for (const batch of splitBatches(buf).batches) decoded.push(await decodeRecordBatch(batch, options));
  return decoded;
}
