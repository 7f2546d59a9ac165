export { RaftNode } from './raft-node.js';
export type { RaftStatus } from './raft-node.js';
export type { Ready } from './ready.js';
export type { RaftConfig } from './config.js';
export { resolveConfig } from './config.js';
export type { RaftStorage } from './storage.js';
export { MemoryRaftLog } from './memory-raft-log.js';
export { EntryKind, ENTRY_OVERHEAD_BYTES, RejectReason, Role, entrySizeBytes } from './types.js';
export { ConfigChangeType, applyConfigChangeTo, decodeConfigChange, encodeConfigChange, invalidConfigChangeReason } from './config-change.js';
export type { ConfigChange } from './config-change.js';
export type { ConfState, Entry, HardState, ProposeResult, ReadState, Snapshot, SnapshotMetadata, SoftState } from './types.js';
export type { RequestResult } from './roles/role.js';
export { isLeaderMessage } from './messages.js';
export type {
  AppendRequest,
  AppendResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  Message,
  MessageType,
  PreVoteRequest,
  PreVoteResponse,
  ReadIndexRequest,
  ReadIndexResponse,
  SnapshotChunk,
  SnapshotChunkResponse,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from './messages.js';
