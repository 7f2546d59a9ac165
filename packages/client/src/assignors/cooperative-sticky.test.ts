import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tpKey, type TopicPartitionRef } from '../types.js';
import type { GroupAssignment, MemberSubscription } from './assignor.js';
import { assignCooperativeSticky, assignSticky, currentOwners } from './cooperative-sticky.js';
import { assignedKeys, loads, member, named, partitionsOf, randomGroup } from './assignor-test-support.js';

const tps = (...names: string[]): TopicPartitionRef[] =>
  names.map((name) => {
    const [topic, partition] = name.split('-');
    return { topic: topic!, partition: Number(partition) };
  });

/** The members as they join after `owned` was assigned in `generationId`: each claims what it holds. */
function rejoin(members: readonly MemberSubscription[], owned: GroupAssignment, generationId: number): MemberSubscription[] {
  return members.map((m) => ({ ...m, ownedPartitions: owned.get(m.memberId) ?? [], generationId: owned.has(m.memberId) ? generationId : -1 }));
}

const keysOf = (partitions: readonly TopicPartitionRef[]): Set<string> => new Set(partitions.map((tp) => tpKey(tp.topic, tp.partition)));

describe('sticky assignment', () => {
  it('shares a topic evenly in a new group', () => {
    const counts = new Map([['t', 12]]);
    const assignment = assignSticky([member('a', ['t']), member('b', ['t']), member('c', ['t'])], counts);
    expect(loads(assignment)).toEqual([4, 4, 4]);
    expect(assignedKeys(assignment).size).toBe(12);
  });

  it('hands a leaving member’s partitions to the others and moves nothing else', () => {
    const counts = new Map([['t', 6]]);
    const members = [member('a', ['t'], tps('t-0', 't-1'), 3), member('b', ['t'], tps('t-2', 't-3'), 3)];
    // 'c' held t-4 and t-5 and left.
    expect(named(assignSticky(members, counts))).toEqual({ a: ['t-0', 't-1', 't-4'], b: ['t-2', 't-3', 't-5'] });
  });

  it('trusts the newest generation’s claim, and neither of two claims of the same generation', () => {
    const counts = new Map([['t', 3]]);
    const owners = currentOwners(
      [member('old', ['t'], tps('t-0', 't-1'), 4), member('new', ['t'], tps('t-0'), 5), member('x', ['t'], tps('t-2'), 5), member('y', ['t'], tps('t-2'), 5)],
      counts,
    );
    expect(Object.fromEntries(owners)).toEqual({ [tpKey('t', 0)]: 'new', [tpKey('t', 1)]: 'old' });
  });

  it('ignores claims on unsubscribed topics and on partitions that are gone', () => {
    const counts = new Map([
      ['t', 2],
      ['u', 1],
    ]);
    const owners = currentOwners([member('a', ['t'], tps('t-1', 't-7', 'u-0'), 1)], counts);
    expect([...owners.keys()]).toEqual([tpKey('t', 1)]);
  });

  it('balances unequal subscriptions: no partition could go to a subscriber with two fewer', () => {
    fc.assert(
      fc.property(randomGroup(false), ({ members, partitionCounts, shuffledMembers }) => {
        const assignment = assignSticky(members, partitionCounts);
        expect(assignedKeys(assignment).size).toBe(partitionsOf(partitionCounts, members.flatMap((m) => m.topics)).length);
        for (const m of members) {
          for (const tp of assignment.get(m.memberId)!) {
            expect(m.topics).toContain(tp.topic);
            for (const other of members.filter((o) => o.topics.includes(tp.topic))) {
              expect(assignment.get(other.memberId)!.length).toBeGreaterThanOrEqual(assignment.get(m.memberId)!.length - 1);
            }
          }
        }
        expect(named(assignSticky(shuffledMembers, partitionCounts))).toEqual(named(assignment));
      }),
    );
  });
});

/** A group that had a balanced assignment, then lost some members and gained others. */
const membershipChange = randomGroup(true).chain((group) =>
  fc
    .record({
      leaving: fc.array(fc.boolean(), { minLength: group.members.length, maxLength: group.members.length }),
      joining: fc.integer({ min: 0, max: 4 }),
    })
    .filter(({ leaving, joining }) => joining > 0 || leaving.some((left) => !left))
    .map(({ leaving, joining }) => {
      const topics = group.members[0]!.topics;
      const before = assignSticky(group.members, group.partitionCounts);
      const stayed = group.members.filter((_, i) => !leaving[i]);
      const joined = Array.from({ length: joining }, (_, i) => member(`joiner-${i}`, topics));
      return { partitionCounts: group.partitionCounts, before, members: [...stayed, ...joined] };
    }),
);

describe('cooperative-sticky assignor', () => {
  it('withholds a partition that moves until its owner has revoked it, then hands it over', () => {
    const counts = new Map([['t', 4]]);
    const owned: GroupAssignment = new Map([['a', tps('t-0', 't-1', 't-2', 't-3')]]);
    const first = assignCooperativeSticky(rejoin([member('a', ['t']), member('b', ['t'])], owned, 7), counts);
    // 'a' keeps two and revokes two; 'b' gets nothing yet: a has not let go.
    expect(named(first)).toEqual({ a: ['t-0', 't-1'], b: [] });
    const second = assignCooperativeSticky(rejoin([member('a', ['t']), member('b', ['t'])], first, 8), counts);
    expect(named(second)).toEqual({ a: ['t-0', 't-1'], b: ['t-2', 't-3'] });
  });

  it('under the eager protocol (nothing owned) is simply balanced', () => {
    const counts = new Map([['t', 7]]);
    expect(loads(assignCooperativeSticky([member('a', ['t']), member('b', ['t'])], counts)).sort()).toEqual([3, 4]);
  });

  it('converges in two rebalances after any membership change, never moving a partition that stays, and then holds still', () => {
    fc.assert(
      fc.property(membershipChange, ({ partitionCounts, before, members }) => {
        const first = assignCooperativeSticky(rejoin(members, before, 1), partitionCounts);
        const firstKeys = assignedKeys(first);
        // What the first round leaves out is only what another member still holds.
        const ownerBefore = new Map([...before].flatMap(([memberId, partitions]) => partitions.map((tp) => [tpKey(tp.topic, tp.partition), memberId] as const)));
        const present = new Set(members.map((m) => m.memberId));
        for (const tp of partitionsOf(partitionCounts, partitionCounts.keys())) {
          const key = tpKey(tp.topic, tp.partition);
          if (!firstKeys.has(key)) expect(present.has(ownerBefore.get(key) ?? '')).toBe(true);
        }
        for (const [memberId, partitions] of first) {
          for (const tp of partitions) {
            const owner = ownerBefore.get(tpKey(tp.topic, tp.partition));
            expect(owner === undefined || owner === memberId || !present.has(owner)).toBe(true);
          }
        }

        const second = assignCooperativeSticky(rejoin(members, first, 2), partitionCounts);
        expect(assignedKeys(second).size).toBe(partitionsOf(partitionCounts, partitionCounts.keys()).length);
        expect(Math.max(...loads(second)) - Math.min(...loads(second))).toBeLessThanOrEqual(1);
        for (const [memberId, partitions] of second) {
          // Nothing the first round left with its owner moves in the second, and what a member
          // keeps from before it kept throughout.
          expect(keysOf(partitions)).toEqual(new Set([...keysOf(partitions)].filter((key) => !firstKeys.has(key) || keysOf(first.get(memberId)!).has(key))));
          const keptFromBefore = [...keysOf(before.get(memberId) ?? [])].filter((key) => keysOf(partitions).has(key));
          for (const key of keptFromBefore) expect(keysOf(first.get(memberId)!).has(key)).toBe(true);
          // Sticky: a member either kept all it had or gained nothing.
          const had = keysOf(before.get(memberId) ?? []);
          const gained = [...keysOf(partitions)].filter((key) => !had.has(key));
          expect(keptFromBefore.length === had.size || gained.length === 0).toBe(true);
        }
        expect(named(assignCooperativeSticky(rejoin(members, second, 3), partitionCounts))).toEqual(named(second));
      }),
    );
  });
});
