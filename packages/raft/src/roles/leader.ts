import { assert, AssertionError, asRaftIndex } from '@rivulet/common';
import type { NodeId, RaftIndex } from '@rivulet/common';
import type { AppendResponse, HeartbeatResponse, Message, ReadIndexRequest, SnapshotChunkResponse } from '../messages.js';
import { Progress, ProgressState } from '../progress.js';
import type { Raft } from '../raft.js';
import { EntryKind, RejectReason, Role } from '../types.js';
import type { Entry, EntryKind as EntryKindType, ProposeResult } from '../types.js';
import type { RequestResult, RoleBehaviour } from './role.js';
import { encodeConfigChange, invalidConfigChangeReason } from '../config-change.js';
import type { ConfigChange } from '../config-change.js';

/** A ReadIndex request waiting for a quorum to confirm this node is still the leader. */
interface PendingRead {
  readonly context: number;
  readonly index: RaftIndex;
  readonly requester: NodeId;
  readonly requestId: number;
  readonly acks: Set<NodeId>;
}

/**
 * The index a quorum of voters has matched, if it is from the current term — else null.
 * Raft §5.4.2: a leader commits only entries of its own term by counting replicas; earlier
 * entries become committed indirectly, through the no-op the leader appends on election.
 */
export function quorumCommitIndex(raft: Raft, progress: ReadonlyMap<NodeId, Progress>): RaftIndex | null {
  const matches: number[] = [];
  for (const voter of raft.voters) matches.push(progress.get(voter)?.match ?? 0);
  matches.sort((a, b) => b - a);
  const quorumMatch = matches[raft.quorum() - 1];
  assert(quorumMatch !== undefined, 'a quorum exists');
  if (raft.log.term(quorumMatch) !== raft.term) return null;
  return asRaftIndex(quorumMatch);
}

export class LeaderRole implements RoleBehaviour {
  readonly role = Role.Leader;
  readonly progress = new Map<NodeId, Progress>();
  private heartbeatElapsedTicks = 0;
  private transferee: NodeId | null = null;
  private transferElapsedTicks = 0;
  private pendingReads: PendingRead[] = [];
  private nextReadContext = 1;
  /**
   * The index of the latest config-change entry (or of the no-op appended on election).
   * A new change waits until this is applied: one change at a time, and never before an
   * entry of this term committed (the fix to the single-server change bug, raft-dev 2015).
   */
  private pendingConfigIndex: RaftIndex = asRaftIndex(0);

  constructor(raft: Raft) {
    this.syncProgressWithMembership(raft);
    this.selfProgress(raft).maybeUpdate(raft.log.lastIndex());
  }

  /** Raft §8: a new leader appends a no-op so entries of earlier terms can commit. */
  start(raft: Raft): void {
    this.pendingConfigIndex = this.appendEntry(raft, EntryKind.Noop, new Uint8Array(0)).index;
    this.broadcastAppend(raft);
  }

  /** Tracks progress for exactly the current voters and learners; returns the members added. */
  private syncProgressWithMembership(raft: Raft): NodeId[] {
    const next = asRaftIndex(raft.log.lastIndex() + 1);
    const added: NodeId[] = [];
    for (const id of [...raft.voters, ...raft.learners]) {
      if (this.progress.has(id)) continue;
      this.progress.set(id, new Progress(next, raft.config.maxInflightAppends));
      added.push(id);
    }
    for (const id of this.progress.keys()) if (!raft.isMember(id)) this.progress.delete(id);
    return added;
  }

  membershipChanged(raft: Raft): void {
    if (!raft.isVoter(raft.id)) {
      raft.logger.info({ term: raft.term }, 'leader is no longer a voter: stepping down');
      raft.becomeFollower(raft.term, null);
      return;
    }
    const added = this.syncProgressWithMembership(raft);
    if (this.transferee !== null && !raft.isVoter(this.transferee)) this.transferee = null;
    // The quorum changed, so the commit index may move (e.g. a slow voter was removed).
    if (this.maybeCommit(raft)) {
      this.broadcastAppend(raft);
    } else {
      for (const id of added) if (id !== raft.id) this.sendAppend(raft, id, true);
    }
  }

  proposeConfigChange(raft: Raft, change: ConfigChange): ProposeResult {
    if (this.transferee !== null) return { accepted: false, reason: RejectReason.LeadershipTransferInProgress, leaderId: raft.id };
    if (this.pendingConfigIndex > raft.log.appliedIndex) return { accepted: false, reason: RejectReason.ConfigChangePending, leaderId: raft.id };
    const invalid = invalidConfigChangeReason(raft.confState(), change);
    if (invalid !== null) {
      raft.logger.warn({ change, invalid }, 'refusing config change');
      return { accepted: false, reason: RejectReason.InvalidConfigChange, leaderId: raft.id };
    }
    const entry = this.appendEntry(raft, EntryKind.ConfigChange, encodeConfigChange(change));
    this.pendingConfigIndex = entry.index;
    this.broadcastAppend(raft);
    return { accepted: true, index: entry.index, term: entry.term };
  }

  private selfProgress(raft: Raft): Progress {
    const progress = this.progress.get(raft.id);
    assert(progress !== undefined, 'a leader is a voter');
    return progress;
  }

  tick(raft: Raft): void {
    this.heartbeatElapsedTicks++;
    raft.electionElapsedTicks++;
    if (this.transferee !== null && ++this.transferElapsedTicks >= raft.config.electionTimeoutTicks) {
      raft.logger.info({ transferee: this.transferee }, 'leadership transfer timed out');
      this.transferee = null;
    }
    if (raft.electionElapsedTicks >= raft.config.electionTimeoutTicks) {
      raft.electionElapsedTicks = 0;
      if (raft.config.checkQuorum && !this.quorumActive(raft)) {
        raft.logger.warn({ term: raft.term }, 'no contact with a quorum for an election timeout: stepping down');
        raft.becomeFollower(raft.term, null);
        return;
      }
    }
    if (this.heartbeatElapsedTicks >= raft.config.heartbeatIntervalTicks) {
      this.heartbeatElapsedTicks = 0;
      this.broadcastHeartbeat(raft);
    }
  }

  /** Check-quorum (thesis §6.2): counts voters heard from since the last check, then clears. */
  private quorumActive(raft: Raft): boolean {
    let active = 0;
    for (const [id, progress] of this.progress) {
      if (raft.isVoter(id) && (id === raft.id || progress.recentActive)) active++;
      progress.recentActive = false;
    }
    return active >= raft.quorum();
  }

  step(raft: Raft, message: Message): void {
    switch (message.type) {
      case 'append-response':
        this.handleAppendResponse(raft, message);
        return;
      case 'heartbeat-response':
        this.handleHeartbeatResponse(raft, message);
        return;
      case 'snapshot-chunk-response':
        this.handleSnapshotChunkResponse(raft, message);
        return;
      case 'read-index':
        this.handleReadIndexRequest(raft, message);
        return;
      case 'append':
      case 'heartbeat':
      case 'snapshot-chunk':
        throw new AssertionError(`two leaders in term ${raft.term}: ${raft.id} and ${message.from}`);
      default:
        // Late vote answers and messages for followers carry nothing for a leader.
        return;
    }
  }

  propose(raft: Raft, data: Uint8Array): ProposeResult {
    if (this.transferee !== null) {
      return { accepted: false, reason: RejectReason.LeadershipTransferInProgress, leaderId: raft.id };
    }
    if (raft.log.lastIndex() - raft.log.commitIndex >= raft.config.maxUncommittedEntries) {
      return { accepted: false, reason: RejectReason.TooManyUncommittedEntries, leaderId: raft.id };
    }
    const entry = this.appendEntry(raft, EntryKind.Normal, data);
    this.broadcastAppend(raft);
    return { accepted: true, index: entry.index, term: entry.term };
  }

  /** A leader only ever appends after its last entry: it never overwrites its own log. */
  private appendEntry(raft: Raft, kind: EntryKindType, data: Uint8Array): Entry {
    const entry: Entry = { index: asRaftIndex(raft.log.lastIndex() + 1), term: raft.term, kind, data };
    raft.log.append([entry]);
    assert(raft.log.lastIndex() === entry.index, 'leader append must extend the log');
    this.selfProgress(raft).maybeUpdate(entry.index);
    this.maybeCommit(raft);
    return entry;
  }

  private maybeCommit(raft: Raft): boolean {
    const index = quorumCommitIndex(raft, this.progress);
    if (index === null || !raft.log.commitTo(index)) return false;
    raft.logger.debug({ commitIndex: index }, 'leader advanced commit');
    return true;
  }

  broadcastAppend(raft: Raft): void {
    for (const id of this.progress.keys()) if (id !== raft.id) this.sendAppend(raft, id, true);
  }

  /**
   * Sends the next batch to `to` unless its flow control is paused. Falls back to a snapshot
   * when the entries it needs were compacted. Returns whether a message went out.
   */
  private sendAppend(raft: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.progress.get(to);
    assert(progress !== undefined, `no progress for ${to}`);
    if (progress.isPaused()) return false;
    const log = raft.log;
    assert(progress.next <= log.lastIndex() + 1, `next ${progress.next} beyond leader log ${log.lastIndex()}`);
    const prevLogIndex = asRaftIndex(progress.next - 1);
    const prevLogTerm = log.term(prevLogIndex);
    if (prevLogTerm === null || progress.next < log.firstIndex()) return this.sendSnapshot(raft, to, progress);
    const entries = log.entries(progress.next, progress.next + raft.config.maxEntriesPerMessage, raft.config.maxBytesPerMessage);
    if (entries.length === 0 && !sendIfEmpty) return false;
    raft.send({ type: 'append', from: raft.id, to, term: raft.term, prevLogIndex, prevLogTerm, entries, leaderCommitIndex: log.commitIndex });
    progress.sentEntries(asRaftIndex(prevLogIndex + entries.length), entries.length);
    return true;
  }

  private sendSnapshot(raft: Raft, to: NodeId, progress: Progress): boolean {
    const snapshot = raft.log.storage.snapshot();
    assert(snapshot.metadata.index >= raft.log.firstIndex() - 1, 'storage snapshot does not cover the compacted log');
    raft.logger.info({ to, snapshotIndex: snapshot.metadata.index, next: progress.next }, 'follower needs a snapshot');
    progress.becomeSnapshot(snapshot);
    this.sendSnapshotChunk(raft, to, progress);
    return true;
  }

  private sendSnapshotChunk(raft: Raft, to: NodeId, progress: Progress): void {
    const transfer = progress.snapshotTransfer;
    assert(transfer !== null, 'snapshot state has a transfer');
    const { snapshot, ackedOffset } = transfer;
    const data = snapshot.data.subarray(ackedOffset, ackedOffset + raft.config.maxBytesPerMessage);
    raft.send({
      type: 'snapshot-chunk',
      from: raft.id,
      to,
      term: raft.term,
      metadata: snapshot.metadata,
      totalBytes: snapshot.data.byteLength,
      offset: ackedOffset,
      data,
    });
  }

  private handleAppendResponse(raft: Raft, message: AppendResponse): void {
    const progress = this.progress.get(message.from);
    if (progress === undefined) return;
    if (!message.success) {
      const probeIndex = message.hintTerm > 0 ? raft.log.findConflictByTerm(message.hintIndex, message.hintTerm) : message.hintIndex;
      if (progress.maybeDecreaseTo(message.rejectedIndex, probeIndex)) this.sendAppend(raft, message.from, true);
      return;
    }
    if (!progress.maybeUpdate(message.matchIndex)) return;
    this.advanceProgressState(progress);
    if (this.maybeCommit(raft)) {
      this.broadcastAppend(raft);
    } else {
      // Pipelining: fill the follower's in-flight window; each round is one message.
      for (let sent = 0; sent < raft.config.maxInflightAppends; sent++) {
        if (!this.sendAppend(raft, message.from, false)) break;
      }
    }
    if (this.transferee === message.from && progress.match === raft.log.lastIndex()) this.sendTimeoutNow(raft, message.from);
  }

  /** A successful answer: a probing follower is in step again; a snapshot has been installed. */
  private advanceProgressState(progress: Progress): void {
    switch (progress.state) {
      case ProgressState.Probe:
        progress.becomeReplicate();
        return;
      case ProgressState.Snapshot:
        if (progress.match >= (progress.snapshotTransfer?.snapshot.metadata.index ?? 0)) {
          progress.becomeProbe();
          progress.becomeReplicate();
        }
        return;
      case ProgressState.Replicate:
        progress.inflights.freeUpTo(progress.match);
        return;
    }
  }

  private handleHeartbeatResponse(raft: Raft, message: HeartbeatResponse): void {
    const progress = this.progress.get(message.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    progress.probeSent = false;
    const behind = progress.match < raft.log.lastIndex();
    if (progress.state === ProgressState.Replicate && behind && progress.match === progress.matchAtLastHeartbeat) {
      // No progress over a whole heartbeat round while entries are owed: some appends were
      // lost, and nothing else would notice. Probe again from the match point.
      progress.becomeProbe();
    }
    progress.matchAtLastHeartbeat = progress.match;
    if (progress.state === ProgressState.Snapshot) {
      this.sendSnapshotChunk(raft, message.from, progress);
    } else if (behind) {
      this.sendAppend(raft, message.from, true);
    }
    if (message.readContext > 0) this.confirmReads(raft, message.from, message.readContext);
  }

  private handleSnapshotChunkResponse(raft: Raft, message: SnapshotChunkResponse): void {
    const progress = this.progress.get(message.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    const transfer = progress.snapshotTransfer;
    if (progress.state !== ProgressState.Snapshot || transfer === null) return;
    if (transfer.snapshot.metadata.index !== message.snapshotIndex || message.nextOffset === transfer.ackedOffset) return;
    // A smaller offset means the follower lost its partial copy (it restarted): resume there.
    transfer.ackedOffset = Math.min(message.nextOffset, transfer.snapshot.data.byteLength);
    if (transfer.ackedOffset < transfer.snapshot.data.byteLength) this.sendSnapshotChunk(raft, message.from, progress);
  }

  broadcastHeartbeat(raft: Raft): void {
    const newestRead = this.pendingReads[this.pendingReads.length - 1];
    const readContext = newestRead?.context ?? 0;
    for (const [id, progress] of this.progress) {
      if (id === raft.id) continue;
      const commitIndex = asRaftIndex(Math.min(progress.match, raft.log.commitIndex));
      raft.send({ type: 'heartbeat', from: raft.id, to: id, term: raft.term, commitIndex, readContext });
    }
  }

  transferLeadership(raft: Raft, transferee: NodeId): RequestResult {
    const progress = this.progress.get(transferee);
    if (transferee === raft.id || progress === undefined || !raft.isVoter(transferee)) return { accepted: false, reason: RejectReason.InvalidTransferee };
    raft.logger.info({ transferee }, 'transferring leadership');
    this.transferee = transferee;
    this.transferElapsedTicks = 0;
    if (progress.match === raft.log.lastIndex()) {
      this.sendTimeoutNow(raft, transferee);
    } else {
      this.sendAppend(raft, transferee, true);
    }
    return { accepted: true };
  }

  private sendTimeoutNow(raft: Raft, to: NodeId): void {
    raft.send({ type: 'timeout-now', from: raft.id, to, term: raft.term });
  }

  requestRead(raft: Raft, requestId: number): RequestResult {
    return this.startRead(raft, raft.id, requestId);
  }

  private handleReadIndexRequest(raft: Raft, message: ReadIndexRequest): void {
    const result = this.startRead(raft, message.from, message.requestId);
    if (!result.accepted) this.answerRead(raft, message.from, message.requestId, null);
  }

  /**
   * ReadIndex (thesis §6.4): remember the commit index, then confirm leadership with a
   * heartbeat round. Refused until an entry of this term is committed, since only then is
   * the commit index known to cover every entry committed by earlier leaders.
   */
  private startRead(raft: Raft, requester: NodeId, requestId: number): RequestResult {
    if (raft.log.term(raft.log.commitIndex) !== raft.term) return { accepted: false, reason: RejectReason.LeaderNotReady };
    if (raft.voters.size === 1) {
      this.answerRead(raft, requester, requestId, raft.log.commitIndex);
      return { accepted: true };
    }
    if (this.pendingReads.length >= raft.config.maxPendingReads) return { accepted: false, reason: RejectReason.TooManyPendingReads };
    const context = this.nextReadContext++;
    this.pendingReads.push({ context, index: raft.log.commitIndex, requester, requestId, acks: new Set([raft.id]) });
    this.broadcastHeartbeat(raft);
    return { accepted: true };
  }

  /** A heartbeat answer for `readContext` confirms every read started at or before it. */
  private confirmReads(raft: Raft, from: NodeId, readContext: number): void {
    if (!raft.isVoter(from)) return;
    for (const read of this.pendingReads) {
      if (read.context > readContext) break;
      read.acks.add(from);
    }
    while (this.pendingReads.length > 0 && (this.pendingReads[0]?.acks.size ?? 0) >= raft.quorum()) {
      const read = this.pendingReads.shift();
      assert(read !== undefined, 'checked non-empty');
      this.answerRead(raft, read.requester, read.requestId, read.index);
    }
  }

  private answerRead(raft: Raft, requester: NodeId, requestId: number, index: RaftIndex | null): void {
    if (requester === raft.id) {
      if (index !== null) raft.readStates.push({ requestId, index });
      return;
    }
    raft.send({
      type: 'read-index-response',
      from: raft.id,
      to: requester,
      term: raft.term,
      requestId,
      accepted: index !== null,
      index: index ?? asRaftIndex(0),
    });
  }

  recordVote(_raft: Raft, from: NodeId, _granted: boolean): void {
    throw new AssertionError(`leader received a vote from ${from}`);
  }

  leave(raft: Raft): void {
    if (this.pendingReads.length > 0) raft.logger.info({ dropped: this.pendingReads.length }, 'dropping pending reads on step-down');
    this.pendingReads = [];
    this.transferee = null;
  }
}
