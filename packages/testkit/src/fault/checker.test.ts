import { describe, expect, it } from 'vitest';
import { checkHistory, formatCheckResult, type ViolationKind } from './checker.js';
import { History, type HistoryEvent, type HistoryEventInput } from './history.js';

/** A hand-made history: events get timestamps 0, 10, 20, … unless they carry their own. */
function historyOf(events: (HistoryEventInput & { t?: number })[]): History {
  let t = 0;
  return History.of(
    events.map((e) => {
      t = e.t ?? t + 10;
      return { ...e, t } as HistoryEvent;
    }),
  );
}

/** Three records produced to partition 0 and acknowledged at offsets 0, 1, 2. */
function acked(values = ['a-0', 'a-1', 'a-2'], partition = 0): HistoryEventInput[] {
  return values.flatMap((value, offset): HistoryEventInput[] => [
    { type: 'produce-invoke', producer: 'a', partition, value },
    { type: 'produce-ok', partition, offset, value },
  ]);
}

function reads(reader: string, values: string[], partition = 0, from = 0): HistoryEventInput[] {
  return values.map((value, i) => ({ type: 'consume-read', reader, partition, offset: from + i, value }));
}

function kinds(history: History): ViolationKind[] {
  return checkHistory(history).violations.map((v) => v.kind);
}

describe('checkHistory', () => {
  it('passes a clean history, with failed and unknown produces present or absent and duplicates from retries', () => {
    const history = historyOf([
      ...acked(),
      { type: 'produce-invoke', producer: 'b', partition: 0, value: 'b-0' },
      { type: 'produce-unknown', partition: 0, value: 'b-0', error: 'REQUEST_TIMED_OUT' },
      { type: 'produce-invoke', producer: 'b', partition: 0, value: 'b-1' },
      { type: 'produce-fail', partition: 0, value: 'b-1', error: 'NOT_ENOUGH_REPLICAS' },
      // A retried request: b-2 is in the log twice, acknowledged at its second offset.
      { type: 'produce-invoke', producer: 'b', partition: 0, value: 'b-2' },
      { type: 'produce-ok', partition: 0, offset: 5, value: 'b-2' },
      ...reads('live', ['a-0', 'a-1']),
      ...reads('final', ['a-0', 'a-1', 'a-2', 'b-0', 'b-2', 'b-2']),
      { type: 'workload-end' },
    ]);
    const result = checkHistory(history);
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.stats).toMatchObject({ invoked: 6, acked: 4, failed: 1, unknown: 1, unackedPresent: 1, duplicates: 1 });
    expect(formatCheckResult(result)).toContain('violations: none');
  });

  it('finds an acknowledged record missing from the final read', () => {
    const result = checkHistory(historyOf([...acked(), ...reads('final', ['a-0', 'a-1'])]));
    expect(result.violations.map((v) => v.kind)).toEqual(['lost-ack']);
    expect(result.violations[0]!.message).toContain('"a-2"');
    expect(result.violations[0]!.records).toEqual([expect.objectContaining({ partition: 0, offset: 2, value: 'a-2', seenBy: 'ack' })]);
  });

  it('finds an acknowledged record lost when another took its offset', () => {
    const history = historyOf([
      ...acked(),
      { type: 'produce-invoke', producer: 'b', partition: 0, value: 'b-0' },
      { type: 'produce-unknown', partition: 0, value: 'b-0', error: 'timeout' },
      ...reads('final', ['a-0', 'a-1', 'b-0']),
    ]);
    expect(kinds(history).sort()).toEqual(['conflicting-offset', 'lost-ack']);
  });

  it('finds a record at an offset other than its acknowledged one', () => {
    expect(kinds(historyOf([...acked(), ...reads('final', ['a-0', 'a-2', 'a-1'])])).sort()).toEqual(['conflicting-offset', 'conflicting-offset', 'wrong-offset', 'wrong-offset']);
    // A duplicate from a retried request is no violation: the value is at its acknowledged offset too.
    expect(kinds(historyOf([...acked(['a-0', 'a-1']), ...reads('live', ['a-0', 'a-1', 'a-1']), ...reads('final', ['a-0', 'a-1', 'a-1'])]))).toEqual([]);
    // A live reader that saw a record where it was not acknowledged.
    const moved = historyOf([...acked(['a-0', 'a-1']), ...reads('live', ['a-1'], 0, 0), ...reads('final', ['a-0', 'a-1'])]);
    expect(kinds(moved).sort()).toEqual(['conflicting-offset', 'wrong-offset']);
    // Alone, without a conflict at the acknowledged offset: the acknowledged offset is beyond the log.
    const history = historyOf([
      { type: 'produce-invoke', producer: 'a', partition: 0, value: 'a-0' },
      { type: 'produce-ok', partition: 0, offset: 3, value: 'a-0' },
      ...reads('final', ['a-0']),
    ]);
    const result = checkHistory(history);
    expect(result.violations.map((v) => v.kind)).toEqual(['wrong-offset']);
    expect(result.violations[0]!.message).toBe('"a-0" was acknowledged at partition 0 offset 3, the final read has it at offset(s) 0');
  });

  it('finds two different records at one offset as seen by two readers', () => {
    const history = historyOf([
      ...acked(['a-0']),
      { type: 'produce-invoke', producer: 'b', partition: 0, value: 'b-0' },
      { type: 'produce-unknown', partition: 0, value: 'b-0', error: 'timeout' },
      { type: 'produce-invoke', producer: 'c', partition: 0, value: 'c-0' },
      { type: 'produce-unknown', partition: 0, value: 'c-0', error: 'timeout' },
      ...reads('live', ['a-0', 'b-0']),
      ...reads('final', ['a-0', 'c-0']),
    ]);
    const result = checkHistory(history);
    expect(result.violations.map((v) => v.kind)).toEqual(['conflicting-offset']);
    expect(result.violations[0]!.records.map((r) => [r.seenBy, r.offset, r.value])).toEqual([
      ['live', 1, 'b-0'],
      ['final', 1, 'c-0'],
    ]);
  });

  it('finds a record a consumer read that later disappeared (a read above the high watermark)', () => {
    const history = historyOf([
      ...acked(['a-0', 'a-1']),
      { type: 'produce-invoke', producer: 'b', partition: 0, value: 'b-0' },
      { type: 'produce-unknown', partition: 0, value: 'b-0', error: 'timeout' },
      ...reads('live', ['a-0', 'a-1', 'b-0']),
      ...reads('final', ['a-0', 'a-1']),
    ]);
    const result = checkHistory(history);
    expect(result.violations.map((v) => v.kind)).toEqual(['vanished-read']);
    expect(result.violations[0]!.records).toEqual([expect.objectContaining({ seenBy: 'live', offset: 2, value: 'b-0' })]);
  });

  it('finds offsets out of order within a partition', () => {
    const history = historyOf([
      ...acked(),
      { type: 'consume-read', reader: 'live', partition: 0, offset: 0, value: 'a-0' },
      { type: 'consume-read', reader: 'live', partition: 0, offset: 1, value: 'a-1' },
      { type: 'consume-read', reader: 'live', partition: 0, offset: 1, value: 'a-1' },
      ...reads('final', ['a-0', 'a-1', 'a-2']),
    ]);
    expect(kinds(history)).toEqual(['out-of-order']);
  });

  it('finds skipped offsets and a final read that does not start at 0', () => {
    const history = historyOf([
      ...acked(),
      { type: 'consume-read', reader: 'live', partition: 0, offset: 0, value: 'a-0' },
      { type: 'consume-read', reader: 'live', partition: 0, offset: 2, value: 'a-2' },
      ...reads('final', ['a-0', 'a-1', 'a-2']),
    ]);
    expect(kinds(history)).toEqual(['offset-gap']);
    const late = historyOf([...acked(['a-0']), { type: 'consume-read', reader: 'final', partition: 0, offset: 1, value: 'x' }]);
    expect(kinds(late).sort()).toEqual(['lost-ack', 'offset-gap', 'unknown-record']);
  });

  it('finds a record nobody produced, or read in another partition', () => {
    const history = historyOf([...acked(['a-0']), ...acked(['b-0'], 1), ...reads('final', ['a-0']), ...reads('final', ['b-0', 'a-0'], 1)]);
    const result = checkHistory(history);
    expect(result.violations.map((v) => v.kind)).toEqual(['unknown-record']);
    expect(result.violations[0]!.message).toContain('produced to partition 0');
  });

  it('measures the longest gap without acknowledgements per partition in each fault window', () => {
    const history = historyOf([
      { type: 'produce-invoke', producer: 'a', partition: 0, value: 'a-0', t: 0 },
      { type: 'produce-ok', partition: 0, offset: 0, value: 'a-0', t: 100 },
      { type: 'produce-invoke', producer: 'b', partition: 1, value: 'b-0', t: 100 },
      { type: 'produce-ok', partition: 1, offset: 0, value: 'b-0', t: 150 },
      { type: 'fault-start', name: 'kill', detail: 'broker 1', t: 200 },
      { type: 'produce-invoke', producer: 'a', partition: 0, value: 'a-1', t: 200 },
      { type: 'produce-invoke', producer: 'b', partition: 1, value: 'b-1', t: 200 },
      { type: 'produce-ok', partition: 1, offset: 1, value: 'b-1', t: 250 },
      { type: 'fault-end', name: 'kill', t: 1000 },
      { type: 'produce-ok', partition: 0, offset: 1, value: 'a-1', t: 1700 },
      { type: 'workload-end', t: 2000 },
      ...reads('final', ['a-0', 'a-1'], 0).map((e) => ({ ...e, t: 2100 })),
      ...reads('final', ['b-0', 'b-1'], 1).map((e) => ({ ...e, t: 2100 })),
    ]);
    const result = checkHistory(history);
    expect(result.ok).toBe(true);
    expect(result.availability).toEqual([
      {
        fault: 'baseline',
        fromMs: 0,
        toMs: 200,
        endedMs: null,
        partitions: [
          { partition: 0, longestGapMs: 100, gapStartMs: 0, acked: 1, recoveryMs: null },
          { partition: 1, longestGapMs: 150, gapStartMs: 0, acked: 1, recoveryMs: null },
        ],
      },
      {
        fault: 'kill',
        detail: 'broker 1',
        fromMs: 200,
        toMs: 2000,
        endedMs: 1000,
        partitions: [
          { partition: 0, longestGapMs: 1500, gapStartMs: 200, acked: 1, recoveryMs: 700 },
          { partition: 1, longestGapMs: 1750, gapStartMs: 250, acked: 1, recoveryMs: null },
        ],
      },
    ]);
  });

  it('keeps timestamps monotonic and round-trips through JSON lines', () => {
    let now = 1000;
    const history = new History(() => now);
    history.produceInvoke('p', 0, 'p-0');
    now = 900; // a clock that steps back does not make time go backwards
    history.produceOk(0, 0, 'p-0');
    expect(history.events.map((e) => e.t)).toEqual([0, 0]);
    expect(History.fromJsonLines(history.toJsonLines()).events).toEqual(history.events);
  });
});
