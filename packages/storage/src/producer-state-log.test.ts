import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, RivuletError } from '@rivulet/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Prefix, encodeProducerEntry, producerKey } from './keys.js';
import { LogStore } from './log-store.js';
import type { PartitionLog } from './partition-log.js';
import { buildTestBatch } from './testing/record-batch.js';

const tp = { topic: 'idem', partition: 0 };
const config = { retentionMs: -1, retentionBytes: -1 };

/** A batch of producer 42 with `records` records starting at `baseSequence`. */
function idem(baseSequence: number, records = 2, producerEpoch = 0, producerId = 42): Buffer {
  return buildTestBatch({ recordCount: records, producerId, producerEpoch, baseSequence });
}

async function codeOf(promise: Promise<unknown>): Promise<number> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RivuletError);
  return (error as RivuletError).code;
}

describe('idempotent producer state in the partition log (LevelDB)', () => {
  let dataDir: string;
  let store: LogStore;
  let log: PartitionLog;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rivulet-idem-'));
    store = await LogStore.open({ dataDir, flushPolicy: 'os' });
    log = await store.openPartition(tp, config);
  });

  afterEach(async () => {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function reopen(): Promise<void> {
    await store.close();
    store = await LogStore.open({ dataDir, flushPolicy: 'os' });
    log = await store.openPartition(tp, config);
  }

  it('answers a retried batch with its original offsets and appends nothing', async () => {
    expect((await log.appendAsLeader(idem(0), 0)).baseOffset).toBe(0);
    await log.appendAsLeader(buildTestBatch({ recordCount: 3 }), 0);
    const retry = await log.appendAsLeader(idem(0), 0);
    expect(retry).toMatchObject({ baseOffset: 0, lastOffset: 1, isDuplicate: true });
    expect(log.logEndOffset()).toBe(5);
  });

  it('checks in-flight batches of one producer in order, against appends not yet written', async () => {
    const first = log.appendAsLeader(idem(0), 0);
    const second = log.appendAsLeader(idem(2), 0);
    const retryOfSecond = log.appendAsLeader(idem(2), 0);
    const gap = log.appendAsLeader(idem(9), 0);
    expect(log.logEndOffset()).toBe(0);
    expect(await codeOf(gap)).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect((await first).baseOffset).toBe(0);
    expect((await second).baseOffset).toBe(2);
    expect(await retryOfSecond).toMatchObject({ baseOffset: 2, isDuplicate: true });
    expect(log.logEndOffset()).toBe(4);
  });

  it('refuses gaps, fenced epochs and unknown producers, and stores nothing for them', async () => {
    await log.appendAsLeader(idem(0, 2, 3), 0);
    expect(await codeOf(log.appendAsLeader(idem(5, 2, 3), 0))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect(await codeOf(log.appendAsLeader(idem(2, 2, 2), 0))).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(await codeOf(log.appendAsLeader(idem(7, 1, 0, 43), 0))).toBe(ErrorCode.UNKNOWN_PRODUCER_ID);
    expect(await codeOf(log.appendBatchesAsLeader([idem(2, 2, 3), idem(4, 2, 3)], 0))).toBe(ErrorCode.INVALID_RECORD);
    expect(log.logEndOffset()).toBe(2);
    expect(log.producerEntries()).toEqual([expect.objectContaining({ producerId: 42, producerEpoch: 3, lastSequence: 1 })]);
    await reopen();
    expect(log.logEndOffset()).toBe(2);
    expect(log.producerEntries().map((e) => e.producerId)).toEqual([42]);
  });

  it('restores producer state after a restart, for leader and follower appends alike', async () => {
    await log.appendAsLeader(idem(0), 0);
    await log.appendAsFollower(buildTestBatch({ recordCount: 2, baseOffset: 2, partitionLeaderEpoch: 1, producerId: 43, producerEpoch: 0, baseSequence: 0 }));
    await reopen();
    expect(await log.appendAsLeader(idem(0), 1)).toMatchObject({ baseOffset: 0, isDuplicate: true });
    expect(await log.appendAsLeader(idem(0, 2, 0, 43), 1)).toMatchObject({ baseOffset: 2, isDuplicate: true });
    expect(await codeOf(log.appendAsLeader(idem(4), 1))).toBe(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    expect((await log.appendAsLeader(idem(2), 1)).baseOffset).toBe(4);
  });

  it('rolls producer state back on truncation, in memory and on disk', async () => {
    await log.appendAsLeader(idem(0), 0);
    await log.appendAsLeader(idem(2), 0);
    await log.appendAsLeader(idem(4), 0);
    await log.truncateTo(4);
    // The truncated batch is new again; the kept ones are still duplicates.
    expect(await log.appendAsLeader(idem(2), 1)).toMatchObject({ baseOffset: 2, isDuplicate: true });
    await reopen();
    expect(log.producerEntries()[0]).toMatchObject({ lastSequence: 3 });
    expect(await log.appendAsLeader(idem(4), 1)).toMatchObject({ baseOffset: 4 });
    expect(log.producerEntries()[0]?.batches).toHaveLength(3);
  });

  it('forgets producers when the log restarts at a new offset', async () => {
    await log.appendAsLeader(idem(0), 0);
    await log.truncateFullyAndStartAt(100);
    expect(log.producerEntries()).toEqual([]);
    await reopen();
    expect(log.producerEntries()).toEqual([]);
    expect(await codeOf(log.appendAsLeader(idem(2), 1))).toBe(ErrorCode.UNKNOWN_PRODUCER_ID);
  });

  it('rolls back, on reopening, entries a crash mid-truncation left describing removed batches', async () => {
    await log.appendAsLeader(idem(0), 0);
    await log.appendAsLeader(idem(2), 0);
    const stale = log.producerEntries()[0]!;
    await log.truncateTo(2);
    // Put back the entry as it was before the truncation, as if the last chunk never landed.
    const db = Reflect.get(store, 'db') as { put: (k: Buffer, v: Buffer) => Promise<void> };
    const pid = Reflect.get(log, 'partitionId') as number;
    await db.put(producerKey(pid, 42), encodeProducerEntry(stale));
    await reopen();
    expect(log.producerEntries()[0]).toMatchObject({ lastSequence: 1, batches: [expect.objectContaining({ baseOffset: 0 })] });
  });

  it('expires idle producers and deletes their entries', async () => {
    await log.appendAsLeader(idem(0), 0);
    expect(log.expireProducers(Date.now() + 1000, 60_000)).toBe(0);
    expect(log.expireProducers(Date.now() + 120_000, 60_000)).toBe(1);
    await log.appendAsLeader(buildTestBatch({ recordCount: 1 }), 0);
    await reopen();
    expect(log.producerEntries()).toEqual([]);
  });

  it('deletes producer entries with the partition', async () => {
    await log.appendAsLeader(idem(0), 0);
    await store.deletePartition(tp);
    const db = Reflect.get(store, 'db') as { keys: (o: object) => { all: () => Promise<Buffer[]> } };
    expect(await db.keys({ gte: Buffer.of(Prefix.producer), lt: Buffer.of(Prefix.producer + 1) }).all()).toEqual([]);
    log = await store.openPartition(tp, config);
  });
});
