import { AssertionError } from '@rivulet/common';
import type { NodeId } from '@rivulet/common';
import type { ConfigChange } from '../config-change.js';
import type { Message } from '../messages.js';
import type { Raft } from '../raft.js';
import { RejectReason } from '../types.js';
import type { ProposeResult, Role } from '../types.js';

/** The outcome of a read or transfer request: accepted, or refused with a reason. */
export type RequestResult = { readonly accepted: true } | { readonly accepted: false; readonly reason: RejectReason };

/**
 * Behaviour that differs per role. `Raft` holds exactly one of these and swaps it on every
 * transition, so no code branches on the role.
 */
export interface RoleBehaviour {
  readonly role: Role;
  /** One unit of logical time passed. */
  tick(raft: Raft): void;
  /** A message of the current term, other than a (pre-)vote request, which `Raft` answers itself. */
  step(raft: Raft, message: Message): void;
  propose(raft: Raft, data: Uint8Array): ProposeResult;
  /** A ReadIndex request from the local driver. */
  requestRead(raft: Raft, requestId: number): RequestResult;
  transferLeadership(raft: Raft, transferee: NodeId): RequestResult;
  /** A (pre-)vote answer, including our own. Only campaigning roles take votes. */
  recordVote(raft: Raft, from: NodeId, granted: boolean): void;
  /** Called once when the node leaves this role, to drop role-specific state. */
  leave(raft: Raft): void;
  /** Only a leader appends membership changes, one at a time. */
  proposeConfigChange(raft: Raft, change: ConfigChange): ProposeResult;
  /** The membership changed (after `Raft.voters` / `learners` were updated). */
  membershipChanged(raft: Raft): void;
}

/** Defaults shared by the roles that are not the leader. */
export abstract class NonLeaderRole implements RoleBehaviour {
  abstract readonly role: Role;
  abstract step(raft: Raft, message: Message): void;

  /** Raft §5.2: without hearing from a leader for a randomized timeout, campaign. */
  tick(raft: Raft): void {
    raft.electionElapsedTicks++;
    if (raft.electionElapsedTicks < raft.randomizedElectionTimeoutTicks) return;
    raft.resetElectionTimer();
    raft.campaign(false);
  }

  propose(raft: Raft, _data: Uint8Array): ProposeResult {
    return { accepted: false, reason: RejectReason.NotLeader, leaderId: raft.leaderId };
  }

  /** Forwards the read to the leader, whose answer arrives as a read-index-response. */
  requestRead(raft: Raft, requestId: number): RequestResult {
    if (raft.leaderId === null) return { accepted: false, reason: RejectReason.NotLeader };
    raft.send({ type: 'read-index', from: raft.id, to: raft.leaderId, term: raft.term, requestId });
    return { accepted: true };
  }

  transferLeadership(_raft: Raft, _transferee: NodeId): RequestResult {
    return { accepted: false, reason: RejectReason.NotLeader };
  }

  recordVote(_raft: Raft, from: NodeId, _granted: boolean): void {
    throw new AssertionError(`${this.role} received a vote from ${from}`);
  }

  leave(_raft: Raft): void {}

  proposeConfigChange(raft: Raft, _change: ConfigChange): ProposeResult {
    return { accepted: false, reason: RejectReason.NotLeader, leaderId: raft.leaderId };
  }

  membershipChanged(_raft: Raft): void {}
}
