import { RivuletError } from '@rivulet/common';
import { BATCH_HEADER_BYTES, Compression } from './batch-header.js';
import type { BatchHeader } from './batch-header.js';
import { DEFAULT_UNCOMPRESSED_BYTES_MAX, decompressAsync, decompressSync } from './compression.js';
import { RECORD_BYTES_MIN } from './record-codec.js';
import { ByteReader } from './varint.js';

/*
 * The records section of a batch: bytes [61, sizeBytes), decompressed when the attributes
 * name a codec. A reader over it reports malformed records as INVALID_RECORD: the CRC has
 * already passed, so the bytes are what the producer sent and retrying cannot help.
 */

export interface RecordsOptions {
  /** Cap on a compressed batch's decompressed records; DEFAULT_UNCOMPRESSED_BYTES_MAX when absent. */
  readonly uncompressedBytesMax?: number;
}

function storedRecords(buf: Buffer, header: BatchHeader): Buffer {
  return buf.subarray(BATCH_HEADER_BYTES, header.sizeBytes);
}

export function recordsSectionSync(buf: Buffer, header: BatchHeader, options: RecordsOptions): Buffer {
  const stored = storedRecords(buf, header);
  if (header.compression === Compression.none) return stored;
  return decompressSync(header.compression, stored, options.uncompressedBytesMax ?? DEFAULT_UNCOMPRESSED_BYTES_MAX);
}

export async function recordsSection(buf: Buffer, header: BatchHeader, options: RecordsOptions): Promise<Buffer> {
  const stored = storedRecords(buf, header);
  if (header.compression === Compression.none) return stored;
  return decompressAsync(header.compression, stored, options.uncompressedBytesMax ?? DEFAULT_UNCOMPRESSED_BYTES_MAX);
}

/**
 * A reader over the records section, after checking that recordCount records could fit at all.
 * The check bounds every later loop and array by the bytes actually present.
 */
export function recordsReader(records: Buffer, header: BatchHeader): ByteReader {
  if (header.recordCount * RECORD_BYTES_MIN > records.length) {
    throw new RivuletError(
      'INVALID_RECORD',
      `batch declares ${header.recordCount} records but its ${records.length} record bytes hold at most ${Math.floor(records.length / RECORD_BYTES_MIN)}`,
    );
  }
  return new ByteReader(records, 0, records.length, 'INVALID_RECORD');
}

export function checkFullyRead(reader: ByteReader, header: BatchHeader): void {
  if (reader.pos !== reader.end) {
    reader.fail(`${reader.end - reader.pos} bytes follow the last of ${header.recordCount} records`);
  }
}
