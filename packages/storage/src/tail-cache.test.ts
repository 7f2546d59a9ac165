import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { LogStore } from './log-store.js';
import type { PartitionLog } from './partition-log.js';
import { TailCache, TailCacheBudget } from './tail-cache.js';
import { buildTestBatch } from './testing/record-batch.js';

const bytes = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill);

describe('TailCache', () => {
  it('answers reads that start inside it with whole batches, and misses below it', () => {
    const cache = new TailCache(new TailCacheBudget(1000));
    cache.add(10, 14, bytes(10, 1));
    cache.add(15, 15, bytes(10, 2));
    cache.add(16, 19, bytes(10, 3));
    expect(cache.read(9, 20, 100)).toBeUndefined();
    const fromInside = cache.read(12, 20, 100)!;
    expect(fromInside.batches.map((b) => b[0])).toEqual([1, 2, 3]);
    expect(fromInside.nextOffset).toBe(20);
    // maxBytes stops before a batch that would not fit, but the first batch always comes.
    expect(cache.read(15, 20, 15)!.batches.map((b) => b[0])).toEqual([2]);
    expect(cache.read(15, 20, 1)!.batches.map((b) => b[0])).toEqual([2]);
    // No batch reaching upperExclusive.
    expect(cache.read(10, 16, 100)!.batches.map((b) => b[0])).toEqual([1, 2]);
    expect(cache.read(16, 19, 100)!.batches).toEqual([]);
  });

  it('evicts the oldest batch of any partition when the shared budget is full', () => {
    const budget = new TailCacheBudget(30);
    const a = new TailCache(budget);
    const b = new TailCache(budget);
    a.add(0, 0, bytes(10));
    b.add(0, 0, bytes(10));
    a.add(1, 1, bytes(10));
    expect(budget.bytesUsed).toBe(30);
    b.add(1, 1, bytes(10)); // evicts a's offset 0, the oldest
    expect(budget.bytesUsed).toBe(30);
    expect(a.read(0, 2, 100)).toBeUndefined();
    expect(a.read(1, 2, 100)!.batches).toHaveLength(1);
    expect(b.read(0, 2, 100)!.batches).toHaveLength(2);
  });

  it('drops its oldest batches up to a rewritten one, keeping the rest and evicting in order afterwards', () => {
    const budget = new TailCacheBudget(40);
    const cache = new TailCache(budget);
    cache.add(0, 1, bytes(10, 1));
    cache.add(2, 4, bytes(10, 2));
    cache.add(5, 5, bytes(10, 3));
    cache.dropThrough(3);
    expect(cache.size).toBe(1);
    expect(budget.bytesUsed).toBe(10);
    expect(cache.read(4, 6, 100)).toBeUndefined();
    expect(cache.read(5, 6, 100)!.batches.map((b) => b[0])).toEqual([3]);
    // The dropped entries weigh nothing in the budget's queue; eviction still goes oldest first.
    cache.add(6, 6, bytes(10, 4));
    cache.add(7, 7, bytes(10, 5));
    cache.add(8, 8, bytes(10, 6));
    cache.add(9, 9, bytes(10, 7));
    expect(budget.bytesUsed).toBe(40);
    expect(cache.read(6, 10, 100)!.batches.map((b) => b[0])).toEqual([4, 5, 6, 7]);
    cache.dropThrough(100);
    expect(cache.size).toBe(0);
    expect(budget.bytesUsed).toBe(0);
  });

  it('gives its bytes back when cleared, and starts over on a gap or a batch larger than the budget', () => {
    const budget = new TailCacheBudget(25);
    const cache = new TailCache(budget);
    cache.add(0, 0, bytes(10));
    cache.add(1, 1, bytes(10));
    cache.clear();
    expect(budget.bytesUsed).toBe(0);
    expect(cache.size).toBe(0);
    cache.add(5, 5, bytes(10));
    cache.add(7, 7, bytes(10)); // not contiguous: only the newest stays
    expect(cache.size).toBe(1);
    expect(budget.bytesUsed).toBe(10);
    cache.add(8, 8, bytes(26));
    expect(cache.size).toBe(0);
    expect(budget.bytesUsed).toBe(0);
    // Cleared entries still queued in the budget weigh nothing when their turn comes.
    for (let i = 0; i < 5000; i++) cache.add(100 + i, 100 + i, bytes(5));
    expect(budget.bytesUsed).toBe(25);
    expect(cache.size).toBe(5);
  });
});

describe('PartitionLog reads with a tail cache', () => {
  /**
   * The same seeded operations on a store whose tail cache holds a few batches (so reads hit,
   * miss and straddle its edge) and on one without a cache: every read must answer the same.
   */
  it('answers exactly what LevelDB answers, through appends, truncations, deletions and reopening', async () => {
    const dirs = await Promise.all([mkdtemp(join(tmpdir(), 'rivulet-tail-')), mkdtemp(join(tmpdir(), 'rivulet-tail-'))]);
    const options = [{ tailCacheBytes: 700 }, { tailCacheBytes: 0 }];
    const open = (i: number) => LogStore.open({ dataDir: dirs[i]!, flushPolicy: 'os', ...options[i] });
    let stores = await Promise.all([open(0), open(1)]);
    try {
      const random = new SeededRandom(4242);
      const topicPartition = { topic: 't', partition: 0 };
      const config = { retentionMs: -1, retentionBytes: -1 };
      let logs: PartitionLog[] = await Promise.all(stores.map((store) => store.openPartition(topicPartition, config)));
      let reads = 0;
      const tally = { hits: 0, misses: 0, plainHits: 0 };
      const count = () => {
        tally.hits += stores[0]!.stats().tailCacheHits;
        tally.misses += stores[0]!.stats().tailCacheMisses;
        tally.plainHits += stores[1]!.stats().tailCacheHits;
      };
      for (let step = 0; step < 600; step++) {
        const dice = random.nextInt(100);
        const [cached, plain] = logs as [PartitionLog, PartitionLog];
        if (dice < 55) {
          const count = 1 + random.nextInt(5);
          const payload = Buffer.from(`s${step}`.padEnd(20 + random.nextInt(80), '.'));
          const epoch = Math.floor(step / 100);
          await Promise.all(logs.map((log) => log.appendAsLeader(buildTestBatch({ recordCount: count, payload }), epoch)));
        } else if (dice < 60 && cached.logEndOffset() > cached.logStartOffset()) {
          // Truncate at a batch boundary: the base offset of a batch read from a random offset.
          const at = cached.logStartOffset() + random.nextInt(cached.logEndOffset() - cached.logStartOffset());
          const { records } = await plain.read(at, 1);
          const boundary = Number(records.readBigInt64BE(0));
          await Promise.all(logs.map((log) => log.truncateTo(boundary)));
        } else if (dice < 63 && cached.logEndOffset() > cached.logStartOffset()) {
          const at = cached.logStartOffset() + random.nextInt(cached.logEndOffset() - cached.logStartOffset() + 1);
          await Promise.all(logs.map((log) => log.deleteRecordsBefore(at)));
        } else if (dice < 64) {
          count();
          await Promise.all(stores.map((store) => store.close()));
          stores = await Promise.all([open(0), open(1)]);
          logs = await Promise.all(stores.map((store) => store.openPartition(topicPartition, config)));
        } else {
          const start = cached.logStartOffset();
          const end = cached.logEndOffset();
          expect(plain.logEndOffset()).toBe(end);
          const from = start + random.nextInt(end - start + 1);
          const maxBytes = random.nextInt(600);
          const upper = random.nextInt(3) === 0 ? from + random.nextInt(end - from + 2) : undefined;
          const [a, b] = await Promise.all(logs.map((log) => log.read(from, maxBytes, upper)));
          expect(a).toEqual(b);
          reads++;
        }
      }
      expect(reads).toBeGreaterThan(100);
      // Both paths were taken: reads from memory, and reads from below the tail.
      count();
      expect(tally.hits).toBeGreaterThan(20);
      expect(tally.misses).toBeGreaterThan(20);
      expect(tally.plainHits).toBe(0);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    }
  });
});
