import { assert, AssertionError, asRaftIndex, asTerm } from '@rivulet/common';
import type { Logger, NodeId, Random, Term } from '@rivulet/common';
import { resolveConfig } from './config.js';
import type { RaftConfig, ResolvedRaftConfig } from './config.js';
import { isLeaderMessage } from './messages.js';
import type { Message, VoteRequest, PreVoteRequest } from './messages.js';
import { RaftLog } from './raft-log.js';
import { CandidateRole, PreCandidateRole } from './roles/candidate.js';
import { FollowerRole } from './roles/follower.js';
import { LeaderRole } from './roles/leader.js';
import type { RoleBehaviour } from './roles/role.js';
import { Role } from './types.js';
import type { ConfState, HardState, ProposeResult, ReadState, SoftState } from './types.js';
import { applyConfigChangeTo } from './config-change.js';
import type { ConfigChange } from './config-change.js';

/** More outgoing messages than this between two Readys means the driver stopped draining. */
const MAX_PENDING_MESSAGES = 1_000_000;

/**
 * The Raft state shared by every role, and the transitions between roles. Per-role
 * behaviour lives in `roles/` (one object per role, swapped on each transition), so this
 * class never branches on the role. Not exported from the package: `RaftNode` wraps it.
 */
export class Raft {
  readonly id: NodeId;
  readonly config: ResolvedRaftConfig;
  readonly logger: Logger;
  readonly random: Random;
  voters: ReadonlySet<NodeId> = new Set();
  learners: ReadonlySet<NodeId> = new Set();
  private currentConfState: ConfState = { voters: [], learners: [] };
  readonly log: RaftLog;
  term: Term;
  votedFor: NodeId | null;
  leaderId: NodeId | null = null;
  role: RoleBehaviour;
  /** Ticks since the last reset: contact with a leader for followers, the last quorum check for leaders. */
  electionElapsedTicks = 0;
  randomizedElectionTimeoutTicks = 0;
  messages: Message[] = [];
  readStates: ReadState[] = [];

  constructor(rawConfig: RaftConfig) {
    this.config = resolveConfig(rawConfig);
    this.id = this.config.id;
    this.logger = this.config.logger.child({ nodeId: this.id });
    this.random = this.config.random;
    const hardState = this.config.storage.initialState();
    const snapshot = this.config.storage.snapshot();
    const fromSnapshot = snapshot.metadata.index > 0 && snapshot.metadata.index === this.config.appliedIndex;
    this.setConfState(fromSnapshot ? snapshot.metadata.confState : { voters: this.config.voters, learners: this.config.learners });
    this.term = hardState.term;
    this.votedFor = hardState.votedFor;
    this.log = new RaftLog(this.config.storage, hardState.commitIndex, this.config.appliedIndex);
    this.role = new FollowerRole();
    this.resetElectionTimer();
    this.logger.info({ term: this.term, commitIndex: this.log.commitIndex, lastIndex: this.log.lastIndex() }, 'raft node started');
  }

  hardState(): HardState {
    return { term: this.term, votedFor: this.votedFor, commitIndex: this.log.commitIndex };
  }

  softState(): SoftState {
    return { role: this.role.role, leaderId: this.leaderId };
  }

  confState(): ConfState {
    return this.currentConfState;
  }

  /** Replaces the membership (start-up, snapshot install, an applied config change). */
  setConfState(confState: ConfState): void {
    assert(confState.voters.length > 0, 'a configuration always has a voter');
    this.voters = new Set(confState.voters);
    this.learners = new Set(confState.learners);
    this.currentConfState = {
      voters: [...confState.voters].sort((a, b) => a - b),
      learners: [...confState.learners].sort((a, b) => a - b),
    };
    assert(this.voters.size + this.learners.size === confState.voters.length + confState.learners.length, 'voters and learners are disjoint');
  }

  /** The driver applied a committed config change; the role adjusts (the leader's progress). */
  applyConfigChange(change: ConfigChange): ConfState {
    const before = this.confState();
    const after = applyConfigChangeTo(before, change);
    if (after === before) return before;
    this.setConfState(after);
    this.logger.info({ change, voters: after.voters, learners: after.learners }, 'membership changed');
    this.role.membershipChanged(this);
    return after;
  }

  isMember(id: NodeId): boolean {
    return this.voters.has(id) || this.learners.has(id);
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id);
  }

  /** Queues a message for the next Ready. */
  send(message: Message): void {
    assert(message.to !== this.id, `sending ${message.type} to self`);
    assert(this.messages.length < MAX_PENDING_MESSAGES, 'outgoing messages are not being drained');
    this.messages.push(message);
  }

  tick(): void {
    this.role.tick(this);
  }

  propose(data: Uint8Array): ProposeResult {
    return this.role.propose(this, data);
  }

  step(message: Message): void {
    assert(message.to === this.id, `message for ${message.to} delivered to ${this.id}`);
    if (message.term > this.term) {
      if (!this.acceptHigherTerm(message)) return;
    } else if (message.term < this.term) {
      this.answerLowerTerm(message);
      return;
    }
    if (message.type === 'vote' || message.type === 'pre-vote') {
      this.handleVoteRequest(message);
      return;
    }
    this.role.step(this, message);
  }

  /**
   * A message from a higher term. Returns false when it must be ignored. With check-quorum,
   * a node that heard from a live leader within the election timeout ignores (pre-)votes,
   * so a partitioned node that rejoins cannot depose a healthy leader (thesis §4.2.3).
   */
  private acceptHigherTerm(message: Message): boolean {
    if (message.type === 'vote' || message.type === 'pre-vote') {
      const forced = message.type === 'vote' && message.leadershipTransfer;
      const inLease = this.config.checkQuorum && this.leaderId !== null && this.electionElapsedTicks < this.config.electionTimeoutTicks;
      if (inLease && !forced) {
        this.logger.debug({ from: message.from, term: this.term, messageTerm: message.term }, 'ignoring vote request within leader lease');
        return false;
      }
    }
    // A pre-vote request or a granted pre-vote response carries a future term; it changes no state.
    if (message.type === 'pre-vote') return true;
    if (message.type === 'pre-vote-response' && message.granted) return true;
    this.logger.info({ from: message.from, type: message.type, term: this.term, messageTerm: message.term }, 'stepping down to a higher term');
    this.becomeFollower(message.term, isLeaderMessage(message) ? message.from : null);
    return true;
  }

  /**
   * A message from a stale term. A stale leader's appends are answered with our term so it
   * steps down: with pre-vote and check-quorum, this node's term may have moved on while
   * the others kept following that leader, and silence would leave the cluster stuck.
   */
  private answerLowerTerm(message: Message): void {
    if (isLeaderMessage(message) && (this.config.checkQuorum || this.config.preVote)) {
      this.send({
        type: 'append-response',
        from: this.id,
        to: message.from,
        term: this.term,
        success: false,
        matchIndex: asRaftIndex(0),
        rejectedIndex: asRaftIndex(0),
        hintIndex: asRaftIndex(0),
        hintTerm: asTerm(0),
      });
    } else if (message.type === 'pre-vote') {
      this.send({ type: 'pre-vote-response', from: this.id, to: message.from, term: this.term, granted: false });
    }
  }

  /** Raft §5.2 and §5.4.1: one vote per term, only for a candidate with an up-to-date log. */
  private handleVoteRequest(message: VoteRequest | PreVoteRequest): void {
    const isPreVote = message.type === 'pre-vote';
    const canVote =
      this.votedFor === message.from ||
      (this.votedFor === null && this.leaderId === null) ||
      (isPreVote && message.term > this.term);
    const granted = canVote && this.log.isUpToDate(message.lastLogIndex, message.lastLogTerm);
    const responseType = isPreVote ? 'pre-vote-response' : 'vote-response';
    this.logger.debug({ from: message.from, type: message.type, granted, messageTerm: message.term }, 'answering vote request');
    this.send({ type: responseType, from: this.id, to: message.from, term: granted ? message.term : this.term, granted });
    if (granted && !isPreVote) {
      assert(message.term === this.term, 'a vote is granted only in the current term');
      assert(this.votedFor === null || this.votedFor === message.from, 'voting twice in one term');
      this.votedFor = message.from;
      this.electionElapsedTicks = 0;
    }
  }

  resetElectionTimer(): void {
    this.electionElapsedTicks = 0;
    const timeout = this.config.electionTimeoutTicks;
    this.randomizedElectionTimeoutTicks = timeout + this.random.nextInt(timeout);
  }

  private setTerm(term: Term): void {
    assert(term >= this.term, `term went back ${this.term} -> ${term}`);
    if (term !== this.term) {
      this.term = term;
      this.votedFor = null;
    }
  }

  becomeFollower(term: Term, leaderId: NodeId | null): void {
    this.role.leave(this);
    this.setTerm(term);
    this.leaderId = leaderId;
    this.role = new FollowerRole();
    this.resetElectionTimer();
    this.logger.info({ term, leaderId }, 'became follower');
  }

  becomePreCandidate(): void {
    this.assertTransition(Role.PreCandidate, this.role.role !== Role.Leader);
    // Pre-vote changes neither term nor vote, so a failed round leaves no trace.
    this.leaderId = null;
    this.role = new PreCandidateRole();
    this.logger.info({ term: this.term }, 'became pre-candidate');
  }

  becomeCandidate(): void {
    this.assertTransition(Role.Candidate, this.role.role !== Role.Leader);
    this.setTerm(asTerm(this.term + 1));
    this.votedFor = this.id;
    this.leaderId = null;
    this.role = new CandidateRole();
    this.resetElectionTimer();
    this.logger.info({ term: this.term }, 'became candidate');
  }

  becomeLeader(): void {
    this.assertTransition(Role.Leader, this.role.role === Role.Candidate);
    assert(this.votedFor === this.id, 'a leader voted for itself');
    this.leaderId = this.id;
    const leader = new LeaderRole(this);
    this.role = leader;
    this.electionElapsedTicks = 0;
    leader.start(this);
    this.logger.info({ term: this.term, lastIndex: this.log.lastIndex() }, 'became leader');
  }

  private assertTransition(to: Role, allowed: boolean): void {
    if (!allowed) throw new AssertionError(`invalid transition [${this.role.role} -> ${to}]`);
  }

  /** Starts an election: a pre-vote round first when enabled, unless a leader asked us to. */
  campaign(leadershipTransfer: boolean): void {
    if (this.role.role === Role.Leader) {
      this.logger.debug({ term: this.term }, 'already leader: not campaigning');
      return;
    }
    // Learners and removed nodes never campaign: they cannot win, and trying would only
    // disturb the voters.
    if (!this.isVoter(this.id)) {
      this.logger.debug({}, 'not a voter: not campaigning');
      return;
    }
    if (this.config.preVote && !leadershipTransfer) {
      this.becomePreCandidate();
      this.requestVotes('pre-vote', false);
    } else {
      this.becomeCandidate();
      this.requestVotes('vote', leadershipTransfer);
    }
  }

  /** Sends (pre-)vote requests to every other voter; our own vote is counted by the role. */
  requestVotes(type: 'pre-vote' | 'vote', leadershipTransfer: boolean): void {
    const term = type === 'pre-vote' ? asTerm(this.term + 1) : this.term;
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const voter of this.voters) {
      if (voter === this.id) continue;
      if (type === 'vote') {
        this.send({ type, from: this.id, to: voter, term, lastLogIndex, lastLogTerm, leadershipTransfer });
      } else {
        this.send({ type, from: this.id, to: voter, term, lastLogIndex, lastLogTerm });
      }
    }
    this.role.recordVote(this, this.id, true);
  }
}
