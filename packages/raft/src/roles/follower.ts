import { assert, asRaftIndex, asTerm } from '@rivulet/common';
import type { NodeId } from '@rivulet/common';
import type { AppendRequest, HeartbeatRequest, Message, SnapshotChunk } from '../messages.js';
import type { Raft } from '../raft.js';
import { Role } from '../types.js';
import type { SnapshotMetadata } from '../types.js';
import { NonLeaderRole } from './role.js';

/** A snapshot being received chunk by chunk; its buffer is sized (and bounded) up front. */
interface IncomingSnapshot {
  readonly metadata: SnapshotMetadata;
  readonly buffer: Uint8Array;
  receivedBytes: number;
}

export class FollowerRole extends NonLeaderRole {
  readonly role = Role.Follower;
  private incoming: IncomingSnapshot | null = null;

  step(raft: Raft, message: Message): void {
    switch (message.type) {
      case 'append':
        this.heardFromLeader(raft, message.from);
        handleAppend(raft, message);
        return;
      case 'heartbeat':
        this.heardFromLeader(raft, message.from);
        handleHeartbeat(raft, message);
        return;
      case 'snapshot-chunk':
        this.heardFromLeader(raft, message.from);
        this.handleSnapshotChunk(raft, message);
        return;
      case 'timeout-now':
        raft.logger.info({ from: message.from, term: raft.term }, 'leader asked us to campaign now');
        raft.campaign(true);
        return;
      case 'read-index-response':
        if (message.accepted) raft.readStates.push({ requestId: message.requestId, index: message.index });
        return;
      default:
        // Answers to requests of an earlier role, and requests only a leader serves.
        return;
    }
  }

  private heardFromLeader(raft: Raft, leaderId: NodeId): void {
    assert(raft.leaderId === null || raft.leaderId === leaderId, `two leaders in term ${raft.term}: ${raft.leaderId} and ${leaderId}`);
    raft.leaderId = leaderId;
    raft.electionElapsedTicks = 0;
  }

  /** Raft §7: accumulate chunks in order; install once the last byte arrived. */
  private handleSnapshotChunk(raft: Raft, message: SnapshotChunk): void {
    const { metadata } = message;
    if (metadata.index <= raft.log.commitIndex) {
      this.incoming = null;
      sendAppendSuccess(raft, message.from, raft.log.commitIndex);
      return;
    }
    if (message.totalBytes > raft.config.maxSnapshotBytes) {
      raft.logger.warn({ totalBytes: message.totalBytes, limit: raft.config.maxSnapshotBytes }, 'refusing oversized snapshot');
      return;
    }
    const incoming = this.incomingFor(message);
    if (incoming === null || message.offset !== incoming.receivedBytes) {
      sendChunkAck(raft, message, incoming?.receivedBytes ?? 0);
      return;
    }
    assert(message.offset + message.data.byteLength <= message.totalBytes, 'snapshot chunk overflows its total size');
    incoming.buffer.set(message.data, message.offset);
    incoming.receivedBytes += message.data.byteLength;
    if (incoming.receivedBytes < message.totalBytes) {
      sendChunkAck(raft, message, incoming.receivedBytes);
      return;
    }
    this.incoming = null;
    installSnapshot(raft, metadata, incoming.buffer);
    sendAppendSuccess(raft, message.from, raft.log.commitIndex);
  }

  /** The receive state for this chunk's snapshot, started fresh by a chunk at offset 0. */
  private incomingFor(message: SnapshotChunk): IncomingSnapshot | null {
    const current = this.incoming;
    const same = current !== null && current.metadata.index === message.metadata.index && current.metadata.term === message.metadata.term && current.buffer.byteLength === message.totalBytes;
    if (same) return current;
    if (message.offset !== 0) return null;
    this.incoming = { metadata: message.metadata, buffer: new Uint8Array(message.totalBytes), receivedBytes: 0 };
    return this.incoming;
  }
}

function installSnapshot(raft: Raft, metadata: SnapshotMetadata, data: Uint8Array): void {
  const log = raft.log;
  if (log.matchTerm(metadata.index, metadata.term)) {
    // Our log already holds the snapshot's last entry: fast-forward the commit and keep the suffix.
    log.commitTo(metadata.index);
    raft.logger.info({ index: metadata.index }, 'snapshot already in log: fast-forwarded commit');
    return;
  }
  log.restore({ metadata, data });
  raft.setConfState(metadata.confState);
  raft.logger.info({ index: metadata.index, term: metadata.term }, 'restored snapshot');
}

/** Raft §5.3: accept entries only after a matching (prevLogIndex, prevLogTerm). */
export function handleAppend(raft: Raft, message: AppendRequest): void {
  const log = raft.log;
  if (message.prevLogIndex < log.commitIndex) {
    sendAppendSuccess(raft, message.from, log.commitIndex);
    return;
  }
  if (!log.matchTerm(message.prevLogIndex, message.prevLogTerm)) {
    rejectAppend(raft, message);
    return;
  }
  const conflict = log.findConflict(message.entries);
  if (conflict !== null) {
    const first = message.entries[0];
    assert(first !== undefined, 'a conflict comes from the entries');
    assert(conflict.index > log.commitIndex, `leader entry ${conflict.index} conflicts with committed log (commit ${log.commitIndex})`);
    log.append(message.entries.slice(conflict.index - first.index));
  }
  const lastNewIndex = asRaftIndex(message.prevLogIndex + message.entries.length);
  log.commitTo(asRaftIndex(Math.min(message.leaderCommitIndex, lastNewIndex)));
  sendAppendSuccess(raft, message.from, lastNewIndex);
}

function rejectAppend(raft: Raft, message: AppendRequest): void {
  const log = raft.log;
  const hintIndex = log.findConflictByTerm(Math.min(message.prevLogIndex, log.lastIndex()), message.prevLogTerm);
  const hintTerm = log.term(hintIndex) ?? asTerm(0);
  raft.logger.debug({ from: message.from, prevLogIndex: message.prevLogIndex, hintIndex, hintTerm }, 'rejecting append');
  raft.send({
    type: 'append-response',
    from: raft.id,
    to: message.from,
    term: raft.term,
    success: false,
    matchIndex: asRaftIndex(0),
    rejectedIndex: message.prevLogIndex,
    hintIndex,
    hintTerm,
  });
}

/** The heartbeat's commit index is one this follower is known to hold (min of match and commit). */
export function handleHeartbeat(raft: Raft, message: HeartbeatRequest): void {
  raft.log.commitTo(message.commitIndex);
  raft.send({ type: 'heartbeat-response', from: raft.id, to: message.from, term: raft.term, readContext: message.readContext });
}

function sendAppendSuccess(raft: Raft, to: NodeId, matchIndex: number): void {
  raft.send({
    type: 'append-response',
    from: raft.id,
    to,
    term: raft.term,
    success: true,
    matchIndex: asRaftIndex(matchIndex),
    rejectedIndex: asRaftIndex(0),
    hintIndex: asRaftIndex(0),
    hintTerm: asTerm(0),
  });
}

function sendChunkAck(raft: Raft, message: SnapshotChunk, nextOffset: number): void {
  raft.send({
    type: 'snapshot-chunk-response',
    from: raft.id,
    to: message.from,
    term: raft.term,
    snapshotIndex: message.metadata.index,
    nextOffset,
  });
}
