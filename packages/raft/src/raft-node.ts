import { assert, asRaftIndex } from '@rivulet/common';
import type { NodeId, RaftIndex, Term } from '@rivulet/common';
import type { RaftConfig } from './config.js';
import type { Message } from './messages.js';
import { Raft } from './raft.js';
import type { Ready } from './ready.js';
import type { RequestResult } from './roles/role.js';
import type { ConfState, HardState, ProposeResult, Role, SoftState } from './types.js';
import type { ConfigChange } from './config-change.js';

/** A read-only picture of a node, for drivers, metrics and the simulator's checkers. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly term: Term;
  readonly votedFor: NodeId | null;
  readonly role: Role;
  readonly leaderId: NodeId | null;
  readonly commitIndex: RaftIndex;
  readonly appliedIndex: RaftIndex;
  readonly firstIndex: RaftIndex;
  readonly lastIndex: RaftIndex;
  readonly confState: ConfState;
}

/**
 * The public face of one Raft node: a synchronous, single-threaded state machine in the
 * style of etcd's RawNode. It does no I/O and reads no clock: the driver calls `tick()` at
 * a fixed interval, feeds received messages to `step()`, and after each call drains
 * `ready()` / `advance()` (see `Ready` for the order of duties).
 */
export class RaftNode {
  private readonly raft: Raft;
  private previousHardState: HardState;
  private previousSoftState: SoftState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.previousHardState = this.raft.hardState();
    this.previousSoftState = this.raft.softState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  /** Advances logical time by one tick: drives election timeouts and heartbeats. */
  tick(): void {
    this.raft.tick();
  }

  /** Feeds a message received from a peer. Messages for another node are a driver bug. */
  step(message: Message): void {
    this.raft.step(message);
  }

  /** Proposes `data` for the log. Accepted only by a leader; the caller retries elsewhere. */
  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose(data);
  }

  /**
   * Starts a linearizable read. When accepted, a ReadState with this `requestId` appears in
   * a later Ready — or never, if leadership changes first, so callers need a timeout.
   */
  readIndex(requestId: number): RequestResult {
    return this.raft.role.requestRead(this.raft, requestId);
  }

  /** Asks the leader to hand leadership to `transferee` (thesis §3.10). Proposals pause meanwhile. */
  transferLeadership(transferee: NodeId): RequestResult {
    return this.raft.role.transferLeadership(this.raft, transferee);
  }

  /**
   * Proposes a membership change (leader only, one at a time). When the driver applies the
   * committed entry (kind `config-change`), it must call `applyConfigChange` with it.
   */
  proposeConfigChange(change: ConfigChange): ProposeResult {
    return this.raft.role.proposeConfigChange(this.raft, change);
  }

  /**
   * Applies a committed config change, in log order with the other committed entries, and
   * returns the new membership (which the driver records in its next snapshot).
   */
  applyConfigChange(change: ConfigChange): ConfState {
    return this.raft.applyConfigChange(change);
  }

  /** Starts an election now (for tests and operator tooling), as an election timeout would. */
  campaign(): void {
    this.raft.campaign(false);
  }

  status(): RaftStatus {
    const raft = this.raft;
    return {
      id: raft.id,
      term: raft.term,
      votedFor: raft.votedFor,
      role: raft.role.role,
      leaderId: raft.leaderId,
      commitIndex: raft.log.commitIndex,
      appliedIndex: raft.log.appliedIndex,
      firstIndex: raft.log.firstIndex(),
      lastIndex: raft.log.lastIndex(),
      confState: raft.confState(),
    };
  }

  /** The term of the entry at `index` in this node's log (durable or not), or null if not held. */
  termAt(index: number): Term | null {
    return this.raft.log.term(index);
  }

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const raft = this.raft;
    return (
      raft.messages.length > 0 ||
      raft.log.unstable().length > 0 ||
      raft.log.pendingSnapshot() !== null ||
      raft.log.hasNextCommittedEntries() ||
      raft.readStates.length > 0 ||
      !sameHardState(raft.hardState(), this.previousHardState) ||
      !sameSoftState(raft.softState(), this.previousSoftState)
    );
  }

  /** Collects the work for the driver, or returns null when there is none. */
  ready(): Ready | null {
    assert(this.outstanding === null, 'ready() called again before advance()');
    if (!this.hasReady()) return null;
    const raft = this.raft;
    const hardState = raft.hardState();
    const softState = raft.softState();
    const hardStateChanged = !sameHardState(hardState, this.previousHardState);
    const entries = [...raft.log.unstable()];
    const snapshot = raft.log.pendingSnapshot();
    const ready: Ready = {
      hardState: hardStateChanged ? hardState : null,
      softState: sameSoftState(softState, this.previousSoftState) ? null : softState,
      entries,
      overwriteFromIndex: entries[0]?.index ?? null,
      snapshot,
      messages: raft.messages,
      committedEntries: raft.log.nextCommittedEntries(raft.config.maxCommittedEntriesPerReady),
      readStates: raft.readStates,
      mustSync:
        entries.length > 0 ||
        snapshot !== null ||
        hardState.term !== this.previousHardState.term ||
        hardState.votedFor !== this.previousHardState.votedFor,
    };
    raft.messages = [];
    raft.readStates = [];
    this.previousHardState = hardState;
    this.previousSoftState = softState;
    this.outstanding = ready;
    return ready;
  }

  /** The driver finished `ready` (persisted, sent, applied). */
  advance(ready: Ready): void {
    assert(ready === this.outstanding, 'advance() with a Ready that is not the outstanding one');
    this.outstanding = null;
    const log = this.raft.log;
    if (ready.snapshot !== null) {
      log.stableSnapshotTo(ready.snapshot.metadata.index);
      if (ready.snapshot.metadata.index > log.appliedIndex) log.appliedTo(ready.snapshot.metadata.index);
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) log.stableTo(lastEntry.index, lastEntry.term);
    const lastApplied = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastApplied !== undefined) log.appliedTo(asRaftIndex(lastApplied.index));
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commitIndex === b.commitIndex;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leaderId === b.leaderId;
}
