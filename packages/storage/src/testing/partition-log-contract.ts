import { AssertionError, ErrorCode, RivuletError, SeededRandom } from '@rivulet/common';
import type { TopicPartition } from '@rivulet/common';
import { readBatchHeader, splitBatches } from '@rivulet/records';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogStore, LogStoreOptions } from '../log-store.js';
import type { PartitionLog, PartitionLogConfig } from '../partition-log.js';
import { UnexpectedAppendOffsetError } from '../partition-log.js';
import { buildTestBatch, testBatchPayload } from './record-batch.js';

/** Opens the store under test; `open` after `close` must see the same data (a restart). */
export interface LogStoreHarness {
  open(options?: Partial<LogStoreOptions>): Promise<LogStore>;
  /** Checks what the closed store left on disk, after each test. */
  checkClosed?(): Promise<void>;
  cleanup(): Promise<void>;
}

export type LogStoreHarnessFactory = () => Promise<LogStoreHarness>;

const unlimited: PartitionLogConfig = { retentionMs: -1, retentionBytes: -1 };
const tp = (topic: string, partition = 0): TopicPartition => ({ topic, partition });

function batch(recordCount: number, options: { tag?: string; maxTimestampMs?: number; epoch?: number; baseOffset?: number } = {}): Buffer {
  return buildTestBatch({
    recordCount,
    payload: Buffer.from(options.tag ?? `r${recordCount}`),
    maxTimestampMs: options.maxTimestampMs ?? 0,
    partitionLeaderEpoch: options.epoch ?? -1,
    baseOffset: options.baseOffset ?? 0,
  });
}

/** Splits a read result into (baseOffset, lastOffset, payload) triples, checking each header. */
function decodeRead(records: Buffer): { baseOffset: number; lastOffset: number; payload: string; epoch: number }[] {
  const { batches, wholeBytes } = splitBatches(records);
  expect(wholeBytes).toBe(records.length);
  return batches.map((b) => {
    const header = readBatchHeader(b);
    expect(header.sizeBytes).toBe(b.length);
    return { baseOffset: header.baseOffset, lastOffset: header.baseOffset + header.lastOffsetDelta, payload: testBatchPayload(b).toString(), epoch: header.partitionLeaderEpoch };
  });
}

async function expectError(promise: Promise<unknown>, code: number): Promise<RivuletError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RivuletError);
  expect((error as RivuletError).code).toBe(code);
  return error as RivuletError;
}

/**
 * The behaviour every PartitionLog/LogStore implementation must show. Run it against each
 * implementation with a factory that gives a fresh, empty store.
 */
export function partitionLogContract(name: string, factory: LogStoreHarnessFactory): void {
  describe(`PartitionLog contract: ${name}`, () => {
    let harness: LogStoreHarness;
    let store: LogStore;
    let open = false;

    beforeEach(async () => {
      harness = await factory();
      store = await harness.open();
      open = true;
    });

    afterEach(async () => {
      if (open) await store.close();
      try {
        await harness.checkClosed?.();
      } finally {
        await harness.cleanup();
      }
    });

    async function reopen(options?: Partial<LogStoreOptions>): Promise<LogStore> {
      await store.close();
      store = await harness.open(options);
      return store;
    }

    async function appendAll(log: PartitionLog, counts: number[], epoch = 0): Promise<void> {
      for (const [i, count] of counts.entries()) await log.appendAsLeader(batch(count, { tag: `b${i}` }), epoch);
    }

    it('appends as leader, rewriting offsets and epoch, and reads back whole batches', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      expect(log.logEndOffset()).toBe(0);
      const first = await log.appendAsLeader(batch(3, { tag: 'one', baseOffset: 999 }), 7);
      expect(first).toMatchObject({ baseOffset: 0, lastOffset: 2 });
      expect(first.logAppendTimeMs).toBeGreaterThan(0);
      const second = await log.appendAsLeader(batch(1, { tag: 'two' }), 7);
      expect(second).toMatchObject({ baseOffset: 3, lastOffset: 3 });
      expect(log.logEndOffset()).toBe(4);
      const result = await log.read(0, 1 << 20);
      expect(result.batchCount).toBe(2);
      expect(result.nextOffset).toBe(4);
      expect(decodeRead(result.records)).toEqual([
        { baseOffset: 0, lastOffset: 2, payload: 'one', epoch: 7 },
        { baseOffset: 3, lastOffset: 3, payload: 'two', epoch: 7 },
      ]);
      expect(log.sizeBytes()).toBe(result.records.length);
    });

    it('advances the log end only when the write commits', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      const pending = log.appendAsLeader(batch(5), 0);
      expect(log.logEndOffset()).toBe(0);
      expect((await log.read(0, 1000)).batchCount).toBe(0);
      await pending;
      expect(log.logEndOffset()).toBe(5);
    });

    it('reads from inside a batch, returning the batch that contains the offset', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      await appendAll(log, [10, 10, 10]);
      for (const [from, base] of [[0, 0], [5, 0], [9, 0], [10, 10], [15, 10], [29, 20]] as const) {
        const result = await log.read(from, 1);
        expect(decodeRead(result.records)[0]!.baseOffset).toBe(base);
        expect(result.batchCount).toBe(1);
      }
    });

    it('honours maxBytes but always returns the first batch', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      await appendAll(log, [1, 1, 1, 1]);
      const size = batch(1, { tag: 'b0' }).length;
      expect((await log.read(0, 0)).batchCount).toBe(1);
      expect((await log.read(0, size - 1)).batchCount).toBe(1);
      expect((await log.read(0, size * 2)).batchCount).toBe(2);
      expect((await log.read(0, size * 2 + size - 1)).batchCount).toBe(2);
      const all = await log.read(1, size * 10);
      expect(all.batchCount).toBe(3);
      expect(all.nextOffset).toBe(4);
      await expectError(log.read(0, -1), ErrorCode.INVALID_FETCH_SIZE);
    });

    it('stops before any batch reaching maxOffsetExclusive', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      await appendAll(log, [5, 5, 5]);
      expect((await log.read(0, 1 << 20, 10)).nextOffset).toBe(10);
      expect((await log.read(0, 1 << 20, 14)).nextOffset).toBe(10);
      expect((await log.read(0, 1 << 20, 15)).nextOffset).toBe(15);
      const empty = await log.read(2, 1 << 20, 4);
      expect(empty).toMatchObject({ batchCount: 0, nextOffset: 2 });
      expect(empty.records.length).toBe(0);
      expect((await log.read(10, 1 << 20, 3)).batchCount).toBe(0);
    });

    it('rejects reads outside [logStart, logEnd] and returns nothing at the log end', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      await appendAll(log, [5, 5]);
      await expectError(log.read(11, 100), ErrorCode.OFFSET_OUT_OF_RANGE);
      expect(await log.read(10, 100)).toMatchObject({ batchCount: 0, nextOffset: 10 });
      await log.deleteRecordsBefore(5);
      await expectError(log.read(4, 100), ErrorCode.OFFSET_OUT_OF_RANGE);
      expect((await log.read(5, 100)).batchCount).toBe(1);
    });

    it('appends as follower keeping offsets, and rejects a batch below the log end with a typed error', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      expect(await log.appendAsFollower(batch(4, { baseOffset: 0, epoch: 2 }))).toMatchObject({ baseOffset: 0, lastOffset: 3 });
      const error = await log.appendAsFollower(batch(1, { baseOffset: 3, epoch: 2 })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnexpectedAppendOffsetError);
      expect((error as UnexpectedAppendOffsetError).expectedOffset).toBe(4);
      await log.appendAsFollower(batch(2, { baseOffset: 4, epoch: 3 }));
      expect(log.logEndOffset()).toBe(6);
      expect(log.leaderEpochEntries()).toEqual([
        { leaderEpoch: 2, startOffset: 0 },
        { leaderEpoch: 3, startOffset: 4 },
      ]);
    });

    it('takes a follower batch above the log end (a leader\'s compaction gap): the log end jumps, reads skip the gap', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      await log.appendAsFollower(batch(2, { baseOffset: 0, epoch: 1, tag: 'first' }));
      // Issued in one tick: the second follows the first's gap, both commit in order.
      const [gapped, next] = await Promise.all([
        log.appendAsFollower(batch(3, { baseOffset: 10, epoch: 2, tag: 'after-gap' })),
        log.appendAsFollower(batch(1, { baseOffset: 13, epoch: 2, tag: 'next' })),
      ]);
      expect(gapped).toMatchObject({ baseOffset: 10, lastOffset: 12 });
      expect(next).toMatchObject({ baseOffset: 13, lastOffset: 13 });
      expect(log.logEndOffset()).toBe(14);
      expect(log.leaderEpochEntries()).toEqual([
        { leaderEpoch: 1, startOffset: 0 },
        { leaderEpoch: 2, startOffset: 10 },
      ]);
      for (const from of [2, 5, 9, 10]) {
        const read = await log.read(from, 1 << 20);
        expect(decodeRead(read.records).map((b) => b.payload)).toEqual(['after-gap', 'next']);
        expect(read.nextOffset).toBe(14);
      }
      await expectError(log.appendAsFollower(batch(1, { baseOffset: 12 })), ErrorCode.OFFSET_OUT_OF_RANGE);
      // Truncation inside the gap keeps what is below it; the next batch may land in the gap.
      await log.truncateTo(6);
      expect(log.logEndOffset()).toBe(6);
      expect(decodeRead((await log.read(0, 1 << 20)).records).map((b) => b.payload)).toEqual(['first']);
      expect(log.leaderEpochEntries()).toEqual([{ leaderEpoch: 1, startOffset: 0 }]);
      await log.appendAsFollower(batch(1, { baseOffset: 7, epoch: 3, tag: 'in-gap' }));
      expect(log.logEndOffset()).toBe(8);
      expect(decodeRead((await log.read(3, 1 << 20)).records).map((b) => b.payload)).toEqual(['in-gap']);
      const reopened = await (await reopen()).openPartition(tp('a'), unlimited);
      expect(reopened.logEndOffset()).toBe(8);
      expect(decodeRead((await reopened.read(0, 1 << 20)).records).map((b) => [b.baseOffset, b.payload])).toEqual([
        [0, 'first'],
        [7, 'in-gap'],
      ]);
    });

    it('gives consecutive offsets to appends issued in one tick and commits them as one write batch', async () => {
      const logs = await Promise.all([0, 1, 2].map((p) => store.openPartition(tp('t', p), unlimited)));
      await new Promise((resolve) => setImmediate(resolve));
      const before = store.stats().writeBatches;
      const calls: Promise<{ baseOffset: number }>[] = [];
      for (let i = 0; i < 10; i++) for (const log of logs) calls.push(log.appendAsLeader(batch(2), 1));
      const results = await Promise.all(calls);
      expect(store.stats().writeBatches - before).toBe(1);
      for (const [p] of logs.entries()) {
        const offsets = results.filter((_, i) => i % 3 === p).map((r) => r.baseOffset);
        expect(offsets).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
      }
    });

    it('splits a turn larger than writeBatchBytesMax into several write batches, in order', async () => {
      store = await reopen({ writeBatchBytesMax: 1000 });
      const log = await store.openPartition(tp('a'), unlimited);
      await new Promise((resolve) => setImmediate(resolve));
      const before = store.stats().writeBatches;
      const payload = 'x'.repeat(300);
      const results = await Promise.all(Array.from({ length: 10 }, () => log.appendAsLeader(batch(1, { tag: payload }), 0)));
      expect(results.map((r) => r.baseOffset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(store.stats().writeBatches - before).toBe(5);
      expect((await log.read(0, 1 << 20)).batchCount).toBe(10);
    });

    it('truncates to a batch boundary, and appends continue from there', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      await appendAll(log, [3, 3, 3, 3], 1);
      const sizeBefore = log.sizeBytes();
      await log.truncateTo(6);
      expect(log.logEndOffset()).toBe(6);
      expect(log.sizeBytes()).toBeLessThan(sizeBefore);
      expect(decodeRead((await log.read(0, 1 << 20)).records).map((b) => b.baseOffset)).toEqual([0, 3]);
      await expect((await log.appendAsLeader(batch(2, { tag: 'new' }), 2)).baseOffset).toBe(6);
      await log.truncateTo(100);
      expect(log.logEndOffset()).toBe(8);
      store = await reopen();
      const reopened = await store.openPartition(tp('a'), unlimited);
      expect(reopened.logEndOffset()).toBe(8);
      expect(decodeRead((await reopened.read(0, 1 << 20)).records).map((b) => b.payload)).toEqual(['b0', 'b1', 'new']);
      expect(reopened.sizeBytes()).toBe((await reopened.read(0, 1 << 20)).records.length);
    });

    it('asserts when asked to truncate inside a batch (callers truncate at batch boundaries)', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      await appendAll(log, [3, 3]);
      await expect(log.truncateTo(4)).rejects.toBeInstanceOf(AssertionError);
      const other = await store.openPartition(tp('b'), unlimited);
      const pending = other.appendAsLeader(batch(3), 0);
      await expect(other.truncateTo(1)).rejects.toBeInstanceOf(AssertionError);
      await pending;
    });

    it('truncation takes effect at once: appends issued after it get the truncation offset', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      await appendAll(log, [2, 2, 2]);
      const truncated = log.truncateTo(2);
      const appended = log.appendAsLeader(batch(1, { tag: 'after' }), 1);
      expect(log.logEndOffset()).toBe(2);
      await truncated;
      expect(await appended).toMatchObject({ baseOffset: 2, lastOffset: 2 });
      expect(decodeRead((await log.read(0, 1 << 20)).records).map((b) => b.payload)).toEqual(['b0', 'after']);
    });

    it('truncation rejects pending appends beyond the point and keeps those below it', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      const kept = log.appendAsLeader(batch(2, { tag: 'kept' }), 0);
      const dropped = expectError(log.appendAsLeader(batch(2, { tag: 'dropped' }), 0), ErrorCode.NOT_LEADER_OR_FOLLOWER);
      await log.truncateTo(2);
      expect(await kept).toMatchObject({ baseOffset: 0 });
      await dropped;
      expect(log.logEndOffset()).toBe(2);
      expect(decodeRead((await log.read(0, 1 << 20)).records).map((b) => b.payload)).toEqual(['kept']);
    });

    it('truncating at or below the log start restarts the log at that offset', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      await appendAll(log, [5, 5, 5]);
      await log.deleteRecordsBefore(10);
      await log.truncateFullyAndStartAt(40);
      expect([log.logStartOffset(), log.logEndOffset(), log.sizeBytes()]).toEqual([40, 40, 0]);
      expect((await log.appendAsFollower(batch(1, { baseOffset: 40 }))).baseOffset).toBe(40);
      await log.truncateTo(3);
      expect([log.logStartOffset(), log.logEndOffset(), log.sizeBytes()]).toEqual([3, 3, 0]);
      store = await reopen();
      const reopened = await store.openPartition(tp('a'), unlimited);
      expect([reopened.logStartOffset(), reopened.logEndOffset(), reopened.sizeBytes()]).toEqual([3, 3, 0]);
    });

    it('deleteRecordsBefore advances the log start and deletes whole batches below it', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      await appendAll(log, [4, 4, 4, 4]);
      const fullSize = log.sizeBytes();
      expect(await log.deleteRecordsBefore(6)).toBe(6);
      expect(log.logStartOffset()).toBe(6);
      expect(log.sizeBytes()).toBe((fullSize * 3) / 4);
      expect(decodeRead((await log.read(6, 1 << 20)).records).map((b) => b.baseOffset)).toEqual([4, 8, 12]);
      expect(await log.deleteRecordsBefore(2)).toBe(6);
      await expectError(log.deleteRecordsBefore(17), ErrorCode.OFFSET_OUT_OF_RANGE);
      expect(await log.deleteRecordsBefore(16)).toBe(16);
      expect([log.logStartOffset(), log.logEndOffset(), log.sizeBytes()]).toEqual([16, 16, 0]);
      store = await reopen();
      const reopened = await store.openPartition(tp('a'), unlimited);
      expect([reopened.logStartOffset(), reopened.logEndOffset(), reopened.sizeBytes()]).toEqual([16, 16, 0]);
      expect((await reopened.appendAsLeader(batch(1), 0)).baseOffset).toBe(16);
    });

    it('finds offsets by timestamp with a non-monotonic maximum, as a linear scan would', async () => {
      const random = new SeededRandom(42);
      const log = await store.openPartition(tp('a'), unlimited);
      const batches: { baseOffset: number; lastOffset: number; maxTimestampMs: number }[] = [];
      for (let i = 0; i < 60; i++) {
        const maxTimestampMs = 1000 + random.nextInt(500) + i * 10;
        const result = await log.appendAsLeader(batch(1 + random.nextInt(3), { maxTimestampMs }), 0);
        batches.push({ ...result, maxTimestampMs });
      }
      const expected = (target: number, logStart: number): { offset: number; timestampMs: number } | null => {
        const found = batches.find((b) => b.lastOffset >= logStart && b.maxTimestampMs >= target);
        return found === undefined ? null : { offset: Math.max(found.baseOffset, logStart), timestampMs: found.maxTimestampMs };
      };
      const check = async (): Promise<void> => {
        for (let target = 900; target <= 2200; target += 7) {
          expect(await log.offsetForTimestamp(target)).toEqual(expected(target, log.logStartOffset()));
        }
      };
      await check();
      // Deleting history removes index entries; answers must stay those of a scan.
      await log.deleteRecordsBefore(batches[20]!.baseOffset + 1);
      await check();
      await log.truncateTo(batches[50]!.baseOffset);
      batches.length = 50;
      await check();
      store = await reopen();
      const reopened = await store.openPartition(tp('a'), unlimited);
      await reopened.appendAsLeader(batch(1, { maxTimestampMs: 1100 }), 0);
      await reopened.appendAsLeader(batch(1, { maxTimestampMs: 5000 }), 0);
      expect(await reopened.offsetForTimestamp(4000)).toEqual({ offset: batches[49]!.lastOffset + 2, timestampMs: 5000 });
      expect(await reopened.offsetForTimestamp(6000)).toBeNull();
    });

    it('applies time retention by batch max timestamp, never deleting the newest batch', async () => {
      const log = await store.openPartition(tp('a'), { retentionMs: 1000, retentionBytes: -1 });
      for (const ts of [100, 200, 5000, 300, 6000]) await log.appendAsLeader(batch(2, { maxTimestampMs: ts }), 0);
      expect(await log.applyRetention(1150)).toEqual({ deletedBatches: 1 });
      expect(log.logStartOffset()).toBe(2);
      // 5000 blocks deletion of later, older batches, as a Kafka segment with a recent record would.
      expect(await log.applyRetention(5500)).toEqual({ deletedBatches: 1 });
      expect(log.logStartOffset()).toBe(4);
      expect(await log.applyRetention(100_000)).toEqual({ deletedBatches: 2 });
      expect([log.logStartOffset(), log.logEndOffset()]).toEqual([8, 10]);
      expect(await log.applyRetention(100_000)).toEqual({ deletedBatches: 0 });
      expect((await log.read(8, 1 << 20)).batchCount).toBe(1);
    });

    it('applies byte retention, keeping at least retentionBytes and the newest batch', async () => {
      const size = batch(1, { tag: 'b0' }).length;
      const log = await store.openPartition(tp('a'), { retentionMs: -1, retentionBytes: size * 3 });
      await appendAll(log, [1, 1, 1, 1, 1, 1]);
      expect(await log.applyRetention(0)).toEqual({ deletedBatches: 3 });
      expect([log.logStartOffset(), log.sizeBytes()]).toEqual([3, size * 3]);
      await store.openPartition(tp('a'), { retentionMs: -1, retentionBytes: 0 });
      expect(await log.applyRetention(0)).toEqual({ deletedBatches: 2 });
      expect([log.logStartOffset(), log.logEndOffset(), log.sizeBytes()]).toEqual([5, 6, size]);
    });

    it('keeps the high watermark checkpoint and leader-epoch cache across reopen', async () => {
      const log = await store.openPartition(tp('a'), unlimited);
      expect(log.highWatermarkCheckpoint()).toBe(0);
      await appendAll(log, [5], 1);
      log.assignLeaderEpochStart(3, 5);
      await log.appendAsLeader(batch(5), 3);
      await log.checkpointHighWatermark(7);
      log.assignLeaderEpochStart(5, 10);
      await log.checkpointHighWatermark(10);
      expect(log.highWatermarkCheckpoint()).toBe(10);
      const entries = [
        { leaderEpoch: 1, startOffset: 0 },
        { leaderEpoch: 3, startOffset: 5 },
        { leaderEpoch: 5, startOffset: 10 },
      ];
      expect(log.leaderEpochEntries()).toEqual(entries);
      store = await reopen();
      const reopened = await store.openPartition(tp('a'), unlimited);
      expect(reopened.highWatermarkCheckpoint()).toBe(10);
      expect(reopened.leaderEpochEntries()).toEqual(entries);
      expect(reopened.endOffsetForLeaderEpoch(5)).toEqual({ leaderEpoch: 5, endOffset: 10 });
      expect(reopened.endOffsetForLeaderEpoch(1)).toEqual({ leaderEpoch: 1, endOffset: 5 });
      expect(reopened.endOffsetForLeaderEpoch(2)).toEqual({ leaderEpoch: 1, endOffset: 5 });
      expect(reopened.endOffsetForLeaderEpoch(4)).toEqual({ leaderEpoch: 3, endOffset: 10 });
      expect(reopened.endOffsetForLeaderEpoch(0)).toEqual({ leaderEpoch: 0, endOffset: 0 });
      expect(reopened.endOffsetForLeaderEpoch(6)).toEqual({ leaderEpoch: -1, endOffset: -1 });
      // Truncation drops epochs that start at or beyond the new end; deletion moves the first one up.
      await reopened.truncateTo(5);
      expect(reopened.leaderEpochEntries()).toEqual(entries.slice(0, 1));
      await reopened.appendAsLeader(batch(2), 4);
      await reopened.deleteRecordsBefore(5);
      store = await reopen();
      const again = await store.openPartition(tp('a'), unlimited);
      expect(again.leaderEpochEntries()).toEqual([{ leaderEpoch: 4, startOffset: 5 }]);
      expect(again.logEndOffset()).toBe(7);
    });

    it('keeps many interleaved partitions independent, across reopen', async () => {
      const random = new SeededRandom(7);
      const expected = new Map<string, string[]>();
      const logs: PartitionLog[] = [];
      for (let p = 0; p < 12; p++) logs.push(await store.openPartition(tp(p % 2 === 0 ? 'even' : 'odd', p), unlimited));
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < 300; i++) {
        const log = logs[random.nextInt(logs.length)]!;
        const key = `${log.topicPartition.topic}-${log.topicPartition.partition}`;
        const tag = `${key}:${i}`;
        expected.set(key, [...(expected.get(key) ?? []), tag]);
        pending.push(log.appendAsLeader(batch(1 + random.nextInt(4), { tag }), 0));
        if (random.nextInt(10) === 0) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
      store = await reopen();
      expect(store.listPartitions()).toHaveLength(12);
      for (const partition of store.listPartitions()) {
        const log = await store.openPartition(partition, unlimited);
        const read = decodeRead((await log.read(0, 1 << 24)).records);
        expect(read.map((b) => b.payload)).toEqual(expected.get(`${partition.topic}-${partition.partition}`) ?? []);
        for (let i = 1; i < read.length; i++) expect(read[i]!.baseOffset).toBe(read[i - 1]!.lastOffset + 1);
        expect(log.logEndOffset()).toBe(read.length === 0 ? 0 : read[read.length - 1]!.lastOffset + 1);
      }
    });

    it('deletes a partition with all its keys, leaving the others', async () => {
      const doomed = await store.openPartition(tp('a', 0), unlimited);
      const survivor = await store.openPartition(tp('a', 1), unlimited);
      await appendAll(doomed, [3, 3]);
      await appendAll(survivor, [2]);
      await doomed.checkpointHighWatermark(6);
      await new Promise((resolve) => setImmediate(resolve));
      const pending = expectError(doomed.appendAsLeader(batch(1), 0), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      await store.deletePartition(tp('a', 0));
      await pending;
      await expectError(doomed.read(0, 100), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      expect(store.listPartitions()).toEqual([tp('a', 1)]);
      await store.deletePartition(tp('a', 0));
      store = await reopen();
      expect(store.listPartitions()).toEqual([tp('a', 1)]);
      const recreated = await store.openPartition(tp('a', 0), unlimited);
      expect([recreated.logStartOffset(), recreated.logEndOffset(), recreated.sizeBytes(), recreated.highWatermarkCheckpoint()]).toEqual([0, 0, 0, 0]);
      expect(recreated.leaderEpochEntries()).toEqual([]);
      expect((await (await store.openPartition(tp('a', 1), unlimited)).read(0, 1000)).batchCount).toBe(1);
    });

    it('openPartition is idempotent and close waits for pending writes', async () => {
      const [a, b] = await Promise.all([store.openPartition(tp('a'), unlimited), store.openPartition(tp('a'), unlimited)]);
      expect(a).toBe(b);
      const appended = a.appendAsLeader(batch(3), 0);
      await store.close();
      await appended;
      store = await harness.open();
      expect((await store.openPartition(tp('a'), unlimited)).logEndOffset()).toBe(3);
      await expectError(store.openPartition({ topic: '', partition: 0 }, unlimited), ErrorCode.INVALID_TOPIC_EXCEPTION);
      await expectError(store.openPartition(tp('a'), { retentionMs: -2, retentionBytes: 0 }), ErrorCode.INVALID_CONFIG);
    });
  });
}
