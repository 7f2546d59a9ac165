import { assert } from '@rivulet/common';
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD_BYTES, CRC_START_OFFSET, Compression, HeaderField, withCompression } from './batch-header.js';
import { compressAsync } from './compression.js';
import { crc32c } from './crc32c.js';
import { checkBatchForDecode, walkRecords } from './decode.js';
import type { DecodeOptions } from './decode.js';
import type { DecodedRecord } from './record-codec.js';
import { recordsSection } from './records-section.js';

/*
 * Log compaction's rewrite of one stored batch. A record's offset and timestamp are deltas
 * from the batch's baseOffset and baseTimestamp, which do not change, so every kept record is
 * copied byte for byte: keys, values, headers and deltas stay exactly as the producer wrote
 * them, and the offsets of the records left keep their gaps. The header keeps every field
 * (baseOffset, lastOffsetDelta, partitionLeaderEpoch, timestamps, producer id / epoch / base
 * sequence, attributes) except recordCount, batchLength and the CRC, which are recomputed. The
 * records are recompressed with the batch's own codec; a batch left with no record is written
 * uncompressed, as Kafka writes such batches (there is nothing to compress).
 */

export interface FilteredBatch {
  /** The batch to store: `buf` itself (its first batch) when every record was kept. */
  readonly batch: Buffer;
  readonly keptRecords: number;
  readonly removedRecords: number;
}

/**
 * Keeps the records of the batch at the start of `buf` that `keep` accepts (called once per
 * record, in offset order). Checks the batch as decoding does (CRC included) first; any codec.
 */
export async function filterRecordBatch(buf: Buffer, keep: (record: DecodedRecord) => boolean, options: DecodeOptions = {}): Promise<FilteredBatch> {
  const header = checkBatchForDecode(buf);
  const records = await recordsSection(buf, header, options);
  const keptRanges: [number, number][] = [];
  let keptBytes = 0;
  walkRecords(header, records, (record, start, end) => {
    if (!keep(record)) return;
    keptRanges.push([start, end]);
    keptBytes += end - start;
  });
  const removedRecords = header.recordCount - keptRanges.length;
  if (removedRecords === 0) return { batch: buf.subarray(0, header.sizeBytes), keptRecords: keptRanges.length, removedRecords };
  const section = Buffer.allocUnsafe(keptBytes);
  let at = 0;
  for (const [start, end] of keptRanges) at += records.copy(section, at, start, end);
  const codec = keptRanges.length === 0 ? Compression.none : header.compression;
  const stored = codec === Compression.none ? section : await compressAsync(codec, section);
  const batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + stored.length);
  buf.copy(batch, 0, 0, BATCH_HEADER_BYTES);
  stored.copy(batch, BATCH_HEADER_BYTES);
  batch.writeInt32BE(batch.length - BATCH_LOG_OVERHEAD_BYTES, HeaderField.batchLength);
  batch.writeInt16BE(withCompression(header.attributes, codec), HeaderField.attributes);
  batch.writeInt32BE(keptRanges.length, HeaderField.recordCount);
  batch.writeUInt32BE(crc32c(batch.subarray(CRC_START_OFFSET)), HeaderField.crc);
  assert(batch.readInt32BE(HeaderField.lastOffsetDelta) === header.lastOffsetDelta, 'filterRecordBatch: the offset range must not change');
  return { batch, keptRecords: keptRanges.length, removedRecords };
}
