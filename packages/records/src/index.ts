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
