import type { GroupCoordinatorApi } from '@rivulet/broker';
import { computeGroupLag, type SettledOffsets, type TopicPartitionRef } from '@rivulet/client';
import { topicPartitionKey, type Clock, type Logger } from '@rivulet/common';

/** One coordinated group's lag on the partitions whose lag is known, and their sum. */
export interface GroupLagSnapshot {
  readonly groupId: string;
  readonly partitions: readonly (TopicPartitionRef & { readonly lag: number })[];
  readonly totalLag: number;
}

/** A group and the offsets it has committed. */
export interface GroupCommittedOffsets {
  readonly groupId: string;
  readonly offsets: readonly (TopicPartitionRef & { readonly committedOffset: number })[];
}

export interface GroupLagCollectorOptions {
  /** The groups this node coordinates that have committed offsets. */
  readonly committedOffsets: () => readonly GroupCommittedOffsets[];
  /** High watermarks (ListOffsets latest) at the partitions' leaders; a failed partition is left out. */
  readonly lookUpHighWatermarks: (partitions: readonly TopicPartitionRef[]) => Promise<SettledOffsets>;
  /** High watermarks this old are looked up again; younger ones are reused. */
  readonly highWatermarkMaxAgeMs: number;
  /** How long a snapshot waits for a lookup; past it, it uses what it has. */
  readonly lookupTimeoutMs: number;
  /** At most this many partitions are looked up; the groups' partitions beyond it are left out. */
  readonly maxPartitions: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

const key = (topic: string, partition: number): string => topicPartitionKey({ topic, partition });

/**
 * The lag of the groups this node coordinates, for the metrics: committed offsets are read
 * from the local coordinator on every snapshot, and the high watermarks of their partitions
 * (led anywhere in the cluster) are looked up at most once per `highWatermarkMaxAgeMs`, one
 * lookup at a time, waited for at most `lookupTimeoutMs`, for at most `maxPartitions`
 * partitions: a scrape stays fast and bounded however many groups and partitions there are.
 * Partitions whose high watermark is unknown are left out (a lookup that fails as a whole keeps
 * the previous values); snapshots asked for while one is being made share it, so the metrics of
 * one scrape agree.
 */
export class GroupLagCollector {
  private highWatermarks = new Map<string, number>();
  /** The partitions the last lookup asked for, found or not. */
  private lookedUp = new Set<string>();
  private highWatermarksAtMs = Number.NEGATIVE_INFINITY;
  private lookup: Promise<void> | undefined;
  private making: Promise<GroupLagSnapshot[]> | undefined;
  private warnedOfPartitionLimit = false;

  constructor(private readonly options: GroupLagCollectorOptions) {}

  snapshot(): Promise<GroupLagSnapshot[]> {
    this.making ??= this.make().finally(() => {
      this.making = undefined;
    });
    return this.making;
  }

  private async make(): Promise<GroupLagSnapshot[]> {
    const groups = this.options.committedOffsets().filter((g) => g.offsets.length > 0);
    const partitions = new Map<string, TopicPartitionRef>();
    for (const group of groups) for (const o of group.offsets) partitions.set(key(o.topic, o.partition), { topic: o.topic, partition: o.partition });
    const wanted = [...partitions.values()].slice(0, this.options.maxPartitions);
    if (partitions.size > wanted.length && !this.warnedOfPartitionLimit) {
      this.warnedOfPartitionLimit = true;
      this.options.logger.warn({ partitions: partitions.size, maxPartitions: this.options.maxPartitions }, 'consumer group lag: more partitions than the metric looks up; the rest are left out');
    }
    const stale = this.options.clock.nowMs() - this.highWatermarksAtMs >= this.options.highWatermarkMaxAgeMs;
    const missing = wanted.some((tp) => !this.lookedUp.has(key(tp.topic, tp.partition)));
    if (wanted.length > 0 && (stale || missing)) await this.refresh(wanted);
    return groups.map((group) => {
      const known = group.offsets.flatMap((o) => {
        const highWatermark = this.highWatermarks.get(key(o.topic, o.partition));
        return highWatermark === undefined ? [] : [{ topic: o.topic, partition: o.partition, committedOffset: o.committedOffset, highWatermark }];
      });
      const { partitions: lagging, totalLag } = computeGroupLag(known);
      return { groupId: group.groupId, partitions: lagging.flatMap((p) => (p.lag === null ? [] : [{ topic: p.topic, partition: p.partition, lag: p.lag }])), totalLag };
    });
  }

  /** Starts a lookup unless one is running, and waits for it up to the lookup timeout. */
  private async refresh(partitions: readonly TopicPartitionRef[]): Promise<void> {
    this.lookup ??= this.startLookup(partitions);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.lookupTimeoutMs);
    });
    await Promise.race([this.lookup, timeout]);
    clearTimeout(timer);
  }

  private startLookup(partitions: readonly TopicPartitionRef[]): Promise<void> {
    return this.options
      .lookUpHighWatermarks(partitions)
      .then(
        ({ listed }) => {
          this.highWatermarks = new Map(listed.map((l) => [key(l.topic, l.partition), l.offset]));
        },
        (err: unknown) => {
          this.options.logger.warn({ err }, 'consumer group lag: looking up high watermarks failed');
        },
      )
      .finally(() => {
        // Failed partitions and lookups count too: they are not asked again before the next period.
        this.lookedUp = new Set(partitions.map((tp) => key(tp.topic, tp.partition)));
        this.highWatermarksAtMs = this.options.clock.nowMs();
        this.lookup = undefined;
      });
  }
}

/** Every group the coordinator serves with its committed offsets, read locally (groups still loading are left out). */
export function coordinatedGroupOffsets(coordinator: GroupCoordinatorApi): GroupCommittedOffsets[] {
  return coordinator.listGroups(null).map((listing) => {
    const fetched = coordinator.fetchOffsets({ groupId: listing.groupId, topics: null, requireStable: false });
    return {
      groupId: listing.groupId,
      offsets: fetched.topics.flatMap((t) =>
        t.partitions.filter((p) => p.errorCode === 0 && p.committedOffset >= 0).map((p) => ({ topic: t.name, partition: p.partitionIndex, committedOffset: p.committedOffset })),
      ),
    };
  });
}
