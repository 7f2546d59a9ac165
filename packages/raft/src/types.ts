import type { NodeId, RaftIndex, Term } from '@rivulet/common';

/**
 * What an entry carries. `noop` is the empty entry a new leader appends so that it can
 * commit entries of earlier terms (Raft §5.4.2 and §8); the state machine skips it.
 * `config-change` carries an encoded ConfigChange (see config-change.ts) which the driver
 * hands back through `RaftNode.applyConfigChange` when it applies the entry.
 */
export const EntryKind = { Normal: 'normal', Noop: 'noop', ConfigChange: 'config-change' } as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

/** One position of the replicated log. Entries are immutable once created. */
export interface Entry {
  readonly index: RaftIndex;
  readonly term: Term;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/**
 * The state that must survive a crash (Raft §5, figure 2): the current term, the vote cast
 * in it, and the commit index (persisting it saves re-discovery after a restart; it is
 * never required for safety, but it must not go backwards).
 */
export interface HardState {
  readonly term: Term;
  readonly votedFor: NodeId | null;
  readonly commitIndex: RaftIndex;
}

/** The roles of a node. A pre-candidate runs the pre-vote phase (Raft thesis §9.6). */
export const Role = {
  Follower: 'follower',
  PreCandidate: 'pre-candidate',
  Candidate: 'candidate',
  Leader: 'leader',
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Volatile state useful to the driver (logging, routing); never persisted. */
export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId | null;
}

/** The membership: voters decide elections and commits; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** Identifies the last log position a snapshot covers, and the membership at that point. */
export interface SnapshotMetadata {
  readonly index: RaftIndex;
  readonly term: Term;
  readonly confState: ConfState;
}

/** A state-machine snapshot: the driver produces `data`, Raft only moves it around. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/**
 * The answer to a ReadIndex request (Raft thesis §6.4): once the local state machine has
 * applied up to `index`, a read issued under `requestId` is linearizable.
 */
export interface ReadState {
  readonly requestId: number;
  readonly index: RaftIndex;
}

/** Why a proposal or request was not accepted; the caller retries elsewhere or later. */
export const RejectReason = {
  NotLeader: 'not-leader',
  LeadershipTransferInProgress: 'leadership-transfer-in-progress',
  TooManyUncommittedEntries: 'too-many-uncommitted-entries',
  TooManyPendingReads: 'too-many-pending-reads',
  /** A new leader serves reads only once an entry of its own term is committed. */
  LeaderNotReady: 'leader-not-ready',
  InvalidTransferee: 'invalid-transferee',
  /** One membership change at a time: the previous one is not applied yet. */
  ConfigChangePending: 'config-change-pending',
  InvalidConfigChange: 'invalid-config-change',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

export type ProposeResult =
  | { readonly accepted: true; readonly index: RaftIndex; readonly term: Term }
  | { readonly accepted: false; readonly reason: RejectReason; readonly leaderId: NodeId | null };

/** A fixed per-entry overhead counted when batching by bytes, so empty entries are not free. */
export const ENTRY_OVERHEAD_BYTES = 24;

export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}
