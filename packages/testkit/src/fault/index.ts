export { History } from './history.js';
export type { HistoryEvent, HistoryEventInput, HistoryEventType } from './history.js';
export { checkHistory, formatCheckResult } from './checker.js';
export type { CheckOptions, CheckResult, FaultAvailability, HistoryStats, PartitionAvailability, RecordRef, Violation, ViolationKind } from './checker.js';
