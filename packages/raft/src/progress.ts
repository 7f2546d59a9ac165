import { assert, asRaftIndex } from '@rivulet/common';
import type { RaftIndex } from '@rivulet/common';
import type { Snapshot } from './types.js';

/**
 * How the leader replicates to one follower (after etcd's Progress):
 * - probe: the match point is unknown; send one append per heartbeat round and wait.
 * - replicate: the follower is in step; stream appends optimistically, bounded by the
 *   in-flight window.
 * - snapshot: the follower needs entries the leader has compacted; send snapshot chunks.
 */
export const ProgressState = { Probe: 'probe', Replicate: 'replicate', Snapshot: 'snapshot' } as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/**
 * The last indices of append messages in flight to one follower, oldest first. A bounded
 * window: when full, the leader stops sending until acknowledgements free slots.
 */
export class Inflights {
  private readonly lastIndices: number[] = [];

  constructor(readonly capacity: number) {
    assert(capacity > 0, 'inflight capacity must be positive');
  }

  get count(): number {
    return this.lastIndices.length;
  }

  full(): boolean {
    return this.lastIndices.length >= this.capacity;
  }

  add(lastIndex: number): void {
    assert(!this.full(), 'adding to a full inflight window');
    const newest = this.lastIndices[this.lastIndices.length - 1];
    assert(newest === undefined || lastIndex > newest, `inflight indices must increase (${newest} then ${lastIndex})`);
    this.lastIndices.push(lastIndex);
  }

  /** Frees every message whose entries are all acknowledged (last index <= `index`). */
  freeUpTo(index: number): void {
    let freed = 0;
    while (freed < this.lastIndices.length && (this.lastIndices[freed] ?? Infinity) <= index) freed++;
    if (freed > 0) this.lastIndices.splice(0, freed);
  }

  reset(): void {
    this.lastIndices.length = 0;
  }
}

/** A snapshot being streamed to a follower: the receiver has acknowledged `ackedOffset` bytes. */
export interface SnapshotTransfer {
  readonly snapshot: Snapshot;
  ackedOffset: number;
}

export class Progress {
  match: RaftIndex = asRaftIndex(0);
  next: RaftIndex;
  state: ProgressState = ProgressState.Probe;
  /** In probe state: an append is outstanding, so wait for its answer or the next heartbeat. */
  probeSent = false;
  /** Set by any message from the follower; check-quorum reads and clears it. */
  recentActive = false;
  /** The match seen at the previous heartbeat answer, to notice a replicate stream that stalled. */
  matchAtLastHeartbeat = -1;
  snapshotTransfer: SnapshotTransfer | null = null;
  readonly inflights: Inflights;

  constructor(next: RaftIndex, maxInflightAppends: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflightAppends);
  }

  becomeProbe(): void {
    const snapshotIndex = this.snapshotTransfer?.snapshot.metadata.index ?? 0;
    this.state = ProgressState.Probe;
    this.next = asRaftIndex(Math.max(this.match + 1, snapshotIndex + 1));
    this.probeSent = false;
    this.snapshotTransfer = null;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = ProgressState.Replicate;
    this.next = asRaftIndex(this.match + 1);
    this.snapshotTransfer = null;
    this.inflights.reset();
  }

  becomeSnapshot(snapshot: Snapshot): void {
    assert(snapshot.metadata.index >= this.match, 'sending a snapshot older than the match index');
    this.state = ProgressState.Snapshot;
    this.snapshotTransfer = { snapshot, ackedOffset: 0 };
    this.inflights.reset();
  }

  /** The follower acknowledged entries up to `index`; returns whether the match advanced. */
  maybeUpdate(index: RaftIndex): boolean {
    this.recentActive = true;
    if (index > this.next - 1) this.next = asRaftIndex(index + 1);
    if (index <= this.match) return false;
    this.match = index;
    this.probeSent = false;
    return true;
  }

  /**
   * The follower rejected an append at `rejectedIndex`; `probeIndex` is the leader's best
   * guess of the last matching index. Returns false when the rejection is stale (answers
   * an append sent before a newer one, or below what is already matched).
   */
  maybeDecreaseTo(rejectedIndex: RaftIndex, probeIndex: RaftIndex): boolean {
    this.recentActive = true;
    if (rejectedIndex <= this.match) return false;
    if (this.state === ProgressState.Probe && rejectedIndex !== this.next - 1) return false;
    if (this.state === ProgressState.Snapshot) return false;
    if (this.state === ProgressState.Replicate) {
      // Something in the pipeline was lost or rejected: fall back to probing from the hint.
      this.state = ProgressState.Probe;
      this.inflights.reset();
    }
    this.next = asRaftIndex(Math.max(Math.min(rejectedIndex, probeIndex + 1), this.match + 1));
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }

  /** Records an append just sent with `entryCount` entries ending at `lastIndex`. */
  sentEntries(lastIndex: RaftIndex, entryCount: number): void {
    if (this.state === ProgressState.Replicate) {
      if (entryCount === 0) return;
      assert(lastIndex >= this.next, `replicate send ending at ${lastIndex} before next ${this.next}`);
      this.next = asRaftIndex(lastIndex + 1);
      this.inflights.add(lastIndex);
      return;
    }
    assert(this.state === ProgressState.Probe, `sending entries in state ${this.state}`);
    this.probeSent = true;
  }
}
