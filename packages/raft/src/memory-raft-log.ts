import { assert, asRaftIndex, asTerm } from '@rivulet/common';
import type { RaftIndex, Term } from '@rivulet/common';
import type { RaftStorage } from './storage.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';

const EMPTY_SNAPSHOT: Snapshot = {
  metadata: { index: asRaftIndex(0), term: asTerm(0), confState: { voters: [], learners: [] } },
  data: new Uint8Array(0),
};

/**
 * An in-memory `RaftStorage` with the write operations a driver needs. Tests and the
 * simulator use it as the "disk": whatever was written here survives a simulated crash.
 * The log holds entries (offsetIndex, lastIndex]; offsetIndex/offsetTerm describe the
 * position just before the first held entry (the compaction point).
 */
export class MemoryRaftLog implements RaftStorage {
  private hardState: HardState = { term: asTerm(0), votedFor: null, commitIndex: asRaftIndex(0) };
  private latestSnapshot: Snapshot = EMPTY_SNAPSHOT;
  private offsetIndex = 0;
  private offsetTerm = 0;
  private log: Entry[] = [];

  initialState(): HardState {
    return this.hardState;
  }

  entries(lo: RaftIndex, hi: RaftIndex): readonly Entry[] {
    assert(lo > this.offsetIndex, `entries(${lo}) below first index ${this.offsetIndex + 1}`);
    assert(hi <= this.lastIndex() + 1 && lo <= hi, `entries [${lo}, ${hi}) beyond last index ${this.lastIndex()}`);
    return this.log.slice(lo - this.offsetIndex - 1, hi - this.offsetIndex - 1);
  }

  term(index: RaftIndex): Term {
    assert(index >= this.offsetIndex && index <= this.lastIndex(), `term(${index}) outside [${this.offsetIndex}, ${this.lastIndex()}]`);
    if (index === this.offsetIndex) return asTerm(this.offsetTerm);
    const entry = this.log[index - this.offsetIndex - 1];
    assert(entry !== undefined && entry.index === index, `log hole at ${index}`);
    return entry.term;
  }

  firstIndex(): RaftIndex {
    return asRaftIndex(this.offsetIndex + 1);
  }

  lastIndex(): RaftIndex {
    return asRaftIndex(this.offsetIndex + this.log.length);
  }

  snapshot(): Snapshot {
    return this.latestSnapshot;
  }

  /** Persists the hard state. Term and commit index never go backwards. */
  setHardState(hardState: HardState): void {
    assert(hardState.term >= this.hardState.term, `hard state term went back ${this.hardState.term} -> ${hardState.term}`);
    assert(
      hardState.commitIndex >= this.hardState.commitIndex,
      `hard state commit went back ${this.hardState.commitIndex} -> ${hardState.commitIndex}`,
    );
    this.hardState = hardState;
  }

  /**
   * Appends `entries`, first dropping every held entry at or after entries[0].index (the
   * Ready contract). Entries already covered by the compaction point are skipped.
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index <= this.lastIndex() + 1, `append at ${first.index} leaves a hole after ${this.lastIndex()}`);
    const fresh = entries.filter((entry) => entry.index > this.offsetIndex);
    const head = fresh[0];
    if (head === undefined) return;
    assert(head.index > this.hardState.commitIndex || this.term(head.index) === head.term, 'append overwrites a committed entry');
    this.log.length = head.index - this.offsetIndex - 1;
    for (const entry of fresh) {
      assert(entry.index === this.lastIndex() + 1, `append is not contiguous at ${entry.index}`);
      this.log.push(entry);
    }
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    assert(snapshot.metadata.index > this.latestSnapshot.metadata.index, 'applySnapshot must move forward');
    this.latestSnapshot = snapshot;
    this.offsetIndex = snapshot.metadata.index;
    this.offsetTerm = snapshot.metadata.term;
    this.log = [];
  }

  /**
   * Records a snapshot of the local state machine at `index` (which the driver has applied),
   * with the membership as of that index. Does not compact: call `compact` afterwards,
   * possibly keeping a tail of entries for slow followers.
   */
  createSnapshot(index: RaftIndex, data: Uint8Array, confState: ConfState): Snapshot {
    assert(index > this.latestSnapshot.metadata.index, `snapshot at ${index} is not newer than ${this.latestSnapshot.metadata.index}`);
    assert(index <= this.lastIndex(), `snapshot at ${index} beyond last index ${this.lastIndex()}`);
    this.latestSnapshot = { metadata: { index, term: this.term(index), confState }, data };
    return this.latestSnapshot;
  }

  /** Drops entries up to and including `index`, which must be covered by the snapshot. */
  compact(index: RaftIndex): void {
    if (index <= this.offsetIndex) return;
    assert(index <= this.latestSnapshot.metadata.index, `compact(${index}) beyond the snapshot ${this.latestSnapshot.metadata.index}`);
    const term = this.term(index);
    this.log = this.log.slice(index - this.offsetIndex);
    this.offsetIndex = index;
    this.offsetTerm = term;
  }
}
