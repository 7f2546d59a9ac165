import { assert } from '@rivulet/common';

export interface EpochEntry {
  readonly leaderEpoch: number;
  readonly startOffset: number;
}

/** What one cache mutation changed, so the caller can persist exactly that. */
export interface EpochCacheChange {
  readonly removed: EpochEntry[];
  readonly put: EpochEntry[];
}

const NO_CHANGE: EpochCacheChange = { removed: [], put: [] };

/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET, returned when no answer exists. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

/**
 * The leader-epoch cache of one replica: for each leader epoch, the first offset written in
 * it. Entries are strictly increasing in both epoch and start offset. This is Kafka's
 * LeaderEpochFileCache (KIP-101/279) as pure in-memory logic; PartitionLog persists the
 * changes each mutation reports.
 */
export class LeaderEpochCache {
  private entries: EpochEntry[];

  constructor(entries: readonly EpochEntry[] = []) {
    this.entries = [...entries].sort((a, b) => a.leaderEpoch - b.leaderEpoch);
    for (let i = 1; i < this.entries.length; i++) {
      const previous = this.entries[i - 1]!;
      const current = this.entries[i]!;
      assert(current.leaderEpoch > previous.leaderEpoch && current.startOffset > previous.startOffset, 'leader epoch entries are not monotonic');
    }
  }

  list(): EpochEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  latest(): EpochEntry | undefined {
    return this.entries[this.entries.length - 1];
  }

  /**
   * Records that `leaderEpoch` starts at `startOffset`. As in Kafka, a repeat of the latest
   * epoch at a later offset changes nothing, and an entry that conflicts with later ones (a
   * lower or equal epoch, or a lower or equal start offset) removes them first, which keeps
   * both columns strictly increasing.
   */
  assign(leaderEpoch: number, startOffset: number): EpochCacheChange {
    assert(Number.isSafeInteger(leaderEpoch) && leaderEpoch >= 0 && leaderEpoch <= 0x7fffffff, 'leader epoch must be a non-negative int32');
    assert(Number.isSafeInteger(startOffset) && startOffset >= 0, 'epoch start offset must be a non-negative safe integer');
    const last = this.latest();
    if (last !== undefined && last.leaderEpoch === leaderEpoch && startOffset >= last.startOffset) return NO_CHANGE;
    const removed: EpochEntry[] = [];
    while (this.entries.length > 0) {
      const tail = this.entries[this.entries.length - 1]!;
      if (tail.leaderEpoch < leaderEpoch && tail.startOffset < startOffset) break;
      removed.push(tail);
      this.entries.pop();
    }
    const entry = { leaderEpoch, startOffset };
    this.entries.push(entry);
    // A removed entry with the same epoch is overwritten by the put; do not also delete it.
    return { removed: removed.filter((e) => e.leaderEpoch !== leaderEpoch), put: [entry] };
  }

  /** Removes entries starting at or after `endOffset` (the log was truncated to it). */
  truncateFromEnd(endOffset: number): EpochCacheChange {
    const removed: EpochEntry[] = [];
    while (this.entries.length > 0 && this.entries[this.entries.length - 1]!.startOffset >= endOffset) {
      removed.push(this.entries.pop()!);
    }
    return removed.length === 0 ? NO_CHANGE : { removed, put: [] };
  }

  /**
   * The log now starts at `startOffset`: entries that start before it are removed, except
   * the latest of them, which is moved up to `startOffset` because its epoch still covers
   * the first remaining records.
   */
  truncateFromStart(startOffset: number): EpochCacheChange {
    let firstKept = 0;
    while (firstKept < this.entries.length && this.entries[firstKept]!.startOffset < startOffset) firstKept++;
    if (firstKept === 0) return NO_CHANGE;
    const covering = this.entries[firstKept - 1]!;
    const removed = this.entries.slice(0, firstKept - 1);
    const rest = this.entries.slice(firstKept);
    if (rest.length > 0 && rest[0]!.startOffset === startOffset) {
      // The next epoch starts exactly at the new log start, so the covering one is obsolete.
      this.entries = rest;
      return { removed: [...removed, covering], put: [] };
    }
    const moved = { leaderEpoch: covering.leaderEpoch, startOffset };
    this.entries = [moved, ...rest];
    return { removed, put: [moved] };
  }

  clear(): EpochCacheChange {
    const removed = this.entries;
    this.entries = [];
    return { removed, put: [] };
  }

  /**
   * Kafka's OffsetForLeaderEpoch answer: the end offset of `requestedEpoch` on this replica,
   * which is the start offset of the next higher epoch, or the log-end offset when the
   * requested epoch is the latest. The returned epoch is the largest known epoch
   * <= requestedEpoch. Unknown (too new) epochs yield UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): { leaderEpoch: number; endOffset: number } {
    const undefinedAnswer = { leaderEpoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH) return undefinedAnswer;
    const last = this.latest();
    if (last !== undefined && last.leaderEpoch === requestedEpoch) return { leaderEpoch: requestedEpoch, endOffset: logEndOffset };
    const higherIndex = this.entries.findIndex((e) => e.leaderEpoch > requestedEpoch);
    if (higherIndex < 0) return undefinedAnswer;
    const higher = this.entries[higherIndex]!;
    if (higherIndex === 0) return { leaderEpoch: requestedEpoch, endOffset: higher.startOffset };
    return { leaderEpoch: this.entries[higherIndex - 1]!.leaderEpoch, endOffset: higher.startOffset };
  }
}
