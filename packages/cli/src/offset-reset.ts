import { InvalidArgumentError } from 'commander';
import type { TopicPartitionRef } from '@rivulet/client';
import { RivuletError } from '@rivulet/common';

/** Where `group reset-offsets` moves a group's offsets, as kafka-consumer-groups.sh's --to-… and --shift-by options. */
export type OffsetResetTarget =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'offset'; readonly offset: number }
  | { readonly kind: 'datetime'; readonly timestampMs: number }
  | { readonly kind: 'shift'; readonly by: number };

/** What the plan of one partition is made from. */
export interface PartitionResetState extends TopicPartitionRef {
  /** null when the group has committed none for the partition. */
  readonly committedOffset: number | null;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  /** For a datetime target: the first offset at or after the time, null when no record is that late. */
  readonly offsetAtTimestamp: number | null;
}

export interface PlannedOffsetReset extends TopicPartitionRef {
  readonly currentOffset: number | null;
  readonly newOffset: number;
}

/**
 * The new committed offset of each partition, kept within what the partition holds: below the
 * log start offset becomes the log start offset and beyond the high watermark the high
 * watermark, as Kafka's tool does for --to-offset and --shift-by. A time later than every
 * record resets to the high watermark. Shifting a partition the group has committed nothing for
 * is refused: there is nothing to shift from.
 */
export function planOffsetReset(groupId: string, partitions: readonly PartitionResetState[], target: OffsetResetTarget): PlannedOffsetReset[] {
  return partitions.map((p) => {
    const wanted = wantedOffset(groupId, p, target);
    return { topic: p.topic, partition: p.partition, currentOffset: p.committedOffset, newOffset: Math.min(Math.max(wanted, p.logStartOffset), p.highWatermark) };
  });
}

function wantedOffset(groupId: string, p: PartitionResetState, target: OffsetResetTarget): number {
  switch (target.kind) {
    case 'earliest':
      return p.logStartOffset;
    case 'latest':
      return p.highWatermark;
    case 'offset':
      return target.offset;
    case 'datetime':
      return p.offsetAtTimestamp ?? p.highWatermark;
    case 'shift':
      if (p.committedOffset === null) {
        throw new RivuletError('INVALID_REQUEST', `cannot shift the offset of ${p.topic}-${p.partition}: group ${groupId} has committed none for it`, p);
      }
      return p.committedOffset + target.by;
  }
}

/** One --topic argument: a topic, with the partitions to reset or null for all of them. */
export interface TopicSelection {
  readonly topic: string;
  readonly partitions: readonly number[] | null;
}

/** Parses `--topic T` or `--topic T:0,1,2` (topic names hold no colon). */
export function parseTopicSelection(value: string): TopicSelection {
  const colon = value.lastIndexOf(':');
  const topic = colon < 0 ? value : value.slice(0, colon);
  if (topic === '') throw new InvalidArgumentError(`--topic expects TOPIC or TOPIC:PARTITION,PARTITION…, got "${value}"`);
  if (colon < 0) return { topic, partitions: null };
  const parts = value.slice(colon + 1).split(',');
  if (!parts.every((part) => /^\d+$/.test(part.trim()) && Number.isSafeInteger(Number(part)))) {
    throw new InvalidArgumentError(`--topic expects partition numbers after the colon, e.g. ${topic}:0,1, got "${value}"`);
  }
  return { topic, partitions: [...new Set(parts.map(Number))].sort((a, b) => a - b) };
}

/**
 * Parses --to-datetime: an ISO 8601 date and time, YYYY-MM-DDTHH:mm[:ss[.sss]] with an optional
 * Z or ±HH:mm offset (local time without one), as milliseconds since the epoch.
 */
export function parseDatetime(value: string): number {
  const timestampMs = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(timestampMs)) throw new InvalidArgumentError(`--to-datetime expects an ISO 8601 time such as 2024-05-01T12:00:00Z, got "${value}"`);
  return timestampMs;
}

/** Parses --shift-by: any integer, negative to move back. */
export function parseShift(value: string): number {
  const by = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(by)) throw new InvalidArgumentError(`--shift-by must be an integer (negative to move back), got "${value}"`);
  return by;
}
