import type { SettledOffsets, TopicPartitionRef } from '@rivulet/client';
import { noopLogger, RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { GroupLagCollector, type GroupCommittedOffsets } from './group-lag-metrics.js';
import { NodeMetrics } from './metrics.js';

const t = (partition: number, committedOffset: number): TopicPartitionRef & { committedOffset: number } => ({ topic: 't', partition, committedOffset });

/** A collector over given groups and high watermarks, counting lookups, on a clock the test moves. */
function setup(options: { maxPartitions?: number; lookupTimeoutMs?: number } = {}) {
  let nowMs = 0;
  const state = {
    groups: [] as GroupCommittedOffsets[],
    highWatermarks: new Map<string, number>([
      ['t-0', 10],
      ['t-1', 20],
      ['t-2', 30],
    ]),
    lookups: [] as string[][],
    /** When set, lookups wait for it. */
    gate: undefined as Promise<void> | undefined,
  };
  const lookUpHighWatermarks = async (partitions: readonly TopicPartitionRef[]): Promise<SettledOffsets> => {
    state.lookups.push(partitions.map((tp) => `${tp.topic}-${tp.partition}`));
    await state.gate;
    const listed = partitions.flatMap((tp) => {
      const offset = state.highWatermarks.get(`${tp.topic}-${tp.partition}`);
      return offset === undefined ? [] : [{ ...tp, offset, timestamp: -1 }];
    });
    const failures = partitions
      .filter((tp) => !state.highWatermarks.has(`${tp.topic}-${tp.partition}`))
      .map((tp) => ({ ...tp, error: new RivuletError('UNKNOWN_TOPIC_OR_PARTITION', 'gone') }));
    return { listed, failures };
  };
  const collector = new GroupLagCollector({
    committedOffsets: () => state.groups,
    lookUpHighWatermarks,
    highWatermarkMaxAgeMs: 10_000,
    lookupTimeoutMs: options.lookupTimeoutMs ?? 1_000,
    maxPartitions: options.maxPartitions ?? 100,
    clock: { nowMs: () => nowMs, wallClockMs: () => nowMs },
    logger: noopLogger,
  });
  return { collector, state, advance: (ms: number) => (nowMs += ms) };
}

describe('GroupLagCollector', () => {
  it('gives each group with committed offsets its lag per partition and in total', async () => {
    const { collector, state } = setup();
    state.groups = [
      { groupId: 'a', offsets: [t(0, 4), t(1, 20)] },
      { groupId: 'b', offsets: [t(0, 10), t(2, 0)] },
      { groupId: 'idle', offsets: [] },
    ];
    expect(await collector.snapshot()).toEqual([
      { groupId: 'a', partitions: [{ topic: 't', partition: 0, lag: 6 }, { topic: 't', partition: 1, lag: 0 }], totalLag: 6 },
      { groupId: 'b', partitions: [{ topic: 't', partition: 0, lag: 0 }, { topic: 't', partition: 2, lag: 30 }], totalLag: 30 },
    ]);
    // One lookup for the partitions of every group.
    expect(state.lookups).toEqual([['t-0', 't-1', 't-2']]);
  });

  it('reads committed offsets every time but looks high watermarks up once per period', async () => {
    const { collector, state, advance } = setup();
    state.groups = [{ groupId: 'a', offsets: [t(0, 4)] }];
    expect((await collector.snapshot())[0]!.totalLag).toBe(6);
    state.groups = [{ groupId: 'a', offsets: [t(0, 8)] }];
    state.highWatermarks.set('t-0', 15);
    advance(9_000);
    expect((await collector.snapshot())[0]!.totalLag).toBe(2);
    expect(state.lookups).toHaveLength(1);
    advance(1_000);
    expect((await collector.snapshot())[0]!.totalLag).toBe(7);
    expect(state.lookups).toHaveLength(2);
  });

  it('looks up at once a partition it has not asked about, but not again one whose lookup failed', async () => {
    const { collector, state } = setup();
    state.groups = [{ groupId: 'a', offsets: [t(0, 4)] }];
    await collector.snapshot();
    state.groups = [{ groupId: 'a', offsets: [t(0, 4), { topic: 'gone', partition: 0, committedOffset: 1 }] }];
    expect(await collector.snapshot()).toEqual([{ groupId: 'a', partitions: [{ topic: 't', partition: 0, lag: 6 }], totalLag: 6 }]);
    await collector.snapshot();
    expect(state.lookups).toEqual([['t-0'], ['t-0', 'gone-0']]);
  });

  it('looks up at most maxPartitions partitions; the others are left out', async () => {
    const { collector, state } = setup({ maxPartitions: 2 });
    state.groups = [{ groupId: 'a', offsets: [t(0, 0), t(1, 0), t(2, 0)] }];
    expect(await collector.snapshot()).toEqual([{ groupId: 'a', partitions: [{ topic: 't', partition: 0, lag: 10 }, { topic: 't', partition: 1, lag: 20 }], totalLag: 30 }]);
    expect(state.lookups).toEqual([['t-0', 't-1']]);
  });

  it('waits for a slow lookup only up to its timeout, runs one lookup at a time, and shares a snapshot being made', async () => {
    const { collector, state, advance } = setup({ lookupTimeoutMs: 20 });
    state.groups = [{ groupId: 'a', offsets: [t(0, 4)] }];
    let open!: () => void;
    state.gate = new Promise((resolve) => (open = resolve));
    const [first, second] = await Promise.all([collector.snapshot(), collector.snapshot()]);
    expect(first).toBe(second);
    // Nothing is known yet: the group's partitions are left out.
    expect(first).toEqual([{ groupId: 'a', partitions: [], totalLag: 0 }]);
    advance(20_000);
    await collector.snapshot();
    expect(state.lookups).toHaveLength(1);
    open();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await collector.snapshot()).toEqual([{ groupId: 'a', partitions: [{ topic: 't', partition: 0, lag: 6 }], totalLag: 6 }]);
    expect(state.lookups).toHaveLength(1);
  });
});

describe('the lag metrics', () => {
  it('export each partition lag and each group total of the groups with a known lag', async () => {
    const metrics = new NodeMetrics(
      () => [],
      () =>
        Promise.resolve([
          { groupId: 'billing', partitions: [{ topic: 'orders', partition: 0, lag: 6 }, { topic: 'orders', partition: 1, lag: 0 }], totalLag: 6 },
          { groupId: 'unknown', partitions: [], totalLag: 0 },
        ]),
    );
    const text = await metrics.registry.metrics();
    expect(text).toContain('rivulet_consumer_group_lag{group="billing",topic="orders",partition="0"} 6\n');
    expect(text).toContain('rivulet_consumer_group_lag{group="billing",topic="orders",partition="1"} 0\n');
    expect(text).toContain('rivulet_consumer_group_lag_total{group="billing"} 6\n');
    expect(text).not.toContain('group="unknown"');
  });
});
