import type { GroupLagDescription } from '@rivulet/client';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { formatGroupLag, formatGroupList, formatPartitions, formatResetPlan } from './commands/group.js';
import { parseDatetime, parseShift, parseTopicSelection, planOffsetReset, type PartitionResetState } from './offset-reset.js';
import { capturedIo } from './test-io.js';

/** t-0 holds 10..99 with the group at 50; t-1 holds 0..19 with nothing committed; t-2 is empty at 7. */
const states: PartitionResetState[] = [
  { topic: 't', partition: 0, committedOffset: 50, logStartOffset: 10, highWatermark: 100, offsetAtTimestamp: 42 },
  { topic: 't', partition: 1, committedOffset: null, logStartOffset: 0, highWatermark: 20, offsetAtTimestamp: null },
  { topic: 't', partition: 2, committedOffset: 7, logStartOffset: 7, highWatermark: 7, offsetAtTimestamp: null },
];

const newOffsets = (target: Parameters<typeof planOffsetReset>[2], partitions = states): (number | null)[][] =>
  planOffsetReset('g', partitions, target).map((p) => [p.partition, p.currentOffset, p.newOffset]);

describe('planOffsetReset', () => {
  it('--to-earliest and --to-latest: the log start offset and the high watermark', () => {
    expect(newOffsets({ kind: 'earliest' })).toEqual([
      [0, 50, 10],
      [1, null, 0],
      [2, 7, 7],
    ]);
    expect(newOffsets({ kind: 'latest' })).toEqual([
      [0, 50, 100],
      [1, null, 20],
      [2, 7, 7],
    ]);
  });

  it('--to-offset keeps the offset between the log start and the high watermark', () => {
    expect(newOffsets({ kind: 'offset', offset: 15 })).toEqual([
      [0, 50, 15],
      [1, null, 15],
      [2, 7, 7],
    ]);
    expect(newOffsets({ kind: 'offset', offset: 0 })[0]).toEqual([0, 50, 10]);
    expect(newOffsets({ kind: 'offset', offset: 1000 })[0]).toEqual([0, 50, 100]);
  });

  it('--to-datetime: the first offset at or after the time, the high watermark when no record is that late', () => {
    expect(newOffsets({ kind: 'datetime', timestampMs: 1 })).toEqual([
      [0, 50, 42],
      [1, null, 20],
      [2, 7, 7],
    ]);
  });

  it('--shift-by moves the committed offset, clamped to [log start, high watermark]', () => {
    const committed = [states[0]!, states[2]!];
    expect(newOffsets({ kind: 'shift', by: -5 }, committed)).toEqual([
      [0, 50, 45],
      [2, 7, 7],
    ]);
    expect(newOffsets({ kind: 'shift', by: -45 }, committed)[0]).toEqual([0, 50, 10]);
    expect(newOffsets({ kind: 'shift', by: 60 }, committed)[0]).toEqual([0, 50, 100]);
  });

  it('--shift-by refuses a partition the group has committed nothing for', () => {
    expect(() => planOffsetReset('g', states, { kind: 'shift', by: 1 })).toThrow('cannot shift the offset of t-1: group g has committed none for it');
  });
});

describe('reset-offsets arguments', () => {
  it('reads topics with or without partitions', () => {
    expect(parseTopicSelection('orders')).toEqual({ topic: 'orders', partitions: null });
    expect(parseTopicSelection('orders:2,0,2')).toEqual({ topic: 'orders', partitions: [0, 2] });
    for (const bad of [':1', 'orders:', 'orders:a', 'orders:1,,2', 'orders:-1']) expect(() => parseTopicSelection(bad)).toThrow(/--topic expects/);
  });

  it('reads ISO 8601 times, UTC or with an offset', () => {
    expect(parseDatetime('2024-05-01T12:00:00Z')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseDatetime('2024-05-01T12:00:00.250+02:00')).toBe(Date.UTC(2024, 4, 1, 10, 0, 0, 250));
    expect(parseDatetime('2024-05-01T12:00')).toBe(new Date(2024, 4, 1, 12).getTime());
    for (const bad of ['yesterday', '2024-05-01', '1714564800000', '2024-13-01T00:00Z']) expect(() => parseDatetime(bad)).toThrow(/--to-datetime expects an ISO 8601 time/);
  });

  it('reads shifts in either direction', () => {
    expect(parseShift('-5')).toBe(-5);
    expect(parseShift('+3')).toBe(3);
    for (const bad of ['', 'x', '1.5', '1e3']) expect(() => parseShift(bad)).toThrow(/--shift-by must be an integer/);
  });
});

describe('group output', () => {
  it('lists groups with their state, protocol type and member count', () => {
    expect(formatGroupList([])).toBe('no groups\n');
    expect(
      formatGroupList([
        { groupId: 'billing', state: 'Stable', protocolType: 'consumer', memberCount: 2 },
        { groupId: 'tool', state: 'Empty', protocolType: '', memberCount: 0 },
      ]),
    ).toBe('GROUP    STATE   PROTOCOL-TYPE  MEMBERS\nbilling  Stable  consumer       2\ntool     Empty   -              0\n');
  });

  it('shows partitions by topic', () => {
    expect(
      formatPartitions([
        { topic: 'b', partition: 3 },
        { topic: 'a', partition: 1 },
        { topic: 'a', partition: 0 },
      ]),
    ).toBe('a:0,1 b:3');
    expect(formatPartitions([])).toBe('-');
  });

  it('describes members, and per partition its owner, offsets and lag, with the total', () => {
    const described: GroupLagDescription = {
      group: {
        groupId: 'billing',
        state: 'Stable',
        protocolType: 'consumer',
        assignor: 'range',
        members: [
          { memberId: 'm-1', groupInstanceId: null, clientId: 'app', clientHost: '/127.0.0.1', subscribedTopics: ['t'], assignment: [{ topic: 't', partition: 0 }] },
          { memberId: 'm-2', groupInstanceId: 'pod-2', clientId: 'app', clientHost: '/127.0.0.2', subscribedTopics: ['t'], assignment: [] },
        ],
      },
      partitions: [
        { topic: 't', partition: 0, memberId: 'm-1', committedOffset: 4, highWatermark: 10, lag: 6 },
        { topic: 't', partition: 1, memberId: null, committedOffset: 3, highWatermark: null, lag: null },
        { topic: 't', partition: 2, memberId: null, committedOffset: 9, highWatermark: 9, lag: 0 },
      ],
      totalLag: 6,
      highWatermarkFailures: [],
    };
    expect(formatGroupLag(described).split('\n')).toEqual([
      'Group: billing  State: Stable  Protocol: consumer  Assignor: range  Members: 2',
      '',
      'MEMBER-ID  CLIENT-ID  HOST        GROUP-INSTANCE-ID  PARTITIONS',
      'm-1        app        /127.0.0.1  -                  t:0',
      'm-2        app        /127.0.0.2  pod-2              -',
      '',
      'TOPIC  PARTITION  MEMBER-ID  COMMITTED-OFFSET  LOG-END-OFFSET  LAG',
      't      0          m-1        4                 10              6',
      't      1          -          3                 -               -',
      't      2          -          9                 9               0',
      'Total lag: 6',
      '',
    ]);
  });

  it('describes an empty group without offsets', () => {
    const out = formatGroupLag({
      group: { groupId: 'g', state: 'Empty', protocolType: '', assignor: '', members: [] },
      partitions: [],
      totalLag: 0,
      highWatermarkFailures: [],
    });
    expect(out).toBe('Group: g  State: Empty  Protocol: -  Assignor: -  Members: 0\n\nno active members\n\nno committed offsets and no assigned partitions\n');
  });

  it('prints the reset plan, current to new', () => {
    expect(formatResetPlan(planOffsetReset('g', states, { kind: 'earliest' }))).toBe(
      'TOPIC  PARTITION  CURRENT-OFFSET  NEW-OFFSET\nt      0          50              10\nt      1          -               0\nt      2          7               7\n',
    );
  });
});

describe('group usage errors exit with 2 before contacting a cluster', () => {
  it.each([
    [['group', 'reset-offsets', 'g', '--topic', 't'], /exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime and --shift-by/],
    [['group', 'reset-offsets', 'g', '--topic', 't', '--to-earliest', '--shift-by', '-1'], /exactly one of/],
    [['group', 'reset-offsets', 'g', '--to-latest'], /give --topic \(repeatable\) or --all-topics/],
    [['group', 'reset-offsets', 'g', '--to-latest', '--topic', 't', '--all-topics'], /give --topic \(repeatable\) or --all-topics/],
    [['group', 'reset-offsets', 'g', '--to-latest', '--topic', 't:x'], /--topic expects partition numbers/],
    [['group', 'reset-offsets', 'g', '--to-offset', '-3', '--topic', 't'], /--to-offset must be an integer >= 0/],
    [['group', 'reset-offsets', 'g', '--to-datetime', 'noon', '--topic', 't'], /--to-datetime expects an ISO 8601 time/],
    [['group', 'reset-offsets', 'g', '--shift-by', 'back', '--topic', 't'], /--shift-by must be an integer/],
    [['group', 'describe'], /missing required argument 'groups'/],
    [['group', 'delete'], /missing required argument 'groups'/],
  ])('%j', async (args, message) => {
    const io = capturedIo('', { RIVULET_BOOTSTRAP: '127.0.0.1:1' });
    expect(await runCli(args, io)).toBe(2);
    expect(io.err()).toMatch(message);
  });
});
