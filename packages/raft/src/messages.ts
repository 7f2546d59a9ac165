import type { NodeId, RaftIndex, Term } from '@rivulet/common';
import type { Entry, SnapshotMetadata } from './types.js';

/**
 * The messages nodes exchange. Every message carries the sender's `term` (for a pre-vote
 * request and a granted pre-vote response: the term the sender would campaign in). The
 * driver moves them between nodes; it may lose, delay, duplicate or reorder them, and Raft
 * stays safe.
 */
interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

/** Pre-vote request (thesis §9.6): "would you vote for me in `term`?" — changes no state. */
export interface PreVoteRequest extends MessageBase {
  readonly type: 'pre-vote';
  readonly lastLogIndex: RaftIndex;
  readonly lastLogTerm: Term;
}

export interface PreVoteResponse extends MessageBase {
  readonly type: 'pre-vote-response';
  readonly granted: boolean;
}

/** RequestVote (§5.2). `leadershipTransfer` lets the vote pass the leader-lease check (§3.10). */
export interface VoteRequest extends MessageBase {
  readonly type: 'vote';
  readonly lastLogIndex: RaftIndex;
  readonly lastLogTerm: Term;
  readonly leadershipTransfer: boolean;
}

export interface VoteResponse extends MessageBase {
  readonly type: 'vote-response';
  readonly granted: boolean;
}

/** AppendEntries (§5.3): entries after (prevLogIndex, prevLogTerm), plus the leader's commit. */
export interface AppendRequest extends MessageBase {
  readonly type: 'append';
  readonly prevLogIndex: RaftIndex;
  readonly prevLogTerm: Term;
  readonly entries: readonly Entry[];
  readonly leaderCommitIndex: RaftIndex;
}

/**
 * The answer to an append (and the completion of a snapshot install). On success,
 * `matchIndex` is the last index known to match the leader. On rejection, `rejectedIndex`
 * is the request's prevLogIndex and (hintIndex, hintTerm) let the leader skip a whole
 * conflicting term at once instead of probing one index per round trip.
 */
export interface AppendResponse extends MessageBase {
  readonly type: 'append-response';
  readonly success: boolean;
  readonly matchIndex: RaftIndex;
  readonly rejectedIndex: RaftIndex;
  readonly hintIndex: RaftIndex;
  readonly hintTerm: Term;
}

/**
 * Heartbeat: asserts leadership and carries a commit index the follower is known to have
 * (min of its match and the leader's commit). `readContext` tags ReadIndex quorum rounds.
 */
export interface HeartbeatRequest extends MessageBase {
  readonly type: 'heartbeat';
  readonly commitIndex: RaftIndex;
  readonly readContext: number;
}

export interface HeartbeatResponse extends MessageBase {
  readonly type: 'heartbeat-response';
  readonly readContext: number;
}

/** One chunk of a snapshot (InstallSnapshot, §7). Chunks are sent in order, one at a time. */
export interface SnapshotChunk extends MessageBase {
  readonly type: 'snapshot-chunk';
  readonly metadata: SnapshotMetadata;
  readonly totalBytes: number;
  readonly offset: number;
  readonly data: Uint8Array;
}

/** Acknowledges chunks: the receiver has the first `nextOffset` bytes of that snapshot. */
export interface SnapshotChunkResponse extends MessageBase {
  readonly type: 'snapshot-chunk-response';
  readonly snapshotIndex: RaftIndex;
  readonly nextOffset: number;
}

/** Leadership transfer (thesis §3.10): "campaign now, skipping pre-vote and the lease". */
export interface TimeoutNow extends MessageBase {
  readonly type: 'timeout-now';
}

/** A follower asks the leader for a ReadIndex on behalf of a local reader. */
export interface ReadIndexRequest extends MessageBase {
  readonly type: 'read-index';
  readonly requestId: number;
}

/** The leader's answer: `index` is safe to read at once applied; `index` is 0 when refused. */
export interface ReadIndexResponse extends MessageBase {
  readonly type: 'read-index-response';
  readonly requestId: number;
  readonly accepted: boolean;
  readonly index: RaftIndex;
}

export type Message =
  | PreVoteRequest
  | PreVoteResponse
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotChunk
  | SnapshotChunkResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message['type'];

/** Messages that only a leader sends: receiving one at the current term names the leader. */
export function isLeaderMessage(message: Message): boolean {
  return message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot-chunk';
}
