import { assert, asRaftIndex, asTerm } from '@rivulet/common';
import type { RaftIndex, Term } from '@rivulet/common';
import type { RaftStorage } from './storage.js';
import { entrySizeBytes } from './types.js';
import type { Entry, Snapshot } from './types.js';

/**
 * A node's view of its log: the durable part in `storage`, plus an unstable tail (and
 * possibly an incoming snapshot) that the driver has not persisted yet. Entries from
 * `unstableOffset` on live here and shadow whatever storage still holds at those indices,
 * because the next Ready tells the driver to overwrite them.
 */
export class RaftLog {
  private unstableSnapshot: Snapshot | null = null;
  private unstableOffset: number;
  private unstableEntries: Entry[] = [];
  commitIndex: RaftIndex;
  appliedIndex: RaftIndex;

  constructor(
    readonly storage: RaftStorage,
    commitIndex: RaftIndex,
    appliedIndex: RaftIndex,
  ) {
    this.unstableOffset = storage.lastIndex() + 1;
    const snapshotIndex = storage.snapshot().metadata.index;
    assert(commitIndex <= storage.lastIndex(), `persisted commit ${commitIndex} beyond last index ${storage.lastIndex()}`);
    this.commitIndex = asRaftIndex(Math.max(commitIndex, storage.firstIndex() - 1));
    this.appliedIndex = asRaftIndex(Math.max(appliedIndex, 0));
    assert(this.appliedIndex <= this.commitIndex, `applied ${appliedIndex} beyond commit ${this.commitIndex}`);
    assert(
      this.appliedIndex >= storage.firstIndex() - 1,
      `applied ${appliedIndex} is below the compacted log: restore the state machine from the snapshot first`,
    );
    assert(snapshotIndex >= storage.firstIndex() - 1, 'storage snapshot older than its compaction point');
  }

  firstIndex(): RaftIndex {
    if (this.unstableSnapshot !== null) return asRaftIndex(this.unstableSnapshot.metadata.index + 1);
    return this.storage.firstIndex();
  }

  lastIndex(): RaftIndex {
    if (this.unstableEntries.length > 0) return asRaftIndex(this.unstableOffset + this.unstableEntries.length - 1);
    if (this.unstableSnapshot !== null) return this.unstableSnapshot.metadata.index;
    return this.storage.lastIndex();
  }

  lastTerm(): Term {
    const term = this.term(this.lastIndex());
    assert(term !== null, 'the last entry always has a known term');
    return term;
  }

  /** The term at `index`, or null when the index is compacted away or beyond the log. */
  term(index: number): Term | null {
    if (index === 0) return asTerm(0);
    if (index >= this.unstableOffset) {
      const entry = this.unstableEntries[index - this.unstableOffset];
      return entry === undefined ? null : entry.term;
    }
    const snapshot = this.unstableSnapshot;
    if (snapshot !== null) return index === snapshot.metadata.index ? snapshot.metadata.term : null;
    if (index < this.storage.firstIndex() - 1 || index > this.storage.lastIndex()) return null;
    return this.storage.term(asRaftIndex(index));
  }

  matchTerm(index: number, term: Term): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: RaftIndex, lastTerm: Term): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi), limited to `maxBytes` (at least one entry when any exist). */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex(), `entries(${lo}) below first index ${this.firstIndex()}`);
    const end = Math.min(hi, this.lastIndex() + 1);
    if (lo >= end) return [];
    const result: Entry[] = [];
    const storedEnd = Math.min(end, this.unstableOffset);
    if (lo < storedEnd) result.push(...this.storage.entries(asRaftIndex(lo), asRaftIndex(storedEnd)));
    const unstableStart = Math.max(lo, this.unstableOffset);
    if (unstableStart < end) {
      result.push(...this.unstableEntries.slice(unstableStart - this.unstableOffset, end - this.unstableOffset));
    }
    return limitBytes(result, maxBytes);
  }

  /**
   * Fast back-off (thesis §5.3 optimization): the largest index <= `index` whose term is
   * <= `term`. Entries after it cannot match a log whose entry at `index` has `term`.
   */
  findConflictByTerm(index: number, term: Term): RaftIndex {
    let probe = Math.min(index, this.lastIndex());
    for (; probe > 0; probe--) {
      const probeTerm = this.term(probe);
      if (probeTerm === null || probeTerm <= term) break;
    }
    return asRaftIndex(probe);
  }

  /** The first entry of `entries` that disagrees with our log, or null when all match. */
  findConflict(entries: readonly Entry[]): Entry | null {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry;
    }
    return null;
  }

  /** Appends, truncating any unstable or stored suffix from entries[0].index on. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index > this.commitIndex, `truncating committed entry ${first.index} (commit ${this.commitIndex})`);
    assert(first.index <= this.lastIndex() + 1, `append at ${first.index} leaves a hole after ${this.lastIndex()}`);
    if (first.index === this.unstableOffset + this.unstableEntries.length) {
      this.unstableEntries.push(...entries);
    } else if (first.index > this.unstableOffset) {
      this.unstableEntries = this.unstableEntries.slice(0, first.index - this.unstableOffset).concat(entries);
    } else {
      this.unstableOffset = first.index;
      this.unstableEntries = [...entries];
    }
  }

  commitTo(index: RaftIndex): boolean {
    if (index <= this.commitIndex) return false;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.commitIndex = index;
    return true;
  }

  /** Replaces the log with a snapshot the driver must persist before anything else. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.metadata.index > this.commitIndex, 'restoring a snapshot behind the commit index');
    this.unstableSnapshot = snapshot;
    this.unstableOffset = snapshot.metadata.index + 1;
    this.unstableEntries = [];
    this.commitIndex = snapshot.metadata.index;
  }

  pendingSnapshot(): Snapshot | null {
    return this.unstableSnapshot;
  }

  unstable(): readonly Entry[] {
    return this.unstableEntries;
  }

  /** The next committed entries for the state machine, after `appliedIndex` (and any pending snapshot). */
  nextCommittedEntries(maxCount: number): Entry[] {
    const from = Math.max(this.appliedIndex, this.unstableSnapshot?.metadata.index ?? 0) + 1;
    const to = Math.min(this.commitIndex + 1, from + maxCount);
    if (from >= to) return [];
    return this.entries(from, to, Number.MAX_SAFE_INTEGER);
  }

  hasNextCommittedEntries(): boolean {
    return this.commitIndex > Math.max(this.appliedIndex, this.unstableSnapshot?.metadata.index ?? 0);
  }

  /** The driver persisted entries up to (index, term): drop them from the unstable tail. */
  stableTo(index: number, term: Term): void {
    if (index < this.unstableOffset || this.term(index) !== term) return;
    this.unstableEntries = this.unstableEntries.slice(index + 1 - this.unstableOffset);
    this.unstableOffset = index + 1;
  }

  /** The driver persisted the snapshot at `index`. */
  stableSnapshotTo(index: RaftIndex): void {
    if (this.unstableSnapshot !== null && this.unstableSnapshot.metadata.index === index) this.unstableSnapshot = null;
  }

  appliedTo(index: RaftIndex): void {
    assert(index >= this.appliedIndex, `applied went back ${this.appliedIndex} -> ${index}`);
    assert(index <= this.commitIndex, `applied ${index} beyond commit ${this.commitIndex}`);
    this.appliedIndex = index;
  }
}

function limitBytes(entries: Entry[], maxBytes: number): Entry[] {
  let totalBytes = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    assert(entry !== undefined, 'dense array');
    totalBytes += entrySizeBytes(entry);
    if (totalBytes > maxBytes && i > 0) return entries.slice(0, i);
  }
  return entries;
}
