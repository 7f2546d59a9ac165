import type { TopicPartitionRef } from '../types.js';

/**
 * Partition assignors: pure functions the group leader runs over every member's subscription
 * to decide which member consumes which partition, as Kafka's ConsumerPartitionAssignor.
 */

/** How members give partitions up during a rebalance (Kafka's RebalanceProtocol). */
export type RebalanceProtocol = 'eager' | 'cooperative';

/** One member's subscription as the leader sees it in the JoinGroup answer. */
export interface MemberSubscription {
  readonly memberId: string;
  /** Static membership (KIP-345); null for a dynamic member. */
  readonly groupInstanceId: string | null;
  readonly topics: readonly string[];
  /** What the member consumed when it joined: empty under the eager protocol, which revokes everything first. */
  readonly ownedPartitions: readonly TopicPartitionRef[];
  /** The generation `ownedPartitions` were assigned in; -1 when unknown. */
  readonly generationId: number;
}

/** Member id → the partitions it is to consume. Every member of the input has an entry. */
export type GroupAssignment = Map<string, TopicPartitionRef[]>;

export interface PartitionAssignor {
  /** The protocol name in JoinGroup, shared with Kafka clients: 'range', 'roundrobin', 'cooperative-sticky'. */
  readonly name: string;
  /** A consumer runs the cooperative protocol only when every assignor it lists supports it. */
  readonly supportedProtocols: readonly RebalanceProtocol[];
  /** `partitionCounts` holds every subscribed topic that exists; topics missing from it get no partitions. */
  assign(members: readonly MemberSubscription[], partitionCounts: ReadonlyMap<string, number>): GroupAssignment;
}

/**
 * Kafka's member order for assignors: static members first by instance id, then dynamic ones
 * by member id, so a static member that restarts (new member id) keeps its place.
 */
export function compareMembers(a: MemberSubscription, b: MemberSubscription): number {
  if (a.groupInstanceId !== null && b.groupInstanceId !== null) return compareStrings(a.groupInstanceId, b.groupInstanceId);
  if (a.groupInstanceId !== null) return -1;
  if (b.groupInstanceId !== null) return 1;
  return compareStrings(a.memberId, b.memberId);
}

/** Code-unit order, as Java's String.compareTo, independent of the locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function comparePartitions(a: TopicPartitionRef, b: TopicPartitionRef): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition;
}

/** The subscribed topics that exist, in name order. */
export function subscribedTopics(members: readonly MemberSubscription[], partitionCounts: ReadonlyMap<string, number>): string[] {
  const topics = new Set(members.flatMap((m) => m.topics));
  return [...topics].filter((t) => (partitionCounts.get(t) ?? 0) > 0).sort(compareStrings);
}

export function emptyAssignment(members: readonly MemberSubscription[]): GroupAssignment {
  return new Map(members.map((m) => [m.memberId, []]));
}
