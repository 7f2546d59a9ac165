import {
  decodeConsumerAssignment,
  decodeConsumerSubscription,
  encodeConsumerAssignment,
  encodeConsumerSubscription,
  type ConsumerTopicPartitions,
} from '@rivulet/group';
import { comparePartitions } from '../assignors/assignor.js';
import type { TopicPartitionRef } from '../types.js';

/**
 * Kafka's ConsumerProtocol as the client sees it: the Subscription a consumer puts in its
 * JoinGroup protocol metadata and the Assignment the leader gives each member in SyncGroup,
 * with partitions as TopicPartitionRefs. The bytes are @rivulet/group's encoding (the one the
 * coordinator and Kafka clients read); this only changes the shape of the partition lists.
 * Malformed bytes throw @rivulet/group's MalformedBytesError.
 */

export interface ConsumerSubscription {
  readonly topics: readonly string[];
  readonly userData: Uint8Array | null;
  readonly ownedPartitions: readonly TopicPartitionRef[];
  /** -1 before v2, or when the member has no generation. */
  readonly generationId: number;
  readonly rackId: string | null;
}

export interface ConsumerAssignment {
  readonly partitions: readonly TopicPartitionRef[];
  readonly userData: Uint8Array | null;
}

/** Encodes the latest version (3), as a Buffer for the protobuf message (no copy). */
export function encodeSubscription(subscription: ConsumerSubscription): Buffer {
  return asBuffer(encodeConsumerSubscription({ ...subscription, ownedPartitions: byTopic(subscription.ownedPartitions) }));
}

export function decodeSubscription(bytes: Uint8Array): ConsumerSubscription {
  const { topics, userData, ownedPartitions, generationId, rackId } = decodeConsumerSubscription(bytes);
  return { topics, userData, ownedPartitions: flatten(ownedPartitions), generationId, rackId };
}

/** Encodes the latest version (3), as a Buffer for the protobuf message (no copy). */
export function encodeAssignment(assignment: ConsumerAssignment): Buffer {
  return asBuffer(encodeConsumerAssignment({ assignedPartitions: byTopic(assignment.partitions), userData: assignment.userData }));
}

/** Empty bytes (what a member the leader left out of its assignments gets) are no partitions. */
export function decodeAssignment(bytes: Uint8Array): ConsumerAssignment {
  if (bytes.length === 0) return { partitions: [], userData: null };
  const { assignedPartitions, userData } = decodeConsumerAssignment(bytes);
  return { partitions: flatten(assignedPartitions), userData };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function byTopic(partitions: readonly TopicPartitionRef[]): ConsumerTopicPartitions[] {
  const grouped = new Map<string, number[]>();
  for (const tp of [...partitions].sort(comparePartitions)) grouped.set(tp.topic, [...(grouped.get(tp.topic) ?? []), tp.partition]);
  return [...grouped].map(([topic, indexes]) => ({ topic, partitions: indexes }));
}

function flatten(topics: readonly ConsumerTopicPartitions[]): TopicPartitionRef[] {
  return topics.flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition })));
}
