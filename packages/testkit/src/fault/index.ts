export { History } from './history.js';
export type { HistoryEvent, HistoryEventInput, HistoryEventType } from './history.js';
export { checkHistory, formatCheckResult } from './checker.js';
export type { CheckOptions, CheckResult, FaultAvailability, HistoryStats, PartitionAvailability, RecordRef, Violation, ViolationKind } from './checker.js';
export { GroupHistory, parseMemberReport } from './group-history.js';
export type { CommittedPartition, GroupEvent, GroupEventInput, GroupEventType, MemberReport } from './group-history.js';
export { checkGroupHistory, formatGroupCheckResult, keptPartitions } from './group-checker.js';
export type { AckedRecord, GroupCheckInput, GroupCheckResult, GroupCheckStats, GroupFaultFigures, GroupViolation, GroupViolationKind, KeptPartition, PartitionRecovery } from './group-checker.js';
