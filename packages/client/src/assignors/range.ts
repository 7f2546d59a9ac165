import { compareMembers, emptyAssignment, subscribedTopics, type GroupAssignment, type MemberSubscription, type PartitionAssignor } from './assignor.js';

/**
 * Kafka's RangeAssignor: topic by topic, the subscribers in member order get consecutive
 * ranges of partitions, the first `partitions % subscribers` of them one more. Members that
 * subscribe to the same topics get the same partition numbers of each (co-partitioning), at
 * the price of imbalance across topics: the first members get the extra partition of every topic.
 */
export function assignRanges(members: readonly MemberSubscription[], partitionCounts: ReadonlyMap<string, number>): GroupAssignment {
  const assignment = emptyAssignment(members);
  const ordered = [...members].sort(compareMembers);
  for (const topic of subscribedTopics(members, partitionCounts)) {
    const subscribers = ordered.filter((m) => m.topics.includes(topic));
    const partitionCount = partitionCounts.get(topic)!;
    const perMember = Math.floor(partitionCount / subscribers.length);
    const withExtra = partitionCount % subscribers.length;
    subscribers.forEach((member, i) => {
      const start = perMember * i + Math.min(i, withExtra);
      const length = perMember + (i < withExtra ? 1 : 0);
      const partitions = assignment.get(member.memberId)!;
      for (let partition = start; partition < start + length; partition++) partitions.push({ topic, partition });
    });
  }
  return assignment;
}

export const rangeAssignor: PartitionAssignor = { name: 'range', supportedProtocols: ['eager'], assign: assignRanges };
