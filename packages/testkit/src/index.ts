export { freePort } from './ports.js';
export { CLI_BIN, NodeProcess } from './node-process.js';
export type { NodeProcessOptions } from './node-process.js';
export { RAFT_NODE_BIN, RaftNodeProcess } from './raft-node-process.js';
export type { ProposeOutcome, RaftNodeStatus } from './raft-node-process.js';
export { waitFor } from './wait.js';
export { ClusterNode, LocalCluster } from './local-cluster.js';
export type { ClusterRole, LocalClusterOptions } from './local-cluster.js';
export { TcpProxy } from './tcp-proxy.js';
export { NetnsNetwork, cleanupStaleNetworks, netnsSupport } from './netns.js';
export type { LinkShape, NetnsEndpoint, NetnsSupport } from './netns.js';
export { History, checkHistory, formatCheckResult } from './fault/index.js';
export type {
  CheckOptions,
  CheckResult,
  FaultAvailability,
  HistoryEvent,
  HistoryEventInput,
  HistoryEventType,
  HistoryStats,
  PartitionAvailability,
  RecordRef,
  Violation,
  ViolationKind,
} from './fault/index.js';
export { GROUP_CONSUMER_WORKER, GroupConsumerProcess } from './group-consumer-process.js';
export type { GroupConsumerOptions, GroupConsumerWorkerConfig } from './group-consumer-process.js';
export { GroupHistory, checkGroupHistory, formatGroupCheckResult, keptPartitions, parseMemberReport } from './fault/index.js';
export type {
  AckedRecord,
  CommittedPartition,
  GroupCheckInput,
  GroupCheckResult,
  GroupCheckStats,
  GroupEvent,
  GroupEventInput,
  GroupEventType,
  GroupFaultFigures,
  GroupViolation,
  GroupViolationKind,
  KeptPartition,
  MemberReport,
  PartitionRecovery,
} from './fault/index.js';
