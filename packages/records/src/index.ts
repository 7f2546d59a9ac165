export type { BatchHeader, CompressionName, CompressionType, TimestampTypeValue } from './batch-header.js';
export {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  CRC_START_OFFSET,
  CURRENT_MAGIC,
  Compression,
  HeaderField,
  TimestampType,
  buildAttributes,
  lastOffsetOf,
  readBatchHeader,
  setBaseOffset,
  setPartitionLeaderEpoch,
  splitBatches,
} from './batch-header.js';
export type { DecodedRecord, RecordHeader, RecordInput } from './record-codec.js';
export type { EncodeBatchInput } from './encode.js';
export { encodeRecordBatch, encodeRecordBatchSync } from './encode.js';
export type { DecodedBatch, DecodeOptions } from './decode.js';
export {
  decodeRecordBatch,
  decodeRecordBatchSync,
  decodeRecordBatches,
  decodeRecordBatchesSync,
} from './decode.js';
export type { FilteredBatch } from './filter.js';
export { filterRecordBatch } from './filter.js';
export type { ValidateOptions } from './validate.js';
export { validateBatch, validateBatchSync, validateProducedBatches, validateProducedBatchesSync } from './validate.js';
export { DEFAULT_UNCOMPRESSED_BYTES_MAX } from './compression.js';
export { crc32c } from './crc32c.js';
export {
  ByteReader,
  VARINT_BYTES_MAX,
  VARLONG_BYTES_MAX,
  readVarint,
  readVarlong,
  varintSizeBytes,
  varlongSizeBytes,
  writeVarint,
  writeVarlong,
} from './varint.js';
