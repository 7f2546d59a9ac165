import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignRanges } from './range.js';
import { assignedKeys, member, named, partitionsOf, randomGroup } from './assignor-test-support.js';

describe('range assignor', () => {
  it('gives each member a consecutive range of every topic, the first members one more (Kafka’s example)', () => {
    const counts = new Map([
      ['t0', 3],
      ['t1', 3],
    ]);
    const assignment = assignRanges([member('c1', ['t0', 't1']), member('c0', ['t0', 't1'])], counts);
    expect(named(assignment)).toEqual({ c0: ['t0-0', 't0-1', 't1-0', 't1-1'], c1: ['t0-2', 't1-2'] });
  });

  it('ranges a topic only over its subscribers, and skips topics that do not exist', () => {
    const counts = new Map([
      ['t0', 4],
      ['t1', 2],
    ]);
    const assignment = assignRanges([member('a', ['t0']), member('b', ['t0', 't1', 'missing']), member('c', ['t1'])], counts);
    expect(named(assignment)).toEqual({ a: ['t0-0', 't0-1'], b: ['t0-2', 't0-3', 't1-0'], c: ['t1-1'] });
  });

  it('orders static members first by instance id, then dynamic ones by member id', () => {
    const counts = new Map([['t', 3]]);
    const assignment = assignRanges(
      [member('a', ['t']), { ...member('z', ['t']), groupInstanceId: 'i2' }, { ...member('y', ['t']), groupInstanceId: 'i1' }],
      counts,
    );
    expect(named(assignment)).toEqual({ a: ['t-2'], z: ['t-1'], y: ['t-0'] });
  });

  it('assigns every subscribed partition once, to a subscriber, per topic evenly, whatever the member order', () => {
    fc.assert(
      fc.property(randomGroup(false), ({ members, partitionCounts, shuffledMembers }) => {
        const assignment = assignRanges(members, partitionCounts);
        expect(assignedKeys(assignment).size).toBe(partitionsOf(partitionCounts, members.flatMap((m) => m.topics)).length);
        for (const m of members) for (const tp of assignment.get(m.memberId)!) expect(m.topics).toContain(tp.topic);
        for (const topic of partitionCounts.keys()) {
          const perSubscriber = members.filter((m) => m.topics.includes(topic)).map((m) => assignment.get(m.memberId)!.filter((tp) => tp.topic === topic).length);
          if (perSubscriber.length > 0) expect(Math.max(...perSubscriber) - Math.min(...perSubscriber)).toBeLessThanOrEqual(1);
        }
        expect(named(assignRanges(shuffledMembers, partitionCounts))).toEqual(named(assignment));
      }),
    );
  });
});
