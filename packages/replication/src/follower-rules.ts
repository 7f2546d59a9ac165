/**
 * The follower's rules: where to truncate before fetching from a new leader (KIP-279, the
 * follower half of Kafka's AbstractFetcherThread.getOffsetTruncationState), and which high
 * watermark a follower may expose.
 */
import { assert, assertSafeUint } from '@rivulet/common';
import { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET, assertEpochEntries, endOffsetForEpoch } from './epoch-entries.js';
import type { EpochEndOffset, EpochEntry } from './epoch-entries.js';

/**
 * What the follower does with one OffsetForLeaderEpoch answer.
 *
 * - `truncate`: truncate the log (and the epoch cache, `truncateFromEnd`) to
 *   `truncationOffset`, then fetch from it. Done. The offset may equal the log-end offset,
 *   which means nothing diverged.
 * - `ask-again`: truncate to `truncationOffset` (everything past it is certainly divergent),
 *   then send OffsetForLeaderEpoch again for `nextLeaderEpoch`, which is then the follower's
 *   latest epoch. Each round asks a strictly smaller epoch, so the exchange ends.
 * - `truncate-to-high-watermark`: the leader had no answer (UNDEFINED). As Kafka, fall back
 *   to the follower's own high watermark, the only offset known to be committed.
 */
export type TruncationStep =
  | { readonly kind: 'truncate'; readonly truncationOffset: number }
  | { readonly kind: 'ask-again'; readonly truncationOffset: number; readonly nextLeaderEpoch: number }
  | { readonly kind: 'truncate-to-high-watermark' };

/**
 * The follower's half of KIP-279. The follower asks the leader for its latest epoch
 * (`latestLeaderEpoch(entries)`); the leader answers `(answeredEpoch, leaderEndOffset)`
 * with `endOffsetForEpoch`. The follower looks the answered epoch up in its own cache:
 *
 * - It knows that epoch too: both logs agree up to where the epoch ended on both, so truncate
 *   to min(leader's end offset, follower's end offset of that epoch, follower LEO).
 * - Its largest epoch at or below the answered one is older: everything from where that older
 *   epoch ended on the follower is divergent; truncate there and ask again with that epoch.
 * - It has no entry at or below the answered epoch (an empty cache): truncate to
 *   min(leader's end offset, follower LEO).
 */
export function truncationPoint(
  followerEpochEntries: readonly EpochEntry[],
  followerLogEndOffset: number,
  leaderAnswer: EpochEndOffset,
): TruncationStep {
  assertEpochEntries(followerEpochEntries, followerLogEndOffset);
  if (leaderAnswer.endOffset === UNDEFINED_EPOCH_OFFSET || leaderAnswer.leaderEpoch === UNDEFINED_EPOCH) {
    return { kind: 'truncate-to-high-watermark' };
  }
  assertSafeUint(leaderAnswer.leaderEpoch, 'answered leader epoch');
  assertSafeUint(leaderAnswer.endOffset, 'answered end offset');
  const local = endOffsetForEpoch(followerEpochEntries, followerLogEndOffset, leaderAnswer.leaderEpoch);
  if (local.endOffset === UNDEFINED_EPOCH_OFFSET) {
    return { kind: 'truncate', truncationOffset: Math.min(leaderAnswer.endOffset, followerLogEndOffset) };
  }
  assert(local.leaderEpoch <= leaderAnswer.leaderEpoch, 'the local answer is at or below the answered epoch');
  if (local.leaderEpoch === leaderAnswer.leaderEpoch) {
    const truncationOffset = Math.min(leaderAnswer.endOffset, local.endOffset, followerLogEndOffset);
    return { kind: 'truncate', truncationOffset };
  }
  // The follower never saw the answered epoch: its own older epoch ended earlier, and every
  // record past that end was written in an epoch the leader does not have.
  const truncationOffset = Math.min(local.endOffset, followerLogEndOffset);
  return { kind: 'ask-again', truncationOffset, nextLeaderEpoch: local.leaderEpoch };
}

/**
 * The high watermark a follower may expose: the leader's, capped by what the follower has
 * (Kafka's follower `updateHighWatermark`). A follower's high watermark can lag the leader's
 * but never exceed its own log-end offset.
 */
export function followerHighWatermark(leaderHighWatermark: number, followerLogEndOffset: number): number {
  assertSafeUint(leaderHighWatermark, 'leader high watermark');
  assertSafeUint(followerLogEndOffset, 'follower log-end offset');
  return Math.min(leaderHighWatermark, followerLogEndOffset);
}
