/**
 * Leader-epoch entries and the leader's half of the KIP-101/KIP-279 exchange
 * (OffsetForLeaderEpoch). An entry says "leader epoch E wrote its first record at offset S";
 * the storage package keeps the same shape in its LeaderEpochCache and persists it. This
 * package never imports storage: the broker passes the entries in as plain data.
 */
import { assert, assertSafeUint } from '@rivulet/common';

/** The first offset written in one leader epoch. */
export interface EpochEntry {
  readonly leaderEpoch: number;
  readonly startOffset: number;
}

/** An OffsetForLeaderEpoch answer: where `leaderEpoch` ended on the answering replica. */
export interface EpochEndOffset {
  readonly leaderEpoch: number;
  readonly endOffset: number;
}

/** Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET: no answer exists. */
export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export const UNDEFINED_EPOCH_END_OFFSET: EpochEndOffset = Object.freeze({
  leaderEpoch: UNDEFINED_EPOCH,
  endOffset: UNDEFINED_EPOCH_OFFSET,
});

/**
 * Asserts the invariant of every epoch cache: entries sorted by leader epoch, both columns
 * strictly increasing, all start offsets at or below the log-end offset. An entry may start
 * exactly at the log-end offset: a new leader records its epoch before it writes anything.
 */
export function assertEpochEntries(entries: readonly EpochEntry[], logEndOffset: number): void {
  assertSafeUint(logEndOffset, 'log-end offset');
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    assertSafeUint(entry.leaderEpoch, 'leader epoch');
    assertSafeUint(entry.startOffset, 'epoch start offset');
    assert(entry.startOffset <= logEndOffset, `epoch ${entry.leaderEpoch} starts at ${entry.startOffset}, past the log end ${logEndOffset}`);
    if (i > 0) {
      const previous = entries[i - 1]!;
      assert(
        entry.leaderEpoch > previous.leaderEpoch && entry.startOffset > previous.startOffset,
        `epoch entries are not strictly increasing: (${previous.leaderEpoch}, ${previous.startOffset}) then (${entry.leaderEpoch}, ${entry.startOffset})`,
      );
    }
  }
}

/** The latest leader epoch in `entries`, or UNDEFINED_EPOCH for an empty cache. */
export function latestLeaderEpoch(entries: readonly EpochEntry[]): number {
  const last = entries[entries.length - 1];
  return last === undefined ? UNDEFINED_EPOCH : last.leaderEpoch;
}

/**
 * Kafka's OffsetForLeaderEpoch answer (LeaderEpochFileCache.endOffsetFor): the largest epoch
 * <= `requestedEpoch` that this replica knows, and where it ended, which is the start offset
 * of the next higher epoch, or `logEndOffset` when the requested epoch is the latest.
 *
 * - UNDEFINED_EPOCH requested, an empty cache, or an epoch newer than the latest: UNDEFINED.
 * - An epoch below the earliest entry: as Kafka, `(requestedEpoch, earliest.startOffset)`.
 *   Entries below the earliest were removed with the start of the log (retention moves the
 *   covering entry up to the new log start), so everything this replica still holds from
 *   that offset on belongs to later epochs: the asker must not keep anything past it.
 *   Answering UNDEFINED instead would send the asker back to its high watermark, which loses
 *   that precision for nothing.
 *
 * The leader must check the request's current leader epoch first (`checkLeaderEpoch`).
 */
export function endOffsetForEpoch(entries: readonly EpochEntry[], logEndOffset: number, requestedEpoch: number): EpochEndOffset {
  assertEpochEntries(entries, logEndOffset);
  assert(Number.isSafeInteger(requestedEpoch) && requestedEpoch >= UNDEFINED_EPOCH, `requested epoch ${requestedEpoch} is not an epoch`);
  if (requestedEpoch === UNDEFINED_EPOCH || entries.length === 0) return UNDEFINED_EPOCH_END_OFFSET;
  const latest = entries[entries.length - 1]!;
  if (requestedEpoch === latest.leaderEpoch) return { leaderEpoch: requestedEpoch, endOffset: logEndOffset };
  if (requestedEpoch > latest.leaderEpoch) return UNDEFINED_EPOCH_END_OFFSET;
  const higherIndex = entries.findIndex((entry) => entry.leaderEpoch > requestedEpoch);
  assert(higherIndex >= 0, 'an epoch below the latest has a higher entry');
  const higher = entries[higherIndex]!;
  if (higherIndex === 0) return { leaderEpoch: requestedEpoch, endOffset: higher.startOffset };
  const floor = entries[higherIndex - 1]!;
  assert(floor.leaderEpoch <= requestedEpoch, 'the floor entry is at or below the requested epoch');
  return { leaderEpoch: floor.leaderEpoch, endOffset: higher.startOffset };
}
