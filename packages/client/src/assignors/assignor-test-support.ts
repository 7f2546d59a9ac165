import fc from 'fast-check';
import { tpKey, type TopicPartitionRef } from '../types.js';
import type { GroupAssignment, MemberSubscription } from './assignor.js';

/** Test helpers shared by the assignor tests: compact notation and random groups. */

export function member(memberId: string, topics: readonly string[], ownedPartitions: readonly TopicPartitionRef[] = [], generationId = -1): MemberSubscription {
  return { memberId, groupInstanceId: null, topics, ownedPartitions, generationId };
}

/** 't0-1' style names of each member's partitions, for readable expectations. */
export function named(assignment: GroupAssignment): Record<string, string[]> {
  return Object.fromEntries([...assignment].map(([memberId, tps]) => [memberId, tps.map((tp) => `${tp.topic}-${tp.partition}`)]));
}

export function partitionsOf(topics: ReadonlyMap<string, number>, subscribed: Iterable<string>): TopicPartitionRef[] {
  const wanted = new Set(subscribed);
  return [...topics].filter(([topic]) => wanted.has(topic)).flatMap(([topic, count]) => Array.from({ length: count }, (_, partition) => ({ topic, partition })));
}

/** Every partition assigned at most once; the keys of the ones that are. */
export function assignedKeys(assignment: GroupAssignment): Set<string> {
  const keys = new Set<string>();
  for (const tps of assignment.values()) {
    for (const tp of tps) {
      const key = tpKey(tp.topic, tp.partition);
      if (keys.has(key)) throw new Error(`${tp.topic}-${tp.partition} assigned twice`);
      keys.add(key);
    }
  }
  return keys;
}

export function loads(assignment: GroupAssignment): number[] {
  return [...assignment.values()].map((tps) => tps.length);
}

export interface RandomGroup {
  readonly partitionCounts: Map<string, number>;
  readonly members: MemberSubscription[];
  /** The same members in another order, for determinism checks. */
  readonly shuffledMembers: MemberSubscription[];
}

const TOPICS = ['alpha', 'beta', 'gamma', 'delta'];

/** A group of 1–8 members over up to 4 topics of 1–12 partitions; `sameTopics` gives every member the same subscription. */
export function randomGroup(sameTopics: boolean): fc.Arbitrary<RandomGroup> {
  return fc
    .record({
      counts: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: TOPICS.length }),
      memberIds: fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 1, maxLength: 8 }),
      staticMask: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      subscriptionSeeds: fc.array(fc.integer({ min: 1, max: 15 }), { minLength: 8, maxLength: 8 }),
    })
    .map(({ counts, memberIds, staticMask, subscriptionSeeds }) => {
      const topics = TOPICS.slice(0, counts.length);
      const partitionCounts = new Map(topics.map((t, i) => [t, counts[i]!]));
      const members = memberIds.map((memberId, i): MemberSubscription => {
        const mask = subscriptionSeeds[i]!;
        const chosen = sameTopics ? topics : topics.filter((_, bit) => (mask >> bit) & 1);
        return {
          memberId,
          groupInstanceId: staticMask[i] ? `instance-${memberId}` : null,
          topics: chosen.length > 0 ? chosen : [topics[mask % topics.length]!],
          ownedPartitions: [],
          generationId: -1,
        };
      });
      return { partitionCounts, members };
    })
    .chain(({ partitionCounts, members }) =>
      fc
        .shuffledSubarray(members, { minLength: members.length, maxLength: members.length })
        .map((shuffledMembers) => ({ partitionCounts, members, shuffledMembers })),
    );
}
