import type { Clock } from '@rivulet/common';
import { BATCH_HEADER_BYTES } from '@rivulet/records';
import { describe, expect, it } from 'vitest';
import { estimateRecordBytes, RecordAccumulator, type PendingRecord } from './accumulator.js';

class ManualClock implements Clock {
  now = 1000;
  nowMs(): number {
    return this.now;
  }
  wallClockMs(): number {
    return this.now;
  }
}

function record(valueBytes: number): PendingRecord {
  const value = Buffer.alloc(valueBytes);
  return { key: null, value, headers: [], timestampMs: 0, sizeBytes: estimateRecordBytes(null, value, []), onDelivery: () => {} };
}

function setup(options: { batchSizeBytes?: number; lingerMs?: number } = {}) {
  const clock = new ManualClock();
  const closed: string[] = [];
  const accumulator = new RecordAccumulator({
    batchSizeBytes: options.batchSizeBytes ?? 1000,
    lingerMs: options.lingerMs ?? 5,
    deliveryTimeoutMs: 10_000,
    clock,
    onBatchClosed: (topic, partition) => closed.push(`${topic}-${partition}`),
  });
  return { clock, closed, accumulator, all: () => true };
}

describe('RecordAccumulator', () => {
  it('holds a batch that is not full until lingerMs has passed', () => {
    const { clock, accumulator, all } = setup({ lingerMs: 5 });
    expect(accumulator.append('t', 0, record(10))).toBe('newBatch');
    expect(accumulator.drainReady(all)).toEqual([]);
    expect(accumulator.nextWakeDelayMs(all)).toBe(5);
    clock.now += 4;
    expect(accumulator.drainReady(all)).toEqual([]);
    expect(accumulator.nextWakeDelayMs(all)).toBe(1);
    clock.now += 1;
    const drained = accumulator.drainReady(all);
    expect(drained).toHaveLength(1);
    expect(drained[0]!.records).toHaveLength(1);
    expect(accumulator.isEmpty).toBe(true);
  });

  it('closes a batch when the next record would overflow batchSizeBytes and makes it ready at once', () => {
    const { accumulator, closed, all } = setup({ batchSizeBytes: BATCH_HEADER_BYTES + 3 * estimateRecordBytes(null, Buffer.alloc(100), []) });
    expect(accumulator.append('t', 0, record(100))).toBe('newBatch');
    expect(accumulator.append('t', 0, record(100))).toBe('appended');
    // The third record fills the batch exactly.
    expect(accumulator.append('t', 0, record(100))).toBe('full');
    expect(closed).toEqual(['t-0']);
    expect(accumulator.append('t', 0, record(100))).toBe('newBatch');
    const drained = accumulator.drainReady(all);
    expect(drained.map((b) => b.records.length)).toEqual([3]);
    expect(accumulator.isEmpty).toBe(false);
  });

  it('puts a record larger than batchSizeBytes in a batch of its own', () => {
    const { accumulator, all } = setup({ batchSizeBytes: 200 });
    accumulator.append('t', 0, record(10));
    expect(accumulator.append('t', 0, record(500))).toBe('full');
    const first = accumulator.drainReady(all);
    const second = accumulator.drainReady(all);
    expect(first[0]!.records).toHaveLength(1);
    expect(second[0]!.records[0]!.value!.length).toBe(500);
  });

  it('keeps one queue per partition and drains only partitions the sender can take', () => {
    const { clock, accumulator } = setup({ lingerMs: 0 });
    accumulator.append('t', 0, record(1));
    accumulator.append('t', 1, record(1));
    accumulator.append('u', 0, record(1));
    clock.now += 1;
    const drained = accumulator.drainReady((topic, partition) => topic === 't' && partition === 1);
    expect(drained.map((b) => `${b.topic}-${b.partition}`)).toEqual(['t-1']);
    expect(accumulator.drainReady(() => true).map((b) => `${b.topic}-${b.partition}`).sort()).toEqual(['t-0', 'u-0']);
  });

  it('makes everything ready during a flush, regardless of linger', () => {
    const { accumulator, all } = setup({ lingerMs: 60_000 });
    accumulator.append('t', 0, record(1));
    expect(accumulator.drainReady(all)).toHaveLength(0);
    accumulator.beginFlush();
    expect(accumulator.drainReady(all)).toHaveLength(1);
    accumulator.endFlush();
  });

  it('puts a retried batch back in front of newer ones and holds it until its backoff ends', () => {
    const { clock, accumulator, all } = setup({ lingerMs: 0 });
    accumulator.append('t', 0, record(1));
    clock.now += 1;
    const [first] = accumulator.drainReady(all);
    accumulator.append('t', 0, record(2));
    first!.attempts = 1;
    first!.retryAtMs = clock.now + 100;
    accumulator.reenqueue(first!);
    clock.now += 50;
    // The retry is not due yet and the newer batch must not overtake it.
    expect(accumulator.drainReady(all)).toEqual([]);
    expect(accumulator.nextWakeDelayMs(all)).toBe(50);
    clock.now += 50;
    expect(accumulator.drainReady(all)).toEqual([first]);
    expect(accumulator.drainReady(all)[0]!.records[0]!.value!.length).toBe(2);
  });

  it('tells the partitioner when a lingering batch closes on drain', () => {
    const { clock, accumulator, closed, all } = setup({ lingerMs: 5 });
    accumulator.append('t', 3, record(1));
    clock.now += 5;
    accumulator.drainReady(all);
    expect(closed).toEqual(['t-3']);
  });

  it('does not wake for ready batches the sender cannot take, only for their delivery timeout', () => {
    const { clock, accumulator } = setup({ lingerMs: 5 });
    accumulator.append('t', 0, record(1));
    clock.now += 5;
    expect(accumulator.nextWakeDelayMs(() => true)).toBe(0);
    expect(accumulator.nextWakeDelayMs(() => false)).toBe(10_000 - 5);
    clock.now += 10_000;
    expect(accumulator.removeExpired()).toHaveLength(1);
    expect(accumulator.isEmpty).toBe(true);
  });
});
