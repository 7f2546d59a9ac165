import { compareMembers, emptyAssignment, subscribedTopics, type GroupAssignment, type MemberSubscription, type PartitionAssignor } from './assignor.js';

/**
 * Kafka's RoundRobinAssignor: every subscribed partition, in (topic, partition) order, goes to
 * the next member in member order that subscribes to its topic, cycling. With equal
 * subscriptions the counts differ by at most one across the whole group.
 */
export function assignRoundRobin(members: readonly MemberSubscription[], partitionCounts: ReadonlyMap<string, number>): GroupAssignment {
  const assignment = emptyAssignment(members);
  const ordered = [...members].sort(compareMembers);
  let next = 0;
  for (const topic of subscribedTopics(members, partitionCounts)) {
    const partitionCount = partitionCounts.get(topic)!;
    for (let partition = 0; partition < partitionCount; partition++) {
      // Some member subscribes to `topic` (subscribedTopics says so), so this stops within one cycle.
      while (!ordered[next % ordered.length]!.topics.includes(topic)) next++;
      assignment.get(ordered[next % ordered.length]!.memberId)!.push({ topic, partition });
      next++;
    }
  }
  return assignment;
}

export const roundRobinAssignor: PartitionAssignor = { name: 'roundrobin', supportedProtocols: ['eager'], assign: assignRoundRobin };
