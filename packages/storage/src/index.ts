export type { FlushPolicy, LogStoreOptions } from './log-store.js';
export { LOG_STORE_DIRECTORY, LogStore } from './log-store.js';
export type { AppendResult, PartitionLogConfig, ReadResult } from './partition-log.js';
export { PartitionLog, UnexpectedAppendOffsetError } from './partition-log.js';
export type { EpochEntry } from './leader-epoch-cache.js';
export { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET } from './leader-epoch-cache.js';
export type { RaftConfState, RaftEntryKind, RaftHardState, RaftLogEntry, RaftLogStoreOptions, RaftPersistUpdate, RaftSnapshot, RaftSnapshotMetadata } from './raft-log-store.js';
export { RAFT_LOG_STORE_DIRECTORY, RaftLogStore, raftLogStoreDirectory } from './raft-log-store.js';
