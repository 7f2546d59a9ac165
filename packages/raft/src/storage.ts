import type { RaftIndex, Term } from '@rivulet/common';
import type { Entry, HardState, Snapshot } from './types.js';

/**
 * What Raft reads from durable storage (the driver writes it, following `Ready`). Every
 * method reflects only what the driver has already persisted. Raft calls `entries` and
 * `term` only inside [firstIndex() - 1, lastIndex()] (index firstIndex() - 1 being the
 * snapshot's, whose term must be known). Any exception thrown here is an I/O failure the
 * node cannot recover from: the driver must stop the node.
 */
export interface RaftStorage {
  /** The persisted hard state (all zero / null on a fresh node). */
  initialState(): HardState;
  /** Entries with index in [lo, hi), all of which must exist. */
  entries(lo: RaftIndex, hi: RaftIndex): readonly Entry[];
  /** The term of the entry at `index`, for index in [firstIndex() - 1, lastIndex()]. */
  term(index: RaftIndex): Term;
  /** The first index still held in the log (the snapshot's index + 1). */
  firstIndex(): RaftIndex;
  /** The last persisted index (the snapshot's index when the log is empty). */
  lastIndex(): RaftIndex;
  /** The latest snapshot; its index is firstIndex() - 1 or later. Index 0 means "none". */
  snapshot(): Snapshot;
}
