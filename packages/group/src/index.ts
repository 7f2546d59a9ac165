export type * from './types.js';
export { DEFAULT_GROUP_CONFIG } from './types.js';
export { GroupCoordinator, coordinatorErrorCode } from './coordinator.js';
export type { GroupCoordinatorOptions, WritePurpose } from './coordinator.js';
export { groupPartition, javaStringHashCode } from './group-partition.js';
export { MalformedBytesError } from './binary.js';
export {
  CONSUMER_PROTOCOL_TYPE,
  LATEST_CONSUMER_PROTOCOL_VERSION,
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
} from './consumer-protocol.js';
export type { ConsumerAssignment, ConsumerSubscription, ConsumerTopicPartitions } from './consumer-protocol.js';
export {
  GROUP_METADATA_KEY_VERSION,
  OFFSET_COMMIT_KEY_VERSION,
  decodeGroupMetadataValue,
  decodeOffsetCommitValue,
  decodeRecordKey,
  groupMetadataRecord,
  offsetCommitRecord,
} from './records.js';
export type { GroupMetadataValue, GroupRecordKey, OffsetCommitKey, OffsetCommitValue, StoredMember } from './records.js';
