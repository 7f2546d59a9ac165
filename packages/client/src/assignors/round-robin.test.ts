import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignRoundRobin } from './round-robin.js';
import { assignedKeys, loads, member, named, partitionsOf, randomGroup } from './assignor-test-support.js';

describe('round-robin assignor', () => {
  it('deals the sorted partitions out in member order (Kafka’s example)', () => {
    const counts = new Map([
      ['t0', 3],
      ['t1', 3],
    ]);
    const assignment = assignRoundRobin([member('c1', ['t0', 't1']), member('c0', ['t0', 't1'])], counts);
    expect(named(assignment)).toEqual({ c0: ['t0-0', 't0-2', 't1-1'], c1: ['t0-1', 't1-0', 't1-2'] });
  });

  it('skips members not subscribed to a partition’s topic (Kafka’s unequal-subscription example)', () => {
    const counts = new Map([
      ['t0', 1],
      ['t1', 2],
      ['t2', 3],
    ]);
    const assignment = assignRoundRobin([member('c0', ['t0']), member('c1', ['t0', 't1']), member('c2', ['t0', 't1', 't2'])], counts);
    expect(named(assignment)).toEqual({ c0: ['t0-0'], c1: ['t1-0'], c2: ['t1-1', 't2-0', 't2-1', 't2-2'] });
  });

  it('assigns every subscribed partition once, to a subscriber, evenly with equal subscriptions, whatever the member order', () => {
    fc.assert(
      fc.property(randomGroup(true), ({ members, partitionCounts, shuffledMembers }) => {
        const assignment = assignRoundRobin(members, partitionCounts);
        expect(assignedKeys(assignment).size).toBe(partitionsOf(partitionCounts, partitionCounts.keys()).length);
        expect(Math.max(...loads(assignment)) - Math.min(...loads(assignment))).toBeLessThanOrEqual(1);
        expect(named(assignRoundRobin(shuffledMembers, partitionCounts))).toEqual(named(assignment));
      }),
    );
  });

  it('assigns only to subscribers when subscriptions differ', () => {
    fc.assert(
      fc.property(randomGroup(false), ({ members, partitionCounts }) => {
        const assignment = assignRoundRobin(members, partitionCounts);
        expect(assignedKeys(assignment).size).toBe(partitionsOf(partitionCounts, members.flatMap((m) => m.topics)).length);
        for (const m of members) for (const tp of assignment.get(m.memberId)!) expect(m.topics).toContain(tp.topic);
      }),
    );
  });
});
