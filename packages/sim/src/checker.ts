import { asRaftIndex } from '@rivulet/common';
import type { NodeId } from '@rivulet/common';
import { Role } from '@rivulet/raft';
import type { Entry, HardState, MemoryRaftLog, RaftNode } from '@rivulet/raft';
import { entryFingerprint } from './state-machine.js';

/** A broken safety property. The simulator catches it, reports the seed and the last events. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
}

function violated(message: string): never {
  throw new InvariantViolation(message);
}

/** What the checker remembers about one (index, term) pair seen in any durable log. */
interface LoggedEntry {
  readonly previousTerm: number | null;
  readonly proposalId: number;
}

interface NodeWatermarks {
  incarnation: number;
  commitIndex: number;
  appliedIndex: number;
}

interface DurableState {
  term: number;
  votedFor: NodeId | null;
  commitIndex: number;
}

/**
 * Checks Raft's safety properties (paper figure 3) as the run goes:
 * - election safety: at most one leader per term;
 * - log matching: equal (index, term) in two durable logs ⇒ equal entry and equal
 *   previous term, which by induction means identical prefixes;
 * - leader completeness: a new leader's log holds every entry applied anywhere so far;
 * - state machine safety: every node's digest after applying index i is the same;
 * - monotonicity: commit and applied indices never go back within one incarnation, and the
 *   durable term and commit never go back at all; a durable vote never changes within a term.
 */
export class InvariantChecker {
  private readonly leaderByTerm = new Map<number, NodeId>();
  private readonly loggedEntries = new Map<number, Map<number, LoggedEntry>>();
  private readonly committedTermAt: number[] = [0];
  private readonly digestAt: number[] = [0];
  private readonly leadersChecked = new Set<string>();
  private readonly watermarks = new Map<NodeId, NodeWatermarks>();
  private readonly durable = new Map<NodeId, DurableState>();

  get highestAppliedIndex(): number {
    return this.committedTermAt.length - 1;
  }

  /** Called right after the driver persisted a Ready's entries and hard state. */
  onPersist(nodeId: NodeId, entries: readonly Entry[], hardState: HardState | null, disk: MemoryRaftLog): void {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (entry === undefined) continue;
      const previous = i > 0 ? entries[i - 1] : undefined;
      this.recordLogged(entry, previous !== undefined ? previous.term : this.durableTerm(disk, entry.index - 1));
    }
    if (hardState !== null) this.checkDurableHardState(nodeId, hardState);
  }

  private durableTerm(disk: MemoryRaftLog, index: number): number | null {
    if (index === 0) return 0;
    if (index < disk.firstIndex() - 1 || index > disk.lastIndex()) return null;
    return disk.term(asRaftIndex(index));
  }

  private recordLogged(entry: Entry, previousTerm: number | null): void {
    let byTerm = this.loggedEntries.get(entry.index);
    if (byTerm === undefined) {
      byTerm = new Map();
      this.loggedEntries.set(entry.index, byTerm);
    }
    const proposalId = entryFingerprint(entry);
    const known = byTerm.get(entry.term);
    if (known === undefined) {
      byTerm.set(entry.term, { previousTerm, proposalId });
      return;
    }
    if (known.proposalId !== proposalId) {
      violated(`log matching: (index ${entry.index}, term ${entry.term}) holds entries ${known.proposalId} and ${proposalId}`);
    }
    if (known.previousTerm !== null && previousTerm !== null && known.previousTerm !== previousTerm) {
      violated(`log matching: (index ${entry.index}, term ${entry.term}) follows terms ${known.previousTerm} and ${previousTerm}`);
    }
  }

  private checkDurableHardState(nodeId: NodeId, hardState: HardState): void {
    const before = this.durable.get(nodeId) ?? { term: 0, votedFor: null, commitIndex: 0 };
    if (hardState.term < before.term) violated(`node ${nodeId}: durable term went back ${before.term} -> ${hardState.term}`);
    if (hardState.commitIndex < before.commitIndex) {
      violated(`node ${nodeId}: durable commit went back ${before.commitIndex} -> ${hardState.commitIndex}`);
    }
    if (hardState.term === before.term && before.votedFor !== null && hardState.votedFor !== before.votedFor) {
      violated(`node ${nodeId}: voted for ${before.votedFor} and then ${hardState.votedFor} in term ${hardState.term}`);
    }
    this.durable.set(nodeId, { term: hardState.term, votedFor: hardState.votedFor, commitIndex: hardState.commitIndex });
  }

  /** Called for each applied entry, with the node's state-machine digest afterwards. */
  onApply(nodeId: NodeId, entry: Entry, digestAfter: number): void {
    const index = entry.index;
    if (index < this.committedTermAt.length) {
      if (this.committedTermAt[index] !== entry.term || this.digestAt[index] !== digestAfter) {
        violated(
          `state machine safety: node ${nodeId} applied term ${entry.term} at ${index} (digest ${digestAfter}), ` +
            `others term ${this.committedTermAt[index]} (digest ${this.digestAt[index]})`,
        );
      }
      return;
    }
    if (index !== this.committedTermAt.length) violated(`node ${nodeId} applied ${index} before anyone applied ${this.committedTermAt.length}`);
    this.committedTermAt.push(entry.term);
    this.digestAt.push(digestAfter);
  }

  /** Called when a node's state machine is rebuilt from a snapshot. */
  onRestore(nodeId: NodeId, appliedIndex: number, digest: number): void {
    if (appliedIndex === 0) return;
    if (appliedIndex >= this.digestAt.length) violated(`node ${nodeId} restored a snapshot at ${appliedIndex} nobody applied`);
    if (this.digestAt[appliedIndex] !== digest) violated(`state machine safety: node ${nodeId} restored a diverging snapshot at ${appliedIndex}`);
  }

  /** Called after every event with every live node. */
  afterEvent(nodes: ReadonlyMap<NodeId, { readonly raft: RaftNode; readonly incarnation: number }>): void {
    for (const [nodeId, node] of nodes) {
      const status = node.raft.status();
      if (status.role === Role.Leader) this.checkLeader(node.raft, status.term);
      let marks = this.watermarks.get(nodeId);
      if (marks === undefined || marks.incarnation !== node.incarnation) {
        marks = { incarnation: node.incarnation, commitIndex: 0, appliedIndex: 0 };
        this.watermarks.set(nodeId, marks);
      }
      if (status.commitIndex < marks.commitIndex) violated(`node ${nodeId}: commit went back ${marks.commitIndex} -> ${status.commitIndex}`);
      if (status.appliedIndex < marks.appliedIndex) violated(`node ${nodeId}: applied went back ${marks.appliedIndex} -> ${status.appliedIndex}`);
      if (status.appliedIndex > status.commitIndex) violated(`node ${nodeId}: applied ${status.appliedIndex} beyond commit ${status.commitIndex}`);
      marks.commitIndex = status.commitIndex;
      marks.appliedIndex = status.appliedIndex;
    }
  }

  private checkLeader(raft: RaftNode, term: number): void {
    const known = this.leaderByTerm.get(term);
    if (known !== undefined && known !== raft.id) violated(`election safety: nodes ${known} and ${raft.id} both lead term ${term}`);
    this.leaderByTerm.set(term, raft.id);
    const key = `${raft.id}@${term}`;
    if (this.leadersChecked.has(key)) return;
    this.leadersChecked.add(key);
    const firstHeld = raft.status().firstIndex - 1;
    for (let index = Math.max(1, firstHeld); index < this.committedTermAt.length; index++) {
      const held = raft.termAt(index);
      if (held !== this.committedTermAt[index]) {
        violated(`leader completeness: leader ${raft.id} of term ${term} holds term ${held} at committed index ${index} (term ${this.committedTermAt[index]})`);
      }
    }
  }
}
