/**
 * The broker core's request and response shapes. They are protocol-free, but mirror the
 * gRPC client API's messages field for field, so the gRPC front-end passes them through and
 * the Kafka front-end maps onto them. Error codes are Kafka's (see @rivulet/common).
 */
export interface BrokerEndpoint {
  nodeId: number;
  host: string;
  grpcPort: number;
  kafkaPort: number;
  rack: string;
}

export interface PartitionMetadata {
  partition: number;
  errorCode: number;
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface TopicMetadata {
  name: string;
  /** The topic's id (a UUID) when it exists. */
  topicId?: string;
  errorCode: number;
  errorMessage: string;
  isInternal: boolean;
  partitions: PartitionMetadata[];
}

export interface MetadataRequest {
  topics: string[];
  allowAutoTopicCreation: boolean;
}

export interface MetadataResponse {
  clusterId: string;
  controllerId: number;
  brokers: BrokerEndpoint[];
  topics: TopicMetadata[];
}

export interface TopicSpec {
  name: string;
  partitions: number;
  /** -1 means the broker's default. */
  replicationFactor: number;
  configs: Record<string, string>;
}

export interface TopicResult {
  name: string;
  errorCode: number;
  errorMessage: string;
  /** A created topic's id (a UUID). */
  topicId?: string;
}

export interface PartitionDescription {
  partition: number;
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  logStartOffset: number;
  highWatermark: number;
  logEndOffset: number;
  sizeBytes: number;
}

export interface TopicDescription {
  name: string;
  errorCode: number;
  errorMessage: string;
  isInternal: boolean;
  /** Every effective config, Kafka-named. */
  configs: Record<string, string>;
  /** The configs the topic sets itself (the rest are the broker's defaults). */
  explicitConfigKeys?: string[];
  partitions: PartitionDescription[];
}

export interface ProduceRequest {
  acks: number;
  timeoutMs: number;
  topics: { name: string; partitions: { partition: number; records: Buffer }[] }[];
}

export interface PartitionProduceResponse {
  partition: number;
  errorCode: number;
  errorMessage: string;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  leaderId: number;
}

export interface ProduceResponse {
  topics: { name: string; partitions: PartitionProduceResponse[] }[];
}

export interface FetchPartitionRequest {
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
}

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  topics: { name: string; partitions: FetchPartitionRequest[] }[];
}

export interface FetchPartitionResponse {
  partition: number;
  errorCode: number;
  errorMessage: string;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer;
  nextOffset: number;
  leaderId: number;
}

export interface FetchResponse {
  topics: { name: string; partitions: FetchPartitionResponse[] }[];
}

/** Special timestamps of ListOffsets, as in Kafka. */
export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;

export interface ListOffsetsRequest {
  topics: { name: string; partitions: { partition: number; timestamp: number }[] }[];
}

export interface ListOffsetsPartitionResponse {
  partition: number;
  errorCode: number;
  errorMessage: string;
  offset: number;
  timestamp: number;
}

export interface ListOffsetsResponse {
  topics: { name: string; partitions: ListOffsetsPartitionResponse[] }[];
}

export interface DeleteRecordsRequest {
  topics: { name: string; partitions: { partition: number; offset: number }[] }[];
  timeoutMs: number;
}

export interface DeleteRecordsPartitionResponse {
  partition: number;
  errorCode: number;
  errorMessage: string;
  lowWatermark: number;
}

export interface DeleteRecordsResponse {
  topics: { name: string; partitions: DeleteRecordsPartitionResponse[] }[];
}

export interface NodeStatus {
  nodeId: number;
  roles: string;
  version: string;
  uptimeMs: number;
  dataDir: string;
  partitionCount: number;
  leaderCount: number;
  logSizeBytes: number;
}

export interface DescribeClusterResponse {
  clusterId: string;
  controllerId: number;
  brokers: BrokerEndpoint[];
  self: NodeStatus;
}

/** Per-partition figures for metrics and status pages. */
export interface PartitionStats {
  topic: string;
  partition: number;
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  sizeBytes: number;
}

/** One partition of AlterPartitionReassignments: new target replicas, or `cancel`. */
export interface ReassignablePartition {
  topic: string;
  partition: number;
  targetReplicas: number[];
  cancel: boolean;
}

export interface ReassignmentResult {
  topic: string;
  partition: number;
  errorCode: number;
  errorMessage: string;
}

export interface OngoingReassignment {
  topic: string;
  partition: number;
  /** Target replicas in order, then the ones being removed. */
  replicas: number[];
  addingReplicas: number[];
  removingReplicas: number[];
  isr: number[];
  leaderId: number;
  /** Adding replicas not in the ISR yet. */
  addingNotInIsr: number[];
}

export interface ListPartitionReassignmentsResponse {
  reassignments: OngoingReassignment[];
  /** Named topics that do not exist. */
  topicErrors: TopicResult[];
}

export interface DrainedPartition {
  topic: string;
  partition: number;
  targetReplicas: number[];
  leaderId: number;
}

export interface DrainBrokerResponse {
  /** Non-zero when the drain was refused as a whole; then nothing was started. */
  errorCode: number;
  errorMessage: string;
  started: DrainedPartition[];
}
