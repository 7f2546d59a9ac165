import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, RivuletError, StorageError } from '@rivulet/common';
import { splitBatches } from '@rivulet/records';
import { describe, expect, it } from 'vitest';
import { batchSeqKey, decodeLastWrite, encodeUint32, garbageKey, metaKey } from './keys.js';
import { LogStore } from './log-store.js';
import type { LogStoreOptions } from './log-store.js';
import { partitionLogContract } from './testing/partition-log-contract.js';
import { buildTestBatch, testBatchPayload } from './testing/record-batch.js';
import { expectBatchDatabaseMatchesIndex, holdFirstBatchLookup, openStoreDatabases } from './testing/store-consistency.js';

async function levelHarness(flushPolicy: LogStoreOptions['flushPolicy'], defaults: Partial<LogStoreOptions> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'rivulet-storage-'));
  return {
    dataDir,
    open: (options?: Partial<LogStoreOptions>) => LogStore.open({ dataDir, flushPolicy, ...defaults, ...options }),
    checkClosed: async () => void (await expectBatchDatabaseMatchesIndex(dataDir)),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
}

partitionLogContract('LevelDB, flush policy os', () => levelHarness('os'));
partitionLogContract('LevelDB, flush policy always', () => levelHarness('always'));
// Every read from LevelDB itself (the cases above mostly read recent batches from the tail cache).
partitionLogContract('LevelDB, no tail cache', () => levelHarness('os', { tailCacheBytes: 0 }));

describe('LogStore on LevelDB', () => {
  it('fails the replica, not the process, when a write batch fails', async () => {
    const harness = await levelHarness('os');
    const store = await harness.open();
    try {
      const log = await store.openPartition({ topic: 'a', partition: 0 }, { retentionMs: -1, retentionBytes: -1 });
      const other = await store.openPartition({ topic: 'b', partition: 0 }, { retentionMs: -1, retentionBytes: -1 });
      await log.appendAsLeader(buildTestBatch({ recordCount: 2 }), 0);
      // Make LevelDB refuse the next write, as a full or failing disk would.
      const db = Reflect.get(store, 'db') as { batch: (...args: unknown[]) => unknown };
      const realBatch = db.batch.bind(db);
      db.batch = () => ({ put: () => undefined, del: () => undefined, close: () => Promise.resolve(), write: () => Promise.reject(new Error('disk on fire')) });
      const failed = log.appendAsLeader(buildTestBatch({ recordCount: 3 }), 0);
      const error = await failed.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
      expect((error as Error).cause).toBeInstanceOf(Error);
      expect(log.logEndOffset()).toBe(2);
      await expect(log.read(0, 100)).rejects.toBeInstanceOf(StorageError);
      await expect(log.appendAsLeader(buildTestBatch({ recordCount: 1 }), 0)).rejects.toBeInstanceOf(StorageError);
      db.batch = realBatch;
      expect((await other.appendAsLeader(buildTestBatch({ recordCount: 1 }), 0)).baseOffset).toBe(0);
    } finally {
      await store.close();
    }
    // The failed write's batch bytes, stored with no index naming them, were deleted.
    await expectBatchDatabaseMatchesIndex(harness.dataDir);
    await harness.cleanup();
  });

  it('pushes back when the write backlog is full', async () => {
    const harness = await levelHarness('os');
    const store = await harness.open({ pendingWriteBytesMax: 10_000 });
    try {
      const log = await store.openPartition({ topic: 'a', partition: 0 }, { retentionMs: -1, retentionBytes: -1 });
      const big = () => buildTestBatch({ recordCount: 1, payload: Buffer.alloc(4000) });
      const accepted = [log.appendAsLeader(big(), 0), log.appendAsLeader(big(), 0)];
      const refused = await log.appendAsLeader(big(), 0).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RivuletError);
      expect((refused as RivuletError).retriable).toBe(true);
      expect(store.pendingWriteBytes()).toBeGreaterThan(0);
      await Promise.all(accepted);
      expect(store.pendingWriteBytes()).toBe(0);
      expect((await log.appendAsLeader(big(), 0)).baseOffset).toBe(2);
    } finally {
      await store.close();
      await harness.cleanup();
    }
  });

  it('reads again when the batches it found in the index are removed before it reads their bytes', async () => {
    const harness = await levelHarness('os', { tailCacheBytes: 0 });
    const store = await harness.open();
    try {
      const log = await store.openPartition({ topic: 'a', partition: 0 }, { retentionMs: -1, retentionBytes: -1 });
      for (let i = 0; i < 6; i++) await log.appendAsLeader(buildTestBatch({ recordCount: 1, payload: Buffer.from(`old${i}`) }), 0);
      // Hold the read between its index scan and its batch lookup.
      const lookup = holdFirstBatchLookup(store);
      const reading = log.read(2, 1 << 20);
      await lookup.isHeld;
      // Batches 4 and 5 go, new ones take their offsets; the append after them also deletes the old bytes.
      await log.truncateTo(4);
      for (let i = 4; i < 6; i++) await log.appendAsLeader(buildTestBatch({ recordCount: 1, payload: Buffer.from(`new${i}`) }), 1);
      await log.appendAsLeader(buildTestBatch({ recordCount: 1, payload: Buffer.from('new6') }), 1);
      lookup.release();
      const result = await reading;
      expect(lookup.lookups()).toBe(2);
      const payloads = splitBatches(result.records).batches.map((b) => testBatchPayload(b).toString());
      // The second look reads the new batches, up to the log end the read began with.
      expect(payloads).toEqual(['old2', 'old3', 'new4', 'new5']);
    } finally {
      await store.close();
      await harness.cleanup();
    }
  });

  it('deletes on open the batch bytes a crash left unindexed, and those of removed batches', async () => {
    const harness = await levelHarness('os');
    let store = await harness.open();
    const log = await store.openPartition({ topic: 'a', partition: 0 }, { retentionMs: -1, retentionBytes: -1 });
    for (let i = 0; i < 3; i++) await log.appendAsLeader(buildTestBatch({ recordCount: 2 }), 0);
    await store.close();
    // What a kill -9 can leave: bytes written before their index write (at or above the
    // committed batch sequence), and a garbage record whose bytes were not deleted yet.
    const { index, batchDb, close } = await openStoreDatabases(harness.dataDir);
    const end = decodeLastWrite((await index.get(metaKey('lastWrite')))!).batchSeqEnd;
    expect(end).toBe(3);
    await batchDb.batch([
      { type: 'put', key: batchSeqKey(end), value: Buffer.from('never indexed') },
      { type: 'put', key: batchSeqKey(end + 5), value: Buffer.from('never indexed either') },
      { type: 'put', key: batchSeqKey(1000), value: Buffer.from('old, removed') },
    ]);
    await index.put(garbageKey(0), batchSeqKey(1000));
    await close();
    store = await harness.open();
    try {
      const reopened = await store.openPartition({ topic: 'a', partition: 0 }, { retentionMs: -1, retentionBytes: -1 });
      expect((await reopened.read(0, 1 << 20)).batchCount).toBe(3);
      expect((await reopened.appendAsLeader(buildTestBatch({ recordCount: 1 }), 0)).baseOffset).toBe(6);
    } finally {
      await store.close();
    }
    expect(await expectBatchDatabaseMatchesIndex(harness.dataDir)).toEqual({ batches: 4 });
    await harness.cleanup();
  });

  it('removes on open the batches of a last write whose index landed and bytes did not (never acknowledged)', async () => {
    const harness = await levelHarness('os');
    let store = await harness.open();
    const unlimitedRetention = { retentionMs: -1, retentionBytes: -1 };
    let a = await store.openPartition({ topic: 'a', partition: 0 }, unlimitedRetention);
    let b = await store.openPartition({ topic: 'b', partition: 0 }, unlimitedRetention);
    for (let i = 0; i < 3; i++) {
      await a.appendAsLeader(buildTestBatch({ recordCount: 2, maxTimestampMs: 1000 + i, payload: Buffer.from(`a${i}`) }), 0);
      await b.appendAsLeader(buildTestBatch({ recordCount: 1, maxTimestampMs: 1000 + i, payload: Buffer.from(`b${i}`) }), 0);
    }
    const sizes = [a.sizeBytes(), b.sizeBytes()];
    // One write holding a batch of each partition, with a newer epoch and a newer timestamp.
    await Promise.all([
      a.appendAsLeader(buildTestBatch({ recordCount: 3, maxTimestampMs: 5000 }), 1),
      b.appendAsLeader(buildTestBatch({ recordCount: 1, maxTimestampMs: 5000 }), 1),
    ]);
    await store.close();
    // A kill between that write's two halves: the index landed, the batch bytes did not.
    const { index, batchDb, close } = await openStoreDatabases(harness.dataDir);
    expect(decodeLastWrite((await index.get(metaKey('lastWrite')))!)).toEqual({ firstBatchSeq: 6, batchSeqEnd: 8 });
    await batchDb.clear({ gte: batchSeqKey(6), lt: batchSeqKey(8) });
    await close();
    store = await harness.open();
    try {
      a = await store.openPartition({ topic: 'a', partition: 0 }, unlimitedRetention);
      b = await store.openPartition({ topic: 'b', partition: 0 }, unlimitedRetention);
      expect([a.logEndOffset(), b.logEndOffset()]).toEqual([6, 3]);
      expect([a.sizeBytes(), b.sizeBytes()]).toEqual(sizes);
      const payloads = splitBatches((await a.read(0, 1 << 20)).records).batches.map((batch) => testBatchPayload(batch).toString());
      expect(payloads).toEqual(['a0', 'a1', 'a2']);
      expect(await a.offsetForTimestamp(5000)).toBeNull();
      // An epoch starting at the log end stays, as a new leader's does (recover() keeps those).
      expect(a.leaderEpochEntries()).toEqual([
        { leaderEpoch: 0, startOffset: 0 },
        { leaderEpoch: 1, startOffset: 6 },
      ]);
      expect((await a.appendAsLeader(buildTestBatch({ recordCount: 1, maxTimestampMs: 4000 }), 1)).baseOffset).toBe(6);
      expect(await a.offsetForTimestamp(4000)).toEqual({ offset: 6, timestampMs: 4000 });
      expect((await b.appendAsLeader(buildTestBatch({ recordCount: 1 }), 1)).baseOffset).toBe(3);
    } finally {
      await store.close();
    }
    await expectBatchDatabaseMatchesIndex(harness.dataDir);
    await harness.cleanup();
  });

  it('refuses a data directory written in the older format, saying what to do', async () => {
    const harness = await levelHarness('os');
    await (await harness.open()).close();
    const { index, close } = await openStoreDatabases(harness.dataDir);
    await index.put(metaKey('formatVersion'), encodeUint32(1));
    await close();
    const error = await harness.open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toMatch(/format version 1 is not supported \(this build reads 2\).*older Rivulet\. Move .*partition-logs aside \(only it.*copies its replicas from their leaders/);
    await harness.cleanup();
  });

  it('refuses calls after close', async () => {
    const harness = await levelHarness('os');
    const store = await harness.open();
    const log = await store.openPartition({ topic: 'a', partition: 0 }, { retentionMs: -1, retentionBytes: -1 });
    await store.close();
    await expect(log.appendAsLeader(buildTestBatch({ recordCount: 1 }), 0)).rejects.toBeInstanceOf(StorageError);
    await expect(store.openPartition({ topic: 'a', partition: 1 }, { retentionMs: -1, retentionBytes: -1 })).rejects.toBeInstanceOf(StorageError);
    await harness.cleanup();
  });
});
