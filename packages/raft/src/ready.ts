import type { Message } from './messages.js';
import type { Entry, HardState, ReadState, Snapshot, SoftState } from './types.js';

/**
 * Everything the node needs the driver to do, handed out by `RaftNode.ready()`. The driver
 * processes one Ready completely, in this order, then calls `advance(ready)`:
 *
 * 1. Persist, durably (fsync / LevelDB `sync: true`) when `mustSync`, as one atomic write if
 *    the store allows: `snapshot` first, then `entries`, then `hardState`.
 * 2. Only then send `messages`: they may promise what step 1 wrote (a vote, an accepted
 *    entry), and a promise forgotten in a crash breaks Raft's safety.
 * 3. Apply: restore the state machine from `snapshot` if present, then apply
 *    `committedEntries` in order; serve `readStates` once the state machine reached them.
 * 4. Call `advance(ready)`.
 *
 * A crash anywhere in between is safe as long as step 2 never runs before step 1 finished.
 * `tick`, `step`, `propose` may be called between `ready()` and `advance()`; `ready()` may not.
 */
export interface Ready {
  /** The hard state to persist, or null when unchanged since the previous Ready. */
  readonly hardState: HardState | null;
  /** The role and leader, or null when unchanged. Volatile: never persist it. */
  readonly softState: SoftState | null;
  /**
   * Entries to append to the durable log. The store must first drop every entry at or
   * after entries[0].index (`overwriteFromIndex`): a new leader may replace an uncommitted suffix.
   */
  readonly entries: readonly Entry[];
  /** entries[0].index when there are entries, else null: where the durable log is overwritten from. */
  readonly overwriteFromIndex: number | null;
  /** A snapshot received from the leader, to persist (replacing the whole log) and restore. */
  readonly snapshot: Snapshot | null;
  /** Messages to send after persisting; the transport may lose or reorder them. */
  readonly messages: readonly Message[];
  /** Committed entries to apply, in order; they are durable once step 1 is done. */
  readonly committedEntries: readonly Entry[];
  /** Linearizable reads now answerable (see RaftNode.readIndex). */
  readonly readStates: readonly ReadState[];
  /** Whether step 1 must fsync: true when entries, a snapshot or term/vote changed. */
  readonly mustSync: boolean;
}
