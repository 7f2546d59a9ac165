import { systemRandom, type Random } from '@rivulet/common';
import { partitionForKey } from './murmur2.js';

/** What the partitioner needs to know about a topic right now. */
export interface TopicLayout {
  readonly numPartitions: number;
  /** Partitions with a known leader; sticky choices prefer these (empty means "all"). */
  readonly availablePartitions: readonly number[];
}

/**
 * Kafka's default partitioner. A record with a key goes to `toPositive(murmur2(key)) % n`.
 * A record without one goes to the topic's sticky partition (KIP-480): every keyless record
 * joins the same batch until that batch is closed and sent, then the partitioner moves on to
 * another partition chosen at random. Large batches and few requests beat round-robin, which
 * spreads a burst into many tiny batches.
 */
export class StickyPartitioner {
  private readonly stickyByTopic = new Map<string, number>();

  constructor(private readonly random: Random = systemRandom) {}

  partition(topic: string, key: Uint8Array | null, layout: TopicLayout): number {
    if (key !== null) return partitionForKey(key, layout.numPartitions);
    const sticky = this.stickyByTopic.get(topic);
    if (sticky !== undefined && sticky < layout.numPartitions) return sticky;
    return this.choose(topic, layout, undefined);
  }

  /**
   * Called when the batch of `partition` was closed (full, or drained after lingering). If it
   * was the sticky partition, the next keyless record picks a new one.
   */
  onBatchClosed(topic: string, partition: number, layout: TopicLayout): void {
    if (this.stickyByTopic.get(topic) === partition) this.choose(topic, layout, partition);
  }

  private choose(topic: string, layout: TopicLayout, previous: number | undefined): number {
    const candidates =
      layout.availablePartitions.length > 0 ? layout.availablePartitions : Array.from({ length: layout.numPartitions }, (_, i) => i);
    const others = candidates.filter((p) => p !== previous);
    const pool = others.length > 0 ? others : candidates;
    const chosen = pool[this.random.nextInt(pool.length)]!;
    this.stickyByTopic.set(topic, chosen);
    return chosen;
  }
}
