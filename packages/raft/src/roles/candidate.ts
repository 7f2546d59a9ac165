import type { NodeId } from '@rivulet/common';
import { isLeaderMessage } from '../messages.js';
import type { Message } from '../messages.js';
import type { Raft } from '../raft.js';
import { Role } from '../types.js';
import { NonLeaderRole } from './role.js';

/** Shared by both campaign phases: collect one answer per voter and decide on a quorum. */
abstract class CampaignRole extends NonLeaderRole {
  private readonly votes = new Map<NodeId, boolean>();
  protected abstract readonly responseType: 'pre-vote-response' | 'vote-response';
  protected abstract won(raft: Raft): void;

  step(raft: Raft, message: Message): void {
    if (isLeaderMessage(message)) {
      // Raft §5.2: a leader of our term exists, so this campaign is over.
      raft.becomeFollower(raft.term, message.from);
      raft.role.step(raft, message);
      return;
    }
    if (message.type === this.responseType) this.recordVote(raft, message.from, message.granted);
  }

  override recordVote(raft: Raft, from: NodeId, granted: boolean): void {
    if (!raft.isVoter(from) || this.votes.has(from)) return;
    this.votes.set(from, granted);
    let grantedCount = 0;
    for (const vote of this.votes.values()) if (vote) grantedCount++;
    const rejectedCount = this.votes.size - grantedCount;
    raft.logger.debug({ from, granted, grantedCount, rejectedCount, role: this.role }, 'vote recorded');
    if (grantedCount >= raft.quorum()) {
      this.won(raft);
    } else if (rejectedCount >= raft.quorum()) {
      raft.becomeFollower(raft.term, null);
    }
  }
}

/** Thesis §9.6: ask whether we could win before disturbing anyone with a new term. */
export class PreCandidateRole extends CampaignRole {
  readonly role = Role.PreCandidate;
  protected readonly responseType = 'pre-vote-response';

  protected won(raft: Raft): void {
    raft.becomeCandidate();
    raft.requestVotes('vote', false);
  }
}

export class CandidateRole extends CampaignRole {
  readonly role = Role.Candidate;
  protected readonly responseType = 'vote-response';

  protected won(raft: Raft): void {
    raft.becomeLeader();
  }
}
