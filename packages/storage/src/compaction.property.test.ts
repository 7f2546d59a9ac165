import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { encodeRecordBatch } from '@rivulet/records';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogStore } from './log-store.js';
import type { PartitionLog } from './partition-log.js';
import { expectConsistentAccounting, modelClean, readWholeLog, type ModelRecord } from './testing/compaction-model.js';

// Random keyed appends (tombstones and keyless records included), cleaning passes with random
// bounds, lags, retention and tiny offset maps, truncations (into gaps too), deletions and
// reopenings, on LevelDB, against a model that keeps the latest record per key below each
// pass's end. Seeded (test/setup/fast-check-seed.ts); FC_SEED explores others.

const T0_MS = 1_700_000_000_000;

type Action =
  | { kind: 'append'; records: { key: string | null; value: string | null; ageMs: number }[]; tickMs: number }
  | { kind: 'clean'; endFraction: number; laterMs: number; deleteRetentionMs: number; minCompactionLagMs: number; offsetMapBytesMax?: number; chunkBatchesMax?: number }
  | { kind: 'truncate'; fraction: number }
  | { kind: 'delete'; fraction: number }
  | { kind: 'reopen' };

const keyArbitrary = fc.constantFrom<string | null>('a', 'b', 'c', 'd', 'e', null, 'a', 'b');
const recordArbitrary = fc.record({
  key: keyArbitrary,
  value: fc.option(fc.string({ maxLength: 6 }), { nil: null, freq: 4 }),
  ageMs: fc.integer({ min: 0, max: 500 }),
});
const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), records: fc.array(recordArbitrary, { minLength: 1, maxLength: 4 }), tickMs: fc.integer({ min: 0, max: 2000 }) }) },
  {
    weight: 3,
    arbitrary: fc.record(
      {
        kind: fc.constant('clean' as const),
        endFraction: fc.double({ min: 0, max: 1, noNaN: true }),
        laterMs: fc.integer({ min: 0, max: 5000 }),
        deleteRetentionMs: fc.constantFrom(0, 1000, 4000, 86_400_000),
        minCompactionLagMs: fc.constantFrom(0, 0, 1500),
        offsetMapBytesMax: fc.constantFrom(150, 300, 100_000),
        chunkBatchesMax: fc.constantFrom(1, 2, 1024),
      },
      { requiredKeys: ['kind', 'endFraction', 'laterMs', 'deleteRetentionMs', 'minCompactionLagMs'] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

/** The model: the batches and records that must be in the log, and its bounds. */
interface Model {
  batches: { baseOffset: number; lastOffset: number }[];
  records: ModelRecord[];
  logStartOffset: number;
  logEndOffset: number;
}

function offsetAt(from: number, to: number, fraction: number): number {
  return from + Math.floor((to - from) * fraction);
}

describe('log compaction property', () => {
  let dataDir: string;
  let store: LogStore;
  let runs = 0;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rivulet-compaction-property-'));
    store = await LogStore.open({ dataDir, flushPolicy: 'os' });
  });

  afterAll(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reading the log always gives the latest record per key below each pass\'s end and everything above it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actionArbitrary, { minLength: 1, maxLength: 30 }), async (actions) => {
        const tp = { topic: `run-${runs++}`, partition: 0 };
        let log: PartitionLog = await store.openPartition(tp, { retentionMs: -1, retentionBytes: -1 });
        const model: Model = { batches: [], records: [], logStartOffset: 0, logEndOffset: 0 };
        let clockMs = T0_MS;
        for (const action of actions) {
          switch (action.kind) {
            case 'append': {
              clockMs += action.tickMs;
              const batch = await encodeRecordBatch({
                records: action.records.map((r) => ({ key: r.key === null ? null : Buffer.from(r.key), value: r.value === null ? null : Buffer.from(r.value), timestampMs: clockMs - r.ageMs })),
              });
              const { baseOffset, lastOffset } = await log.appendAsLeader(batch, 0);
              expect(baseOffset).toBe(model.logEndOffset);
              model.batches.push({ baseOffset, lastOffset });
              action.records.forEach((r, i) => model.records.push({ offset: baseOffset + i, key: r.key, value: r.value, timestampMs: clockMs - r.ageMs }));
              model.logEndOffset = lastOffset + 1;
              break;
            }
            case 'clean': {
              const nowMs = clockMs + action.laterMs;
              const result = await log.compact({
                cleanableEndOffset: offsetAt(model.logStartOffset, model.logEndOffset, action.endFraction),
                nowMs,
                deleteRetentionMs: action.deleteRetentionMs,
                minCompactionLagMs: action.minCompactionLagMs,
                offsetMapBytesMax: action.offsetMapBytesMax,
                chunkBatchesMax: action.chunkBatchesMax,
              });
              expect(result.isComplete).toBe(true);
              // The pass ended where its checkpoint now is (or swept the clean section below it).
              model.records = modelClean(model.records, result.cleanedUpToOffset, nowMs, action.deleteRetentionMs);
              // No idempotent producer here, so a batch left without records is gone.
              model.batches = model.batches.filter((b) => b.lastOffset >= result.cleanedUpToOffset || model.records.some((r) => r.offset >= b.baseOffset && r.offset <= b.lastOffset));
              break;
            }
            case 'truncate': {
              let offset = offsetAt(model.logStartOffset, model.logEndOffset, action.fraction);
              // Truncation points are batch boundaries (or lie in a gap).
              const inside = model.batches.find((b) => b.baseOffset < offset && offset <= b.lastOffset);
              if (inside !== undefined) offset = inside.baseOffset;
              await log.truncateTo(offset);
              if (offset <= model.logStartOffset) {
                model.logStartOffset = offset;
                model.batches = [];
                model.records = [];
              } else {
                model.batches = model.batches.filter((b) => b.lastOffset < offset);
                model.records = model.records.filter((r) => r.offset < offset);
              }
              model.logEndOffset = Math.min(model.logEndOffset, offset);
              break;
            }
            case 'delete': {
              const offset = offsetAt(model.logStartOffset, model.logEndOffset, action.fraction);
              await log.deleteRecordsBefore(offset);
              model.logStartOffset = Math.max(model.logStartOffset, offset);
              model.batches = model.batches.filter((b) => b.lastOffset >= model.logStartOffset);
              model.records = model.records.filter((r) => model.batches.some((b) => r.offset >= b.baseOffset && r.offset <= b.lastOffset));
              break;
            }
            case 'reopen': {
              await store.close();
              store = await LogStore.open({ dataDir, flushPolicy: 'os' });
              log = await store.openPartition(tp, { retentionMs: -1, retentionBytes: -1 });
              // The log end is read back from the last batch (a truncation into a gap ends lower).
              const last = model.batches[model.batches.length - 1];
              model.logEndOffset = Math.max(model.logStartOffset, last === undefined ? 0 : last.lastOffset + 1);
              break;
            }
          }
          expect(log.logStartOffset()).toBe(model.logStartOffset);
          expect(log.logEndOffset()).toBe(model.logEndOffset);
          const { records, batches } = await readWholeLog(log, 200);
          expect(records).toEqual(model.records.filter((r) => r.offset >= model.logStartOffset));
          expect(batches.map((b) => [b.baseOffset, b.lastOffset])).toEqual(model.batches.map((b) => [b.baseOffset, b.lastOffset]));
          expectConsistentAccounting(log, batches);
        }
        await store.deletePartition(tp);
      }),
      { numRuns: 60 },
    );
  });
});
