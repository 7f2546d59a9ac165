import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, RivuletError, StorageError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { LogStore } from './log-store.js';
import type { LogStoreOptions } from './log-store.js';
import { partitionLogContract } from './testing/partition-log-contract.js';
import { buildTestBatch } from './testing/record-batch.js';

async function levelHarness(flushPolicy: LogStoreOptions['flushPolicy'], defaults: Partial<LogStoreOptions> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'rivulet-storage-'));
  return {
    dataDir,
    open: (options?: Partial<LogStoreOptions>) => LogStore.open({ dataDir, flushPolicy, ...defaults, ...options }),
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
      await harness.cleanup();
    }
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
