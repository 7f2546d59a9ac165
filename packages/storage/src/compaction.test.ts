import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CompressionName, decodeRecordBatches, encodeRecordBatch, readBatchHeader, splitBatches, type RecordHeader } from '@rivulet/records';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogStore } from './log-store.js';
import type { LogStoreOptions } from './log-store.js';
import type { PartitionLog, PartitionLogConfig } from './partition-log.js';
import type { CompactOptions } from './log-cleaner.js';
import { batchHeaderAt, expectConsistentAccounting, modelClean, readWholeLog, type ModelRecord } from './testing/compaction-model.js';
import { expectBatchDatabaseMatchesIndex, holdFirstBatchLookup } from './testing/store-consistency.js';

const unlimited: PartitionLogConfig = { retentionMs: -1, retentionBytes: -1 };
const T0_MS = 1_700_000_000_000;
const DAY_MS = 86_400_000;

interface KeyedRecord {
  key: string | null;
  /** null: a tombstone. */
  value: string | null;
  timestampMs?: number;
  headers?: RecordHeader[];
}

function keyed(key: string | null, value: string | null, timestampMs = T0_MS): KeyedRecord {
  return { key, value, timestampMs };
}

function batchOf(records: KeyedRecord[], options: { compression?: CompressionName; producerId?: number; producerEpoch?: number; baseSequence?: number } = {}): Promise<Buffer> {
  return encodeRecordBatch({
    compression: options.compression ?? 'none',
    producerId: options.producerId,
    producerEpoch: options.producerEpoch,
    baseSequence: options.baseSequence,
    records: records.map((r) => ({
      key: r.key === null ? null : Buffer.from(r.key),
      value: r.value === null ? null : Buffer.from(r.value),
      timestampMs: r.timestampMs ?? T0_MS,
      headers: r.headers,
    })),
  });
}

/** Appends each group of records as one batch, in order; returns the records with their offsets. */
async function appendBatches(log: PartitionLog, groups: KeyedRecord[][], options: Parameters<typeof batchOf>[1] = {}): Promise<ModelRecord[]> {
  const appended: ModelRecord[] = [];
  for (const group of groups) {
    const { baseOffset } = await log.appendAsLeader(await batchOf(group, options), 0);
    group.forEach((r, i) => appended.push({ offset: baseOffset + i, key: r.key, value: r.value, timestampMs: r.timestampMs ?? T0_MS }));
  }
  return appended;
}

function cleanAll(log: PartitionLog, overrides: Partial<CompactOptions> = {}) {
  return log.compact({ cleanableEndOffset: log.logEndOffset(), nowMs: T0_MS, deleteRetentionMs: DAY_MS, minCompactionLagMs: 0, ...overrides });
}

/** Reads the log and checks it equals `expected`, that the accounting matches, and returns its batches. */
async function expectLog(log: PartitionLog, expected: readonly ModelRecord[]) {
  const { records, batches } = await readWholeLog(log);
  expect(records).toEqual(expected);
  expectConsistentAccounting(log, batches);
  return batches;
}

describe('log compaction', () => {
  let dataDir: string;
  let store: LogStore;
  let options: Partial<LogStoreOptions> = {};

  async function open(extra: Partial<LogStoreOptions> = {}): Promise<LogStore> {
    store = await LogStore.open({ dataDir, flushPolicy: 'os', ...options, ...extra });
    return store;
  }

  async function reopen(): Promise<PartitionLog> {
    await store.close();
    await open();
    return store.openPartition({ topic: 't', partition: 0 }, unlimited);
  }

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rivulet-compaction-'));
    options = {};
    await open();
  });

  afterEach(async () => {
    await store.close();
    try {
      // Rewritten and removed batches left no bytes behind in the batch database.
      await expectBatchDatabaseMatchesIndex(dataDir);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  const partition = () => store.openPartition({ topic: 't', partition: 0 }, unlimited);

  it('stops a pass whose batches are truncated away while it reads them, reporting what it did', async () => {
    const log = await partition();
    await appendBatches(log, [[keyed('a', 'a1')], [keyed('a', 'a2')], [keyed('b', 'b1')], [keyed('b', 'b2')]]);
    // Hold the pass's first batch lookup until the truncation's bytes are gone.
    const lookup = holdFirstBatchLookup(store);
    const pass = cleanAll(log);
    await lookup.isHeld;
    await log.truncateTo(2);
    // Written after the truncation's garbage collection, so the bytes of batches 2 and 3 are gone.
    await appendBatches(log, [[keyed('c', 'c1')]]);
    lookup.release();
    const result = await pass;
    expect(result).toMatchObject({ isComplete: false, batchesRemoved: 0, batchesRewritten: 0, cleanedUpToOffset: 0 });
    expect(lookup.lookups()).toBe(1);
    lookup.restore();
    // The next pass cleans the log as it is now.
    expect(await cleanAll(log)).toMatchObject({ isComplete: true, batchesRemoved: 1 });
    await expectLog(log, [
      { offset: 1, key: 'a', value: 'a2', timestampMs: T0_MS },
      { offset: 2, key: 'c', value: 'c1', timestampMs: T0_MS },
    ]);
  });

  it('keeps the latest record of each key at its offset, removes emptied batches, and survives a reopen', async () => {
    const log = await partition();
    const appended = await appendBatches(log, [
      [keyed('a', 'a1'), keyed('b', 'b1')],
      [keyed('a', 'a2'), keyed(null, 'no key'), keyed('c', 'c1')],
      [keyed('b', 'b2'), keyed('a', 'a3')],
      [keyed('a', 'a4')],
      [keyed('d', 'd1')], // the last batch: never cleaned
    ]);
    const result = await cleanAll(log);
    expect(result).toMatchObject({ cleanedUpToOffset: 8, isComplete: true, batchesRemoved: 1, batchesRewritten: 2, recordsRemoved: 4 });
    const expected = modelClean(appended, 8, T0_MS, DAY_MS);
    expect(expected.map((r) => r.value)).toEqual(['no key', 'c1', 'b2', 'a4', 'd1']);
    const batches = await expectLog(log, expected);
    // The first batch went entirely: the log start stays, its offsets are a gap.
    expect(log.logStartOffset()).toBe(0);
    expect(batches.map((b) => [b.baseOffset, b.lastOffset, b.recordCount])).toEqual([
      [2, 4, 2],
      [5, 6, 1],
      [7, 7, 1],
      [8, 8, 1],
    ]);
    // Reading from inside the gap starts at the next batch.
    const fromGap = await log.read(1, 1 << 20);
    expect(readBatchHeader(fromGap.records).baseOffset).toBe(2);
    expect(log.sizeBytes()).toBeLessThan(result.bytesFreed + log.sizeBytes());
    const reopened = await reopen();
    expect(reopened.logEndOffset()).toBe(9);
    expect(reopened.cleanerCheckpoint()).toEqual(log.cleanerCheckpoint());
    await expectLog(reopened, expected);
    // A second pass over a clean log changes nothing.
    expect(await cleanAll(reopened)).toMatchObject({ batchesRemoved: 0, batchesRewritten: 0, recordsRemoved: 0 });
  });

  it('rewrites a batch keeping its header fields, record timestamps and headers, with a valid CRC', async () => {
    const log = await partition();
    const headers = [{ key: 'trace', value: Buffer.from('x') }, { key: 'empty', value: null }];
    await log.appendAsLeader(
      await batchOf([
        { key: 'a', value: 'old', timestampMs: T0_MS + 5 },
        { key: 'b', value: 'kept', timestampMs: T0_MS + 9, headers },
        { key: 'c', value: 'kept too', timestampMs: T0_MS + 1 },
      ]),
      4,
    );
    await log.appendAsLeader(await batchOf([keyed('a', 'new')]), 4);
    await log.appendAsLeader(await batchOf([keyed('z', 'last')]), 4);
    const before = readBatchHeader((await log.read(0, 1)).records);
    await cleanAll(log);
    const read = await log.read(0, 1);
    const [decoded] = await decodeRecordBatches(read.records);
    const { crc: _a, sizeBytes: _b, recordCount: _c, ...kept } = before;
    const { crc: _d, sizeBytes, recordCount, ...after } = decoded!.header;
    expect(after).toEqual(kept);
    expect(after).toMatchObject({ baseOffset: 0, lastOffsetDelta: 2, partitionLeaderEpoch: 4, maxTimestamp: T0_MS + 9 });
    expect(recordCount).toBe(2);
    expect(sizeBytes).toBeLessThan(before.sizeBytes);
    expect(decoded!.records.map((r) => [r.offset, r.key?.toString(), r.timestampMs, r.headers])).toEqual([
      [1, 'b', T0_MS + 9, headers],
      [2, 'c', T0_MS + 1, []],
    ]);
  });

  it.each<CompressionName>(['gzip', 'snappy', 'lz4', 'zstd'])('cleans %s batches and recompresses them with the same codec', async (codec) => {
    const log = await partition();
    const appended = await appendBatches(
      log,
      [
        [keyed('a', 'a1'.repeat(50)), keyed('b', 'b1'.repeat(50)), keyed('c', 'c1')],
        [keyed('a', 'a2'), keyed('b', 'b2')],
        [keyed('x', 'last')],
      ],
      { compression: codec },
    );
    await cleanAll(log);
    await expectLog(log, modelClean(appended, 5, T0_MS, DAY_MS));
    const first = await batchHeaderAt(log, 0);
    expect(first).toMatchObject({ baseOffset: 0, recordCount: 1, compression: readBatchHeader(await batchOf([keyed('q', 'q')], { compression: codec })).compression });
  });

  it('never touches offsets at or beyond the cleanable end, nor the log\'s last batch', async () => {
    const log = await partition();
    const appended = await appendBatches(log, [[keyed('a', '1')], [keyed('a', '2')], [keyed('a', '3')], [keyed('a', '4')], [keyed('a', '5')]]);
    // The high watermark at 3: the pass keys on [0, 3) only, so a@2 stays, and 3, 4 are untouched.
    expect(await cleanAll(log, { cleanableEndOffset: 3 })).toMatchObject({ cleanedUpToOffset: 3, batchesRemoved: 2 });
    await expectLog(log, modelClean(appended, 3, T0_MS, DAY_MS));
    expect((await readWholeLog(log)).records.map((r) => r.offset)).toEqual([2, 3, 4]);
    // With everything cleanable, the last batch still bounds the pass: a@3 stays beside it.
    expect(await cleanAll(log)).toMatchObject({ cleanedUpToOffset: 4, batchesRemoved: 1 });
    expect((await readWholeLog(log)).records.map((r) => r.value)).toEqual(['4', '5']);
    expect(log.logEndOffset()).toBe(5);
    expect(log.logStartOffset()).toBe(0);
  });

  it('keeps a tombstone until delete.retention.ms after it was written, and removes what it deletes at once', async () => {
    const log = await partition();
    const appended = await appendBatches(log, [
      [keyed('a', 'a1', T0_MS), keyed('b', 'b1', T0_MS)],
      [keyed('a', null, T0_MS + 1000)],
      [keyed('z', 'last', T0_MS + 2000)],
    ]);
    await cleanAll(log, { nowMs: T0_MS + 5000, deleteRetentionMs: 10_000 });
    await expectLog(log, modelClean(appended, 3, T0_MS + 5000, 10_000));
    expect(log.cleanerCheckpoint()).toMatchObject({ cleanedUpToOffset: 3, earliestTombstoneMs: T0_MS + 1000 });
    // Nothing is dirty, but the tombstone's expiry makes the clean section due for a pass.
    const due = (nowMs: number) =>
      log.cleaningDue({ cleanableEndOffset: 4, nowMs, minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0, maxCompactionLagMs: Number.MAX_SAFE_INTEGER, deleteRetentionMs: 10_000 });
    expect(await due(T0_MS + 10_999)).toMatchObject({ isDue: false, reason: 'nothing-cleanable' });
    expect(await due(T0_MS + 11_000)).toMatchObject({ isDue: true, reason: 'tombstones-expired' });
    expect((await readWholeLog(log)).records.map((r) => [r.key, r.value])).toEqual([
      ['b', 'b1'],
      ['a', null],
      ['z', 'last'],
    ]);
    // Just before the tombstone is delete.retention.ms old it stays; from then on it goes.
    await cleanAll(log, { nowMs: T0_MS + 1000 + 9_999, deleteRetentionMs: 10_000 });
    expect((await readWholeLog(log)).records.map((r) => r.value)).toEqual(['b1', null, 'last']);
    await cleanAll(log, { nowMs: T0_MS + 1000 + 10_000, deleteRetentionMs: 10_000 });
    expect((await readWholeLog(log)).records.map((r) => [r.key, r.value])).toEqual([
      ['b', 'b1'],
      ['z', 'last'],
    ]);
    await expectLog(log, modelClean(appended, 3, T0_MS + 11_000, 10_000));
    expect(log.cleanerCheckpoint()).toMatchObject({ cleanedUpToOffset: 3, earliestTombstoneMs: Number.MAX_SAFE_INTEGER });
    expect(await due(T0_MS + 99_000)).toMatchObject({ isDue: false });
  });

  it('leaves batches newer than min.compaction.lag.ms alone', async () => {
    const log = await partition();
    const appended = await appendBatches(log, [
      [keyed('a', 'old', T0_MS)],
      [keyed('a', 'older than the lag', T0_MS + 1000)],
      [keyed('a', 'recent', T0_MS + 50_000)],
      [keyed('a', 'newest', T0_MS + 60_000)],
    ]);
    // At T0 + 60 s with a 30 s lag, only the batches up to T0 + 30 s may be cleaned.
    expect(await cleanAll(log, { nowMs: T0_MS + 60_000, minCompactionLagMs: 30_000 })).toMatchObject({ cleanedUpToOffset: 2, batchesRemoved: 1 });
    await expectLog(log, modelClean(appended, 2, T0_MS + 60_000, DAY_MS));
    // With a lag longer than anything's age, nothing is cleanable.
    expect(await cleanAll(log, { nowMs: T0_MS + 70_000, minCompactionLagMs: 100_000 })).toMatchObject({ cleanedUpToOffset: 2, batchesRemoved: 0 });
  });

  it('decides by the dirty ratio, and max.compaction.lag.ms forces a pass', async () => {
    const log = await partition();
    const due = (overrides: { minCleanableDirtyRatio?: number; maxCompactionLagMs?: number; nowMs?: number } = {}) =>
      log.cleaningDue({ cleanableEndOffset: log.logEndOffset(), nowMs: T0_MS, minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0, maxCompactionLagMs: Number.MAX_SAFE_INTEGER, deleteRetentionMs: DAY_MS, ...overrides });
    expect(await due()).toMatchObject({ isDue: false, reason: 'nothing-cleanable' });
    await appendBatches(log, [[keyed('a', '1')], [keyed('b', '1')], [keyed('c', '1')], [keyed('d', '1')], [keyed('e', '1')]]);
    // Never cleaned: everything below the last batch is dirty.
    expect(await due()).toMatchObject({ isDue: true, reason: 'dirty-ratio', dirtyRatio: 1, firstDirtyOffset: 0, cleanableEndOffset: 4 });
    await cleanAll(log);
    expect(log.cleanerCheckpoint().cleanedUpToOffset).toBe(4);
    expect(await due()).toMatchObject({ isDue: false, reason: 'nothing-cleanable' });
    // One more batch: the old last batch becomes cleanable, a small share of the log.
    await appendBatches(log, [[keyed('a', '2', T0_MS + 10)]]);
    const small = await due();
    expect(small).toMatchObject({ isDue: false, reason: 'not-dirty-enough', firstDirtyOffset: 4, cleanableEndOffset: 5 });
    expect(small.dirtyRatio).toBeCloseTo(1 / 5, 1);
    expect(await due({ minCleanableDirtyRatio: 0.1 })).toMatchObject({ isDue: true, reason: 'dirty-ratio' });
    // The first dirty batch (e@4, written at T0) waited longer than max.compaction.lag.ms.
    expect(await due({ maxCompactionLagMs: 1000, nowMs: T0_MS + 999 })).toMatchObject({ isDue: false });
    expect(await due({ maxCompactionLagMs: 1000, nowMs: T0_MS + 1000 })).toMatchObject({ isDue: true, reason: 'max-compaction-lag' });
    // The cleanable part only counts: below a high watermark at the checkpoint nothing is due.
    expect(await log.cleaningDue({ cleanableEndOffset: 4, nowMs: T0_MS + 1000, minCleanableDirtyRatio: 0, minCompactionLagMs: 0, maxCompactionLagMs: 1, deleteRetentionMs: 1 })).toMatchObject({
      isDue: false,
      reason: 'nothing-cleanable',
    });
  });

  it('ends a pass where the offset map fills, and the next pass goes on from there', async () => {
    const log = await partition();
    const groups = Array.from({ length: 12 }, (_, i) => [keyed(`key-${i % 6}`, `v${i}`), keyed(`other-${i}`, `o${i}`)]);
    const appended = await appendBatches(log, [...groups, [keyed('last', 'x')]]);
    // Room for about three batches' keys at a time.
    const first = await cleanAll(log, { offsetMapBytesMax: 400 });
    expect(first.isComplete).toBe(true);
    expect(first.cleanedUpToOffset).toBeGreaterThan(0);
    expect(first.cleanedUpToOffset).toBeLessThan(24);
    await expectLog(log, modelClean(appended, first.cleanedUpToOffset, T0_MS, DAY_MS));
    let records = (await readWholeLog(log)).records;
    let cleanedUpTo = first.cleanedUpToOffset;
    for (let pass = 0; pass < 20 && cleanedUpTo < 24; pass++) {
      cleanedUpTo = (await cleanAll(log, { offsetMapBytesMax: 400 })).cleanedUpToOffset;
      records = modelClean(records, cleanedUpTo, T0_MS, DAY_MS);
      await expectLog(log, records);
    }
    expect(cleanedUpTo).toBe(24);
    await expectLog(log, modelClean(appended, 24, T0_MS, DAY_MS));
  });

  it('keeps an idempotent producer\'s remembered batches as empty batches, so a follower copying the log learns its sequence', async () => {
    const log = await partition();
    const producer = { producerId: 77, producerEpoch: 2 };
    // Three batches of one producer, all superseded by later non-idempotent ones.
    await log.appendAsLeader(await batchOf([keyed('a', '1'), keyed('b', '1')], { ...producer, baseSequence: 0 }), 0);
    await log.appendAsLeader(await batchOf([keyed('a', '2')], { ...producer, baseSequence: 2 }), 0);
    await log.appendAsLeader(await batchOf([keyed('a', '3'), keyed('b', '3')]), 0);
    await log.appendAsLeader(await batchOf([keyed('end', '!')]), 0);
    await cleanAll(log);
    const { batches, records } = await readWholeLog(log);
    expect(records.map((r) => r.value)).toEqual(['3', '3', '!']);
    expect(batches.map((b) => [b.baseOffset, b.lastOffset, b.recordCount])).toEqual([
      [0, 1, 0],
      [2, 2, 0],
      [3, 4, 2],
      [5, 5, 1],
    ]);
    const empty = readBatchHeader((await log.read(2, 1)).records);
    expect(empty).toMatchObject({ producerId: 77, producerEpoch: 2, baseSequence: 2, recordCount: 0, sizeBytes: 61 });
    // A follower copying the cleaned log knows the producer at its last sequence.
    const follower = await store.openPartition({ topic: 'follower', partition: 0 }, unlimited);
    for (const batch of splitBatches((await log.read(0, 1 << 20)).records).batches) await follower.appendAsFollower(Buffer.from(batch));
    expect(follower.producerEntries()).toEqual([expect.objectContaining({ producerId: 77, producerEpoch: 2, lastSequence: 2 })]);
    expect(follower.logEndOffset()).toBe(6);
    // Once the producer is forgotten, its empty batches may go.
    log.expireProducers(Number.MAX_SAFE_INTEGER, 1);
    expect(await cleanAll(log)).toMatchObject({ batchesRemoved: 2 });
    expect((await readWholeLog(log)).batches.map((b) => b.baseOffset)).toEqual([3, 5]);
  });

  it('answers reads from the tail cache exactly as from LevelDB after cleaning', async () => {
    const log = await partition();
    const appended = await appendBatches(
      log,
      Array.from({ length: 10 }, (_, i) => [keyed(`k${i % 3}`, `v${i}`)]),
    );
    // Warm the tail cache with every batch, then clean under it.
    await readWholeLog(log);
    const hitsBefore = store.stats().tailCacheHits;
    await cleanAll(log);
    const expected = modelClean(appended, 9, T0_MS, DAY_MS);
    for (let from = 0; from < 10; from++) {
      const read = await log.read(from, 1 << 20);
      const records = (await decodeRecordBatches(read.records)).flatMap((b) => b.records.map((r) => r.offset));
      expect(records).toEqual(expected.filter((r) => r.offset >= readBatchHeader(read.records).baseOffset).map((r) => r.offset));
    }
    await expectLog(log, expected);
    // The untouched last batch is still answered from memory.
    await log.read(9, 1 << 20);
    expect(store.stats().tailCacheHits).toBeGreaterThan(hitsBefore);
    const cold = await reopen();
    await expectLog(cold, expected);
  });

  it('finds offsets by timestamp across removed batches', async () => {
    const log = await partition();
    await appendBatches(log, [
      [keyed('a', '1', T0_MS + 100)],
      [keyed('b', '1', T0_MS + 200)],
      [keyed('a', '2', T0_MS + 150)],
      [keyed('b', '2', T0_MS + 300)],
      [keyed('c', '1', T0_MS + 400)],
    ]);
    await cleanAll(log);
    // Batches 0 (T+100) and 1 (T+200) are gone; their time-index entries still exist.
    expect((await readWholeLog(log)).batches.map((b) => b.baseOffset)).toEqual([2, 3, 4]);
    expect(await log.offsetForTimestamp(T0_MS + 50)).toEqual({ offset: 2, timestampMs: T0_MS + 150 });
    expect(await log.offsetForTimestamp(T0_MS + 180)).toEqual({ offset: 3, timestampMs: T0_MS + 300 });
    expect(await log.offsetForTimestamp(T0_MS + 300)).toEqual({ offset: 3, timestampMs: T0_MS + 300 });
    expect(await log.offsetForTimestamp(T0_MS + 301)).toEqual({ offset: 4, timestampMs: T0_MS + 400 });
    expect(await log.offsetForTimestamp(T0_MS + 401)).toBeNull();
  });

  it('truncates into a gap, lowering the cleaner checkpoint, and keeps the epoch cache and time index right', async () => {
    const log = await partition();
    await log.appendAsLeader(await batchOf([keyed('a', '1')]), 1);
    await log.appendAsLeader(await batchOf([keyed('b', '1'), keyed('c', '1')]), 2);
    await log.appendAsLeader(await batchOf([keyed('b', '2'), keyed('c', '2')], {}), 3);
    await log.appendAsLeader(await batchOf([keyed('a', '2')]), 3);
    await log.appendAsLeader(await batchOf([keyed('d', '1', T0_MS + 50)]), 4);
    await cleanAll(log);
    // Batches 0 and 1..2 are gone: offsets 0..2 are a gap.
    expect((await readWholeLog(log)).batches.map((b) => b.baseOffset)).toEqual([3, 5, 6]);
    expect(log.cleanerCheckpoint().cleanedUpToOffset).toBe(6);
    expect(log.leaderEpochEntries().map((e) => e.leaderEpoch)).toEqual([1, 2, 3, 4]);
    expect(log.endOffsetForLeaderEpoch(2)).toEqual({ leaderEpoch: 2, endOffset: 3 });
    // Truncating at 2 (inside the gap) removes everything from 3 on.
    await log.truncateTo(2);
    expect(log.logEndOffset()).toBe(2);
    expect((await readWholeLog(log)).records).toEqual([]);
    expect(log.cleanerCheckpoint()).toEqual({ cleanedUpToOffset: 2, cleanSectionBytes: 0, earliestTombstoneMs: Number.MAX_SAFE_INTEGER });
    expect(log.leaderEpochEntries()).toEqual([
      { leaderEpoch: 1, startOffset: 0 },
      { leaderEpoch: 2, startOffset: 1 },
    ]);
    expect(await log.offsetForTimestamp(T0_MS)).toBeNull();
    const appended = await appendBatches(log, [[keyed('a', '3')], [keyed('a', '4')], [keyed('z', 'z')]]);
    expect(appended.map((r) => r.offset)).toEqual([2, 3, 4]);
    await cleanAll(log);
    await expectLog(log, [appended[1]!, appended[2]!]);
    expect(await log.offsetForTimestamp(T0_MS)).toEqual({ offset: 3, timestampMs: T0_MS });
    // Reopening finds the log end after the last batch, whatever gaps came before it.
    const reopened = await reopen();
    expect(reopened.logEndOffset()).toBe(5);
    await expectLog(reopened, [appended[1]!, appended[2]!]);
  });

  it('keeps the clean-section accounting through deletion, retention and a full truncation', async () => {
    const log = await partition();
    const appended = await appendBatches(log, Array.from({ length: 8 }, (_, i) => [keyed(`k${i % 2}`, `v${i}`), keyed(`u${i}`, `w${i}`)]));
    await cleanAll(log);
    let expected = modelClean(appended, 14, T0_MS, DAY_MS);
    await expectLog(log, expected);
    await log.deleteRecordsBefore(7);
    expected = expected.filter((r) => r.offset >= 7);
    await expectLog(log, expected);
    log.updateConfig({ retentionMs: -1, retentionBytes: 1 });
    await log.applyRetention(T0_MS);
    await expectLog(log, expected.filter((r) => r.offset >= 14));
    await log.truncateFullyAndStartAt(100);
    expect(log.cleanerCheckpoint()).toEqual({ cleanedUpToOffset: 0, cleanSectionBytes: 0, earliestTombstoneMs: Number.MAX_SAFE_INTEGER });
    await expectLog(log, []);
  });

  it('stops a pass that a truncation overtakes, leaving a consistent log', async () => {
    const log = await partition();
    const appended = await appendBatches(log, Array.from({ length: 40 }, (_, i) => [keyed(`k${i % 5}`, `v${i}`)]));
    // The high watermark at 20; the truncation (at 30, above it) comes once the first chunk committed.
    const tasksBefore = store.stats().exclusiveTasks;
    const cleaning = cleanAll(log, { cleanableEndOffset: 20, chunkBatchesMax: 4 });
    while (store.stats().exclusiveTasks === tasksBefore) await new Promise((resolve) => setImmediate(resolve));
    await log.truncateTo(30);
    const result = await cleaning;
    expect(result.isComplete).toBe(false);
    expect(result.cleanedUpToOffset).toBeGreaterThan(0);
    expect(result.cleanedUpToOffset).toBeLessThan(20);
    expect(log.logEndOffset()).toBe(30);
    // Below the checkpoint the pass cleaned against its map of [0, 20); above it nothing changed.
    const kept = appended.filter((r) => r.offset < 30);
    const cleaned = new Set(modelClean(kept, 20, T0_MS, DAY_MS).map((r) => r.offset));
    await expectLog(log, kept.filter((r) => r.offset >= result.cleanedUpToOffset || cleaned.has(r.offset)));
    expect(await cleanAll(log, { cleanableEndOffset: 25 })).toMatchObject({ isComplete: true, cleanedUpToOffset: 25 });
    await expectLog(log, modelClean(kept, 25, T0_MS, DAY_MS));
  });

  it('cleans in many small atomic chunks with the same outcome', async () => {
    const log = await partition();
    const appended = await appendBatches(log, Array.from({ length: 30 }, (_, i) => [keyed(`k${i % 4}`, `v${i}`), keyed(`x${i % 7}`, `y${i}`)]));
    const before = store.stats().exclusiveTasks;
    await cleanAll(log, { chunkBatchesMax: 3 });
    expect(store.stats().exclusiveTasks - before).toBeGreaterThanOrEqual(10);
    await expectLog(log, modelClean(appended, 58, T0_MS, DAY_MS));
  });
});
