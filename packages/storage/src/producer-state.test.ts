import { ErrorCode, RivuletError } from '@rivulet/common';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PRODUCER_BATCHES_CACHED_MAX,
  ProducerStateTable,
  checkLeaderAppend,
  entryBeforeOffset,
  lastSequenceOf,
  nextSequenceAfter,
  validateProducerFields,
  type ProducerBatch,
  type ProducerBatchHeader,
  type ProducerEntry,
} from './producer-state.js';

const context = { topic: 't', partition: 0 };

function header(producerEpoch: number, baseSequence: number, records = 1, producerId = 7): ProducerBatchHeader {
  return { producerId, producerEpoch, baseSequence, lastOffsetDelta: records - 1, isTransactional: false, isControl: false };
}

function batch(producerEpoch: number, firstSequence: number, baseOffset: number, records = 1, appendTimeMs = 1000): ProducerBatch {
  return { producerEpoch, firstSequence, lastSequence: firstSequence + records - 1, baseOffset, lastOffset: baseOffset + records - 1, appendTimeMs };
}

/** A table holding producer 7's batches, appended in order. */
function tableWith(...batches: ProducerBatch[]): ProducerStateTable {
  const table = new ProducerStateTable(100);
  for (const b of batches) table.append(7, b);
  return table;
}

function refusal(fn: () => unknown): RivuletError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RivuletError);
    return error as RivuletError;
  }
  throw new Error('expected a refusal');
}

describe('sequence arithmetic', () => {
  it('wraps from 2^31-1 to 0, as Kafka does', () => {
    expect(lastSequenceOf(5, 9)).toBe(14);
    expect(lastSequenceOf(0x7fffffff, 0)).toBe(0x7fffffff);
    expect(lastSequenceOf(0x7ffffffe, 3)).toBe(1);
    expect(nextSequenceAfter(0x7fffffff)).toBe(0);
    expect(nextSequenceAfter(41)).toBe(42);
  });
});

describe('checkLeaderAppend', () => {
  it('accepts sequence 0 from an unknown producer and refuses anything else with UNKNOWN_PRODUCER_ID', () => {
    expect(checkLeaderAppend(undefined, header(0, 0), context)).toEqual({ kind: 'append' });
    expect(refusal(() => checkLeaderAppend(undefined, header(0, 5), context)).code).toBe(ErrorCode.UNKNOWN_PRODUCER_ID);
  });

  it('accepts the next sequence in the same epoch and refuses a gap with OUT_OF_ORDER_SEQUENCE_NUMBER', () => {
    const entry = tableWith(batch(0, 0, 0, 3)).get(7);
    expect(checkLeaderAppend(entry, header(0, 3), context)).toEqual({ kind: 'append' });
    expect(refusal(() => checkLeaderAppend(entry, header(0, 4), context)).code).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(refusal(() => checkLeaderAppend(entry, header(0, 1), context)).code).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  });

  it('answers a retry of any of the last five batches as a duplicate with its original offsets', () => {
    const batches = [0, 1, 2, 3, 4, 5].map((i) => batch(0, i * 2, 100 + i * 2, 2));
    const entry = tableWith(...batches).get(7)!;
    expect(entry.batches).toHaveLength(PRODUCER_BATCHES_CACHED_MAX);
    for (const b of batches.slice(1)) expect(checkLeaderAppend(entry, header(0, b.firstSequence, 2), context)).toEqual({ kind: 'duplicate', batch: b });
    // The sixth-newest batch is forgotten: a retry of it is out of order, not a silent duplicate.
    expect(refusal(() => checkLeaderAppend(entry, header(0, 0, 2), context)).code).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    // The same first sequence with another record count is not the same batch.
    expect(refusal(() => checkLeaderAppend(entry, header(0, 10, 1), context)).code).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  });

  it('fences an older producer epoch with INVALID_PRODUCER_EPOCH', () => {
    const entry = tableWith(batch(2, 0, 0)).get(7);
    expect(refusal(() => checkLeaderAppend(entry, header(1, 1), context)).code).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
  });

  it('starts a newer producer epoch at sequence 0 only', () => {
    const entry = tableWith(batch(0, 0, 0, 5)).get(7);
    expect(checkLeaderAppend(entry, header(1, 0), context)).toEqual({ kind: 'append' });
    expect(refusal(() => checkLeaderAppend(entry, header(1, 5), context)).code).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  });
});

describe('validateProducerFields', () => {
  it('lets batches without a producer id through and refuses malformed or transactional ones', () => {
    expect(() => validateProducerFields(header(-1, -1, 1, -1), context)).not.toThrow();
    expect(refusal(() => validateProducerFields(header(-1, 0), context)).code).toBe(ErrorCode.INVALID_RECORD);
    expect(refusal(() => validateProducerFields(header(0, -1), context)).code).toBe(ErrorCode.INVALID_RECORD);
    expect(refusal(() => validateProducerFields({ ...header(0, 0), isTransactional: true }, context)).code).toBe(ErrorCode.INVALID_RECORD);
    expect(refusal(() => validateProducerFields({ ...header(0, 0), isControl: true }, context)).code).toBe(ErrorCode.INVALID_RECORD);
  });
});

describe('ProducerStateTable', () => {
  it('starts a new epoch with an empty batch cache', () => {
    const table = tableWith(batch(0, 0, 0), batch(0, 1, 1), batch(1, 0, 2));
    expect(table.get(7)).toMatchObject({ producerEpoch: 1, lastSequence: 0, batches: [batch(1, 0, 2)] });
  });

  it('rolls back to the batches below a truncation point', () => {
    const table = tableWith(batch(0, 0, 0, 2), batch(0, 2, 2, 2), batch(0, 4, 4, 2));
    const change = table.truncateFrom(4);
    expect(change.put).toHaveLength(1);
    expect(table.get(7)).toMatchObject({ lastSequence: 3, batches: [batch(0, 0, 0, 2), batch(0, 2, 2, 2)] });
    expect(table.truncateFrom(100)).toEqual({ put: [], removed: [] });
  });

  it('forgets a producer when truncation removes every batch it remembers (the batch before them may be gone too)', () => {
    const entry: ProducerEntry = { producerId: 7, producerEpoch: 3, lastSequence: 11, lastAppendTimeMs: 5, batches: [batch(3, 10, 50), batch(3, 11, 51)] };
    expect(entryBeforeOffset(entry, 50)).toBeUndefined();
    expect(entryBeforeOffset(entry, 51)).toMatchObject({ producerEpoch: 3, lastSequence: 10, batches: [batch(3, 10, 50)] });
    const fresh = tableWith(batch(0, 0, 20));
    expect(fresh.truncateFrom(20)).toEqual({ put: [], removed: [7] });
    expect(fresh.get(7)).toBeUndefined();
  });

  it('expires producers idle for producer.id.expiration.ms', () => {
    const table = new ProducerStateTable(100);
    table.append(1, batch(0, 0, 0, 1, 1_000));
    table.append(2, batch(0, 0, 1, 1, 5_000));
    expect(table.expire(10_999, 10_000)).toEqual({ put: [], removed: [] });
    expect(table.expire(11_000, 10_000)).toEqual({ put: [], removed: [1] });
    expect(table.list().map((e) => e.producerId)).toEqual([2]);
  });

  it('forgets the least recently active producer past producersMax', () => {
    const table = new ProducerStateTable(2);
    table.append(1, batch(0, 0, 0));
    table.append(2, batch(0, 0, 1));
    table.append(1, batch(0, 1, 2));
    expect(table.append(3, batch(0, 0, 3)).removed).toEqual([2]);
    expect(table.list().map((e) => e.producerId)).toEqual([1, 3]);
  });

  it('loads entries oldest first, so the bound and expiry see the same order after a restart', () => {
    const a: ProducerEntry = { producerId: 1, producerEpoch: 0, lastSequence: 0, lastAppendTimeMs: 50, batches: [] };
    const b: ProducerEntry = { producerId: 2, producerEpoch: 0, lastSequence: 0, lastAppendTimeMs: 10, batches: [] };
    expect(new ProducerStateTable(10, [a, b]).list().map((e) => e.producerId)).toEqual([2, 1]);
  });
});

describe('truncation agrees with replaying the log below the truncation point (property)', () => {
  /** A log of accepted batches from three producers; each step continues a producer's sequence or starts its next epoch at 0. */
  const logArbitrary = fc.array(fc.record({ producer: fc.integer({ min: 1, max: 3 }), records: fc.integer({ min: 1, max: 4 }), bumpsEpoch: fc.boolean() }), { minLength: 1, maxLength: 40 }).map((steps) => {
    const producers = new Map<number, { producerEpoch: number; nextSequence: number }>();
    let offset = 0;
    return steps.map((step) => {
      const current = producers.get(step.producer);
      const isNewEpoch = current !== undefined && step.bumpsEpoch;
      const producerEpoch = current === undefined ? 0 : current.producerEpoch + (isNewEpoch ? 1 : 0);
      const firstSequence = current === undefined || isNewEpoch ? 0 : current.nextSequence;
      producers.set(step.producer, { producerEpoch, nextSequence: firstSequence + step.records });
      const appended = { producerId: step.producer, batch: batch(producerEpoch, firstSequence, offset, step.records, offset) };
      offset += step.records;
      return appended;
    });
  });

  function replay(log: { producerId: number; batch: ProducerBatch }[]): ProducerStateTable {
    const table = new ProducerStateTable(100);
    for (const { producerId, batch: b } of log) table.append(producerId, b);
    return table;
  }

  it('never contradicts the replayed state, and forgets a producer only when every batch it remembered was removed', () => {
    fc.assert(
      fc.property(logArbitrary, fc.nat(), (log, cut) => {
        const truncateAt = log[cut % log.length]!.batch.baseOffset;
        const truncated = replay(log);
        truncated.truncateFrom(truncateAt);
        const replayed = replay(log.filter((a) => a.batch.lastOffset < truncateAt));
        for (const producerId of [1, 2, 3]) {
          const mine = truncated.get(producerId);
          const truth = replayed.get(producerId);
          if (mine === undefined) {
            // Forgotten: only a producer unknown below the cut, or one whose remembered batches were all removed
            // (the batch before them may be gone too; this covers an epoch begun in the removed part, since
            // the table keeps only the current epoch's batches).
            const before = replay(log).get(producerId);
            if (truth !== undefined) expect(before!.batches.every((b) => b.lastOffset >= truncateAt)).toBe(true);
            continue;
          }
          expect(truth).toBeDefined();
          expect(mine.producerEpoch).toBe(truth!.producerEpoch);
          expect(mine.lastSequence).toBe(truth!.lastSequence);
          // What is remembered is the newest part of what the replay remembers.
          expect(truth!.batches.slice(truth!.batches.length - mine.batches.length)).toEqual(mine.batches);
        }
      }),
      { numRuns: 2000, seed: 20240501 },
    );
  });
});
