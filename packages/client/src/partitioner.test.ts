import { SeededRandom } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { partitionForKey } from './murmur2.js';
import { StickyPartitioner, type TopicLayout } from './partitioner.js';

const layout = (numPartitions: number, availablePartitions: number[] = []): TopicLayout => ({ numPartitions, availablePartitions });

describe('StickyPartitioner', () => {
  it('sends keyed records to toPositive(murmur2(key)) % n whatever the sticky state', () => {
    const partitioner = new StickyPartitioner(new SeededRandom(1));
    for (const key of ['21', 'foobar', 'abc', 'order-17', '']) {
      const bytes = Buffer.from(key);
      expect(partitioner.partition('t', bytes, layout(12))).toBe(partitionForKey(bytes, 12));
      partitioner.onBatchClosed('t', partitionForKey(bytes, 12), layout(12));
      expect(partitioner.partition('t', bytes, layout(12))).toBe(partitionForKey(bytes, 12));
    }
  });

  it('keeps keyless records on one partition until its batch closes, then moves to another', () => {
    const partitioner = new StickyPartitioner(new SeededRandom(7));
    const first = partitioner.partition('t', null, layout(4));
    for (let i = 0; i < 100; i++) expect(partitioner.partition('t', null, layout(4))).toBe(first);

    partitioner.onBatchClosed('t', first, layout(4));
    const second = partitioner.partition('t', null, layout(4));
    expect(second).not.toBe(first);
    expect(partitioner.partition('t', null, layout(4))).toBe(second);
  });

  it('ignores closed batches of partitions that are not sticky', () => {
    const partitioner = new StickyPartitioner(new SeededRandom(3));
    const sticky = partitioner.partition('t', null, layout(4));
    partitioner.onBatchClosed('t', (sticky + 1) % 4, layout(4));
    expect(partitioner.partition('t', null, layout(4))).toBe(sticky);
  });

  it('keeps one sticky partition per topic', () => {
    const partitioner = new StickyPartitioner(new SeededRandom(11));
    const a = partitioner.partition('a', null, layout(8));
    const b = partitioner.partition('b', null, layout(8));
    partitioner.onBatchClosed('b', b, layout(8));
    expect(partitioner.partition('a', null, layout(8))).toBe(a);
  });

  it('prefers partitions whose leader is available and visits them all over time', () => {
    const partitioner = new StickyPartitioner(new SeededRandom(5));
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const p = partitioner.partition('t', null, layout(6, [1, 3, 5]));
      expect([1, 3, 5]).toContain(p);
      seen.add(p);
      partitioner.onBatchClosed('t', p, layout(6, [1, 3, 5]));
    }
    expect([...seen].sort()).toEqual([1, 3, 5]);
  });

  it('stays on the only partition of a single-partition topic', () => {
    const partitioner = new StickyPartitioner(new SeededRandom(5));
    expect(partitioner.partition('t', null, layout(1))).toBe(0);
    partitioner.onBatchClosed('t', 0, layout(1));
    expect(partitioner.partition('t', null, layout(1))).toBe(0);
  });
});
