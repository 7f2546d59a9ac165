import { describe, expect, it } from 'vitest';
import { checkGroupHistory, formatGroupCheckResult, keptPartitions, type AckedRecord, type GroupViolationKind } from './group-checker.js';
import { GroupHistory, parseMemberReport, type GroupEvent, type GroupEventInput } from './group-history.js';

/** Hand-made events: timestamps 1000, 1010, 1020, … unless an event carries its own. */
function historyOf(events: GroupEventInput[]): GroupHistory {
  let t = 1000;
  return GroupHistory.of(
    events.map((e) => {
      t = e.t ?? t + 10;
      return { ...e, t } as GroupEvent;
    }),
  );
}

/** Records `p<partition>-<offset>` acknowledged at offsets 0…count-1 of each partition. */
function acks(partitions: readonly number[], count: number): AckedRecord[] {
  return partitions.flatMap((partition) => Array.from({ length: count }, (_, offset) => ({ partition, offset, value: `p${partition}-${offset}` })));
}

const produced = (records: readonly AckedRecord[]): Map<string, number> => new Map(records.map((r) => [r.value, r.partition]));

function assigned(member: string, generation: number, owned: number[], partitions = owned): GroupEventInput {
  return { type: 'assigned', member, generation, memberId: `${member}-id`, partitions, owned };
}

function processed(member: string, partition: number, from: number, to: number, value = (offset: number) => `p${partition}-${offset}`): GroupEventInput[] {
  return Array.from({ length: to - from }, (_, i) => ({ type: 'processed', member, partition, offset: from + i, value: value(from + i) }));
}

function committed(member: string, generation: number, partition: number, offset: number): GroupEventInput {
  return { type: 'committed', member, generation, offsets: [{ partition, offset }] };
}

function kinds(events: GroupEventInput[], acked: AckedRecord[]): GroupViolationKind[] {
  return checkGroupHistory({ acked, produced: produced(acked), history: historyOf(events), partitions: 2 }).violations.map((v) => v.kind);
}

describe('checkGroupHistory', () => {
  it('passes at-least-once processing with a rebalance, counting the records processed twice', () => {
    const acked = acks([0, 1], 4);
    const events: GroupEventInput[] = [
      { type: 'member-start', member: 'a' },
      { type: 'member-start', member: 'b' },
      assigned('a', 1, [0]),
      assigned('b', 1, [1]),
      ...processed('a', 0, 0, 2),
      ...processed('b', 1, 0, 3),
      committed('a', 1, 0, 2),
      // a gives partition 0 up uncommitted past offset 2; b takes it and processes 2 again.
      ...processed('a', 0, 2, 3),
      { type: 'revoked', member: 'a', generation: 2, partitions: [0] },
      assigned('a', 2, []),
      assigned('b', 2, [0, 1], [0]),
      ...processed('b', 0, 2, 4),
      ...processed('b', 1, 3, 4),
      committed('b', 2, 0, 4),
      committed('b', 2, 1, 4),
    ];
    const result = checkGroupHistory({ acked, produced: produced(acked), history: historyOf(events), partitions: 2 });
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.stats).toMatchObject({ acked: 8, processed: 9, distinctProcessed: 8, duplicates: 1, commits: 3, members: 2, generations: 2 });
    expect(formatGroupCheckResult(result)).toContain('group violations: none');
  });

  it('allows a value the log holds twice (a retried produce) when it is also processed at its acknowledged offset', () => {
    const acked = [
      { partition: 0, offset: 0, value: 'x' },
      { partition: 0, offset: 2, value: 'y' },
    ];
    const events = [assigned('a', 1, [0]), ...processed('a', 0, 0, 3, (o) => ['x', 'y', 'y'][o]!)];
    expect(kinds(events, acked)).toEqual([]);
  });

  it('fails on a skipped record', () => {
    const acked = acks([0], 3);
    // a's offsets are contiguous (it read from 2 after its assignment): nothing but the ack shows offset 1 is missing.
    const events = [assigned('a', 1, [0]), ...processed('a', 0, 0, 1), { type: 'revoked', member: 'a', generation: 2, partitions: [0] } as GroupEventInput, assigned('b', 2, [0]), ...processed('b', 0, 2, 3)];
    const result = checkGroupHistory({ acked, produced: produced(acked), history: historyOf(events), partitions: 1 });
    expect(result.violations.map((v) => v.kind)).toEqual(['unprocessed']);
    expect(result.violations[0]!.message).toContain('"p0-1" was acknowledged at partition 0 offset 1 and no member processed it');
  });

  it('fails on a record processed at another offset than acknowledged', () => {
    const acked = [
      { partition: 0, offset: 0, value: 'x' },
      { partition: 0, offset: 1, value: 'y' },
    ];
    // The member saw y at offset 0 and x at offset 1: both values processed, neither where acknowledged.
    const events = [assigned('a', 1, [0]), ...processed('a', 0, 0, 2, (o) => ['y', 'x'][o]!)];
    const result = checkGroupHistory({ acked, produced: produced(acked), history: historyOf(events), partitions: 1 });
    expect(result.violations.map((v) => v.kind)).toEqual(['conflicting-offset', 'conflicting-offset']);
    expect(result.violations[0]!.message).toContain('"x" was acknowledged at partition 0 offset 0, where a processed "y"');
    // Where nothing was processed at the acknowledged offset, the record is reported as moved.
    const moved = [assigned('a', 1, [0]), ...processed('a', 0, 1, 2, () => 'x')];
    const result2 = checkGroupHistory({ acked: [acked[0]!], produced: produced(acked), history: historyOf(moved), partitions: 1 });
    expect(result2.violations.map((v) => v.kind)).toEqual(['wrong-offset']);
    expect(result2.violations[0]!.message).toContain('"x" was acknowledged at partition 0 offset 0 but processed only at partition 0 offset 1');
  });

  it('fails when two members own one partition in one generation', () => {
    const acked = acks([0, 1], 1);
    const events = [assigned('a', 3, [0, 1]), assigned('b', 3, [1]), ...processed('a', 0, 0, 1), ...processed('a', 1, 0, 1)];
    expect(kinds(events, acked)).toEqual(['double-owner']);
    // In different generations (a zombie that missed one), it is not.
    expect(kinds([assigned('a', 3, [0, 1]), assigned('b', 4, [1]), ...processed('a', 0, 0, 1), ...processed('a', 1, 0, 1)], acked)).toEqual([]);
  });

  it('fails on processing a partition the member does not own, before its assignment or after giving it up', () => {
    const acked = acks([0], 2);
    expect(kinds([...processed('a', 0, 0, 1), assigned('a', 1, [0]), ...processed('a', 0, 1, 2)], acked)).toEqual(['unowned-processing']);
    const afterRevoke = [assigned('a', 1, [0]), ...processed('a', 0, 0, 1), { type: 'revoked', member: 'a', generation: 2, partitions: [0] } as GroupEventInput, ...processed('a', 0, 1, 2)];
    expect(kinds(afterRevoke, acked)).toEqual(['unowned-processing']);
  });

  it('fails on a member skipping or repeating offsets of a partition it keeps', () => {
    const acked = acks([0], 4);
    const skipping = [assigned('a', 1, [0]), ...processed('a', 0, 0, 1), ...processed('a', 0, 2, 4), assigned('b', 2, [0]), ...processed('b', 0, 1, 2)];
    expect(kinds(skipping, acked)).toEqual(['offset-gap']);
    const repeating = [assigned('a', 1, [0]), ...processed('a', 0, 0, 3), ...processed('a', 0, 1, 4)];
    expect(kinds(repeating, acked)).toEqual(['out-of-order']);
    // Starting over after getting the partition back is not a repeat.
    const reassigned = [assigned('a', 1, [0]), ...processed('a', 0, 0, 3), { type: 'lost', member: 'a', generation: 1, partitions: [0] } as GroupEventInput, assigned('a', 3, [0]), ...processed('a', 0, 1, 4)];
    expect(kinds(reassigned, acked)).toEqual([]);
  });

  it('fails on a commit ahead of the processing, even when the records are processed later', () => {
    const acked = acks([0], 3);
    const events = [assigned('a', 1, [0]), ...processed('a', 0, 0, 1), committed('a', 1, 0, 3), ...processed('a', 0, 1, 3)];
    const result = checkGroupHistory({ acked, produced: produced(acked), history: historyOf(events), partitions: 1 });
    expect(result.violations.map((v) => v.kind)).toEqual(['commit-ahead']);
    expect(result.violations[0]!.message).toContain('a committed offset 3 of partition 0 before acknowledged offset 1 was processed (a processed it 10 ms later)');
  });

  it('fails on a value nobody produced, or produced to another partition', () => {
    const acked = acks([0, 1], 1);
    const events = [assigned('a', 1, [0, 1]), ...processed('a', 0, 0, 1), ...processed('a', 1, 0, 1), ...processed('a', 1, 1, 2, () => 'p0-0'), ...processed('a', 0, 1, 2, () => 'mystery')];
    expect(kinds(events, acked)).toEqual(['unknown-record', 'unknown-record']);
  });

  it('fails a history that dropped events', () => {
    const history = new GroupHistory(() => 5, 2);
    history.append(assigned('a', 1, [0]));
    history.append(processed('a', 0, 0, 1)[0]!);
    history.append(processed('a', 0, 1, 2)[0]!);
    const result = checkGroupHistory({ acked: [], history, partitions: 1 });
    expect(result.violations.map((v) => v.kind)).toEqual(['history-overflow']);
  });

  it('measures, per fault, how long partitions were without a live owner and until processing made progress again', () => {
    const acked = acks([0, 1], 6);
    const events: GroupEventInput[] = [
      assigned('a', 1, [0], [0]),
      assigned('b', 1, [1], [1]),
      ...processed('a', 0, 0, 3),
      ...processed('b', 1, 0, 3),
      committed('b', 1, 1, 2),
      { type: 'fault-start', name: 'kill-consumer', detail: 'b', t: 2000 },
      { type: 'member-exit', member: 'b', code: null, signal: 'SIGKILL', t: 2001 },
      ...processed('a', 0, 3, 4).map((e) => ({ ...e, t: 2100 })),
      { type: 'fault-end', name: 'kill-consumer', t: 5000 },
      // The session expired; a takes partition 1 from b's commit (offset 2): offset 2 again, then new progress.
      { ...assigned('a', 2, [0, 1], [1]), t: 5500 },
      ...processed('a', 1, 2, 6).map((e, i) => ({ ...e, t: 5600 + i * 100 })),
      ...processed('a', 0, 4, 6).map((e) => ({ ...e, t: 5650 })),
    ];
    const result = checkGroupHistory({ acked, produced: produced(acked), history: historyOf(events), partitions: 2, endMs: 7000 });
    expect(result.violations).toEqual([]);
    expect(result.faults.map((f) => f.fault)).toEqual(['baseline', 'kill-consumer']);
    const kill = result.faults[1]!;
    expect(kill).toMatchObject({ detail: 'b', reownedMs: 3500, reprocessed: 1, toMs: 7000 - 1010 });
    expect(kill.partitions[0]).toMatchObject({ reownedMs: 0, resumedMs: 100, reprocessed: 0 });
    // Partition 1: owned again 3500 ms in; offset 2 at 3600 was reprocessing, offset 3 at 3700 new progress.
    expect(kill.partitions[1]).toMatchObject({ reownedMs: 3500, resumedMs: 3700, reprocessed: 1, longestGapMs: 3600 });
    expect(kill.resumedMs).toBe(3700);
    expect(formatGroupCheckResult(result)).toContain('kill-consumer [b] @990–5990: reowned 3500 (p1), resumed 3700 (p1), gap 3600 (p1), reprocessed 1');
  });

  it('counts each record processed again in the window where it happened, even when its first processing was in the same window', () => {
    const acked = acks([0], 4);
    const events: GroupEventInput[] = [
      assigned('a', 1, [0]),
      ...processed('a', 0, 0, 1),
      { type: 'fault-start', name: 'cooperative-join', detail: 'b' },
      ...processed('a', 0, 1, 3),
      { type: 'revoked', member: 'a', generation: 2, partitions: [0] },
      assigned('b', 3, [0]),
      // b starts at a's last commit (offset 1): offsets 1 and 2 again, then 3.
      ...processed('b', 0, 1, 4),
    ];
    const result = checkGroupHistory({ acked, history: historyOf(events), partitions: 1 });
    expect(result.violations).toEqual([]);
    expect(result.faults.map((f) => [f.fault, f.reprocessed])).toEqual([
      ['baseline', 0],
      ['cooperative-join', 2],
    ]);
    expect(result.stats.duplicates).toBe(2);
  });

  it('reports a partition that no live member owns by the end of the window as never owned again', () => {
    const acked = acks([0], 1);
    const events: GroupEventInput[] = [assigned('a', 1, [0]), ...processed('a', 0, 0, 1), { type: 'fault-start', name: 'kill-consumer' }, { type: 'member-exit', member: 'a', code: null, signal: 'SIGKILL' }];
    const result = checkGroupHistory({ acked, history: historyOf(events), partitions: 1 });
    expect(result.faults[1]).toMatchObject({ reownedMs: null, resumedMs: null });
  });
});

describe('keptPartitions', () => {
  it('lists what each live member owned at both ends of a window, whether it gave it up between, and its longest pause', () => {
    const events: GroupEventInput[] = [
      { ...assigned('a', 1, [0, 1]), t: 100 },
      { ...assigned('b', 1, [2]), t: 100 },
      ...processed('a', 0, 0, 1).map((e) => ({ ...e, t: 200 })),
      ...processed('a', 1, 0, 1).map((e) => ({ ...e, t: 200 })),
      // The window: a keeps 0 throughout, gives 1 up and gets it back; b is killed.
      ...processed('a', 0, 1, 2).map((e) => ({ ...e, t: 1100 })),
      { type: 'revoked', member: 'a', generation: 2, partitions: [1], t: 1200 },
      { ...assigned('a', 2, [0]), t: 1200 },
      { type: 'member-exit', member: 'b', code: null, signal: 'SIGKILL', t: 1300 },
      ...processed('a', 0, 2, 3).map((e) => ({ ...e, t: 1500 })),
      { ...assigned('a', 3, [0, 1], [1]), t: 1600 },
    ];
    expect(keptPartitions(historyOf(events), 1000, 2000)).toEqual([
      { member: 'a', partition: 0, givenUp: false, processed: 2, longestGapMs: 500 },
      { member: 'a', partition: 1, givenUp: true, processed: 0, longestGapMs: 1000 },
    ]);
  });
});

describe('parseMemberReport', () => {
  it('takes report lines and nothing else', () => {
    expect(parseMemberReport('{"type":"processed","t":5,"partition":1,"offset":2,"value":"v"}')).toEqual({ type: 'processed', t: 5, partition: 1, offset: 2, value: 'v' });
    expect(parseMemberReport('{"type":"nonsense","t":5}')).toBeUndefined();
    expect(parseMemberReport('{"level":"info","msg":"joined"}')).toBeUndefined();
    expect(parseMemberReport('not json')).toBeUndefined();
  });
});
