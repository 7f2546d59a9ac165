import { tpKey, type TopicPartitionRef } from '../types.js';
import { compareMembers, comparePartitions, subscribedTopics, type GroupAssignment, type MemberSubscription, type PartitionAssignor } from './assignor.js';

/**
 * Who consumes each partition now, as the members' subscriptions claim it: the claim of the
 * highest generation wins (a member that missed a rebalance still claims what it had before);
 * two claims of the same generation cancel out, as neither can be trusted. Claims on topics the
 * member no longer subscribes to, or on partitions that no longer exist, are ignored.
 */
export function currentOwners(members: readonly MemberSubscription[], partitionCounts: ReadonlyMap<string, number>): Map<string, string> {
  const claims = new Map<string, { memberId: string | null; generationId: number }>();
  for (const member of members) {
    for (const tp of member.ownedPartitions) {
      if (!member.topics.includes(tp.topic) || tp.partition >= (partitionCounts.get(tp.topic) ?? 0)) continue;
      const key = tpKey(tp.topic, tp.partition);
      const claim = claims.get(key);
      if (claim === undefined || member.generationId > claim.generationId) claims.set(key, { memberId: member.memberId, generationId: member.generationId });
      else if (member.generationId === claim.generationId && claim.memberId !== member.memberId) claim.memberId = null;
    }
  }
  const owners = new Map<string, string>();
  for (const [key, claim] of claims) if (claim.memberId !== null) owners.set(key, claim.memberId);
  return owners;
}

/**
 * A balanced assignment that moves as few partitions as it can (Kafka's sticky assignor):
 *
 * 1. every member keeps the partitions it owns (see `currentOwners`);
 * 2. each partition nobody owns goes to the least loaded member subscribed to its topic, the
 *    partitions with the fewest possible members first;
 * 3. while some partition could move from its member to a subscribed member with at least two
 *    fewer partitions, it moves: partitions the member did not own before first.
 *
 * Every move lowers the sum of squared loads, so step 3 ends; it ends balanced: no partition
 * can go to a subscribed member with two fewer. With equal subscriptions that means loads
 * differ by at most one, and a member that gains partitions loses none of those it owned.
 * The result depends only on the subscriptions, not on their order.
 */
export function assignSticky(members: readonly MemberSubscription[], partitionCounts: ReadonlyMap<string, number>): GroupAssignment {
  const ordered = [...members].sort(compareMembers);
  const owners = currentOwners(ordered, partitionCounts);
  const assignment: GroupAssignment = new Map(ordered.map((m) => [m.memberId, []]));
  const subscribersOf = new Map<string, MemberSubscription[]>();
  const unowned: TopicPartitionRef[] = [];
  for (const topic of subscribedTopics(ordered, partitionCounts)) {
    subscribersOf.set(
      topic,
      ordered.filter((m) => m.topics.includes(topic)),
    );
    for (let partition = 0; partition < partitionCounts.get(topic)!; partition++) {
      const owner = owners.get(tpKey(topic, partition));
      if (owner === undefined) unowned.push({ topic, partition });
      else assignment.get(owner)!.push({ topic, partition });
    }
  }
  const load = (member: MemberSubscription): number => assignment.get(member.memberId)!.length;
  const leastLoaded = (topic: string): MemberSubscription => subscribersOf.get(topic)!.reduce((best, m) => (load(m) < load(best) ? m : best));

  // Stable sort: among equally constrained partitions, (topic, partition) order stays.
  unowned.sort((a, b) => subscribersOf.get(a.topic)!.length - subscribersOf.get(b.topic)!.length);
  for (const tp of unowned) assignment.get(leastLoaded(tp.topic).memberId)!.push(tp);

  for (;;) {
    const move = findBalancingMove(ordered, assignment, owners, load, leastLoaded);
    if (move === undefined) break;
    const donated = assignment.get(move.from)!;
    donated.splice(donated.indexOf(move.tp), 1);
    assignment.get(move.to)!.push(move.tp);
  }
  for (const partitions of assignment.values()) partitions.sort(comparePartitions);
  return assignment;
}

function findBalancingMove(
  ordered: readonly MemberSubscription[],
  assignment: GroupAssignment,
  owners: ReadonlyMap<string, string>,
  load: (member: MemberSubscription) => number,
  leastLoaded: (topic: string) => MemberSubscription,
): { tp: TopicPartitionRef; from: string; to: string } | undefined {
  const minLoad = Math.min(...ordered.map(load));
  // Stable sort: most loaded first, member order among equals.
  const donors = [...ordered].sort((a, b) => load(b) - load(a));
  for (const donor of donors) {
    if (load(donor) - minLoad < 2) return undefined;
    const partitions = assignment.get(donor.memberId)!;
    const wasOwned = (tp: TopicPartitionRef): boolean => owners.get(tpKey(tp.topic, tp.partition)) === donor.memberId;
    // Newly assigned partitions first, then owned ones from the highest down.
    const candidates = [...partitions.filter((tp) => !wasOwned(tp)), ...partitions.filter(wasOwned).sort((a, b) => comparePartitions(b, a))];
    for (const tp of candidates) {
      const recipient = leastLoaded(tp.topic);
      if (load(recipient) <= load(donor) - 2) return { tp, from: donor.memberId, to: recipient.memberId };
    }
  }
  return undefined;
}

/**
 * The cooperative rule (KIP-429): a partition that `target` gives to a member other than its
 * current owner is left out for now. Its owner sees it missing, revokes it and rejoins; the
 * next rebalance, with the partition owned by nobody, hands it to its new member. Partitions
 * that stay with their owner are never interrupted.
 */
export function withholdTransfers(target: GroupAssignment, owners: ReadonlyMap<string, string>): GroupAssignment {
  const adjusted: GroupAssignment = new Map();
  for (const [memberId, partitions] of target) {
    adjusted.set(
      memberId,
      partitions.filter((tp) => {
        const owner = owners.get(tpKey(tp.topic, tp.partition));
        return owner === undefined || owner === memberId;
      }),
    );
  }
  return adjusted;
}

/**
 * Kafka's CooperativeStickyAssignor: the sticky assignment, less the partitions changing owner
 * (see `withholdTransfers`). Under the eager protocol members own nothing when they join, so
 * nothing is withheld and there is nothing to stick to: the result is simply balanced.
 */
export function assignCooperativeSticky(members: readonly MemberSubscription[], partitionCounts: ReadonlyMap<string, number>): GroupAssignment {
  return withholdTransfers(assignSticky(members, partitionCounts), currentOwners(members, partitionCounts));
}

export const cooperativeStickyAssignor: PartitionAssignor = {
  name: 'cooperative-sticky',
  supportedProtocols: ['eager', 'cooperative'],
  assign: assignCooperativeSticky,
};
