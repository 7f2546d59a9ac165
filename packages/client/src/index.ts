export { RivuletClient } from './client.js';
export type { RivuletClientOptions } from './client.js';
export { Producer } from './producer.js';
export type { ProducerOptions } from './producer.js';
export { Consumer } from './consumer.js';
export type {
  AssignorName,
  ConsumerGroupMetadata,
  ConsumerOptions,
  OffsetResetPolicy,
  RebalanceListener,
  RecordBatchView,
  RunHandlers,
  SeekTarget,
  StreamOptions,
} from './consumer.js';
export type { GroupAssignment, MemberSubscription, PartitionAssignor, RebalanceProtocol } from './assignors/assignor.js';
export { cooperativeStickyAssignor } from './assignors/cooperative-sticky.js';
export { rangeAssignor } from './assignors/range.js';
export { roundRobinAssignor } from './assignors/round-robin.js';
export type { TopicSubscription } from './group/group-member.js';
export type { CommittedOffset, OffsetToCommit } from './group/group-offsets.js';
export { computeGroupLag } from './group/group-lag.js';
export type { PartitionLag, PartitionOffsets } from './group/group-lag.js';
export { Admin } from './admin.js';
export type {
  ClusterDescription,
  ClusterMetadata,
  DeleteRecordsQuery,
  DeletedRecords,
  DrainedPartition,
  GroupDescription,
  GroupLagDescription,
  GroupListing,
  GroupMemberDescription,
  GroupPartitionLag,
  ListedOffset,
  OngoingReassignment,
  PartitionReassignment,
  NewTopic,
  OffsetQuery,
  OffsetSpec,
  PartitionDescription,
  SettledOffsets,
  TopicDescription,
} from './admin.js';
export type { BrokerAddress, PartitionInfo, TopicInfo } from './cluster.js';
export { summarizeQuorum } from './quorum.js';
export type { BrokerEndpointInfo, BrokerRegistration, ControllerAddress, ControllerStatus, QuorumDescription, QuorumView } from './quorum.js';
export { RivuletAggregateError } from './errors.js';
export type { OperationFailure } from './errors.js';
export { murmur2, partitionForKey, toPositive } from './murmur2.js';
export { StickyPartitioner } from './partitioner.js';
export type { TopicLayout } from './partitioner.js';
export type { BrokerTransport, TransportFactory } from './transport.js';
export { GrpcBrokerTransport, grpcTransportFactory } from './transport.js';
export type {
  Acks,
  CompressionCodecName,
  ConsumerRecord,
  DeliveryCallback,
  HeadersInput,
  ProducerRecord,
  RecordHeader,
  RecordMetadata,
  TopicPartitionRef,
} from './types.js';
