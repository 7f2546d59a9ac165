export type {
  BrokerShuttingDownRecord,
  Endpoint,
  FenceBrokerRecord,
  MetadataRecord,
  MetadataRecordType,
  PartitionChangeRecord,
  PartitionRecord,
  RegisterBrokerRecord,
  RemoveTopicRecord,
  TopicConfigRecord,
  TopicRecord,
  UnfenceBrokerRecord,
  UnregisterBrokerRecord,
} from './records.js';
export { NO_LEADER, RECORD_VERSION, decodeRecord, decodeRecordList, encodeRecord, encodeRecordList, validateRecord } from './records.js';
export type { BrokerRegistration, BrokerState, MetadataImage, PartitionRegistration, TopicImage } from './image.js';
export {
  EMPTY_IMAGE,
  allPartitions,
  applyRecord,
  applyRecords,
  changedPartition,
  getPartition,
  imageFromRecords,
  imageToRecords,
  topicById,
} from './image.js';
export type { PlacementBroker, PlacementRequest, Result } from './placement.js';
export { placeReplicas } from './placement.js';
export type {
  AlterPartitionRequest,
  BrokerHeartbeatOutcome,
  BrokerHeartbeatRequest,
  CreateTopicSpec,
  Decision,
  RegisterBrokerRequest,
  TopicConfigChange,
  TopicOutcome,
} from './decisions.js';
export {
  PRODUCER_ID_BLOCK_SIZE,
  UNCLEAN_LEADER_ELECTION_CONFIG,
  allocateProducerIds,
  alterTopicConfigs,
  beginControlledShutdown,
  createPartitions,
  createTopic,
  decideTopics,
  deleteTopic,
  electPreferredLeaders,
  fenceBroker,
  fenceBrokers,
  handleAlterPartition,
  handleBrokerHeartbeat,
  isEligible,
  registerBroker,
  unfenceBroker,
} from './decisions.js';
export type { LeaseTable } from './leases.js';
export { dropLease, expiredLeases, recordHeartbeat } from './leases.js';
export type { DrainMove, ReassignmentEntry, ReassignmentOutcome, ReassignmentStatus } from './reassignment.js';
export {
  cancelReassignment,
  completeReassignment,
  completeReassignments,
  decideReassignments,
  drainBroker,
  isReassigning,
  listReassignments,
  originalReplicas,
  planDrain,
  startReassignment,
  targetReplicas,
} from './reassignment.js';
