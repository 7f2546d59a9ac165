import { comparePartitions } from '../assignors/assignor.js';
import type { TopicPartitionRef } from '../types.js';

/** What a group's lag on one partition is computed from. */
export interface PartitionOffsets extends TopicPartitionRef {
  /** The offset the group resumes from; null when it has committed none for the partition. */
  readonly committedOffset: number | null;
  /**
   * The high watermark (ListOffsets latest): the offset the group would have consumed
   * everything readable at, what Kafka's tools call the log-end offset. null when it could
   * not be looked up.
   */
  readonly highWatermark: number | null;
}

export interface PartitionLag extends PartitionOffsets {
  /** Records the group has yet to consume: null when either offset is unknown. */
  readonly lag: number | null;
}

/**
 * Lag per partition and in total, as Kafka's consumer-groups tool computes it: the high
 * watermark minus the committed offset. A committed offset beyond the high watermark (the
 * watermark was looked up before a commit that followed it, or the log was truncated by an
 * unclean leader election) counts as no lag rather than a negative one, so totals only add
 * records still to consume. Partitions whose lag is unknown add nothing to the total. The
 * partitions come back sorted by topic and partition, with what else each carried.
 */
export function computeGroupLag<P extends PartitionOffsets>(partitions: readonly P[]): { partitions: (P & PartitionLag)[]; totalLag: number } {
  let totalLag = 0;
  const lagging = [...partitions].sort(comparePartitions).map((p) => {
    const lag = p.committedOffset === null || p.highWatermark === null ? null : Math.max(0, p.highWatermark - p.committedOffset);
    if (lag !== null) totalLag += lag;
    return { ...p, lag };
  });
  return { partitions: lagging, totalLag };
}
