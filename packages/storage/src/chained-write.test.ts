import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeChained, writeChainedInOrder } from './chained-write.js';
import type { LevelDb } from './partition-log.js';
import { openStoreDatabases } from './testing/store-consistency.js';
import type { BatchOp } from './write-pipeline.js';

// classic-level's native binding, as its chained batches call it.
const binding = createRequire(createRequire(import.meta.url).resolve('classic-level'))('./binding.js') as Record<string, unknown>;

const put = (key: string, value: string): BatchOp => ({ type: 'put', key: Buffer.from(key), value: Buffer.from(value) });
const del = (key: string): BatchOp => ({ type: 'del', key: Buffer.from(key) });

async function contents(db: LevelDb): Promise<string[]> {
  return (await db.iterator().all()).map(([key, value]) => `${key.toString()}=${value.toString()}`);
}

// The pair the log store writes in order: its batch database, then its index.
describe('writeChainedInOrder', () => {
  let dir: string;
  let first: LevelDb;
  let then: LevelDb;
  let closeBoth: () => Promise<void>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rivulet-chained-'));
    ({ batchDb: first, index: then, close: closeBoth } = await openStoreDatabases(dir));
  });

  afterEach(async () => {
    await closeBoth();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs on the binding built from source, which writes both batches in one task', () => {
    // scripts/test.sh also refuses to run the tests on the prebuilt binary, which lacks it.
    expect(typeof binding.batch_write_pair).toBe('function');
  });

  it('applies both batches, each to its own database, puts and deletes alike', async () => {
    await writeChained(first, [put('a', '0'), put('gone', '0')], { sync: false });
    await writeChainedInOrder({ db: first, ops: [put('a', '1'), put('b', '1'), del('gone')] }, { db: then, ops: [put('x', '2')] }, { sync: false });
    expect(await contents(first)).toEqual(['a=1', 'b=1']);
    expect(await contents(then)).toEqual(['x=2']);
    await writeChainedInOrder({ db: first, ops: [del('a')] }, { db: then, ops: [put('y', '3'), del('x')] }, { sync: true });
    expect(await contents(first)).toEqual(['b=1']);
    expect(await contents(then)).toEqual(['y=3']);
  });

  it('writes one side alone when the other has nothing', async () => {
    await writeChainedInOrder({ db: first, ops: [] }, { db: then, ops: [put('x', '1')] }, { sync: false });
    await writeChainedInOrder({ db: first, ops: [put('a', '1')] }, { db: then, ops: [] }, { sync: false });
    await writeChainedInOrder({ db: first, ops: [] }, { db: then, ops: [] }, { sync: false });
    expect(await contents(first)).toEqual(['a=1']);
    expect(await contents(then)).toEqual(['x=1']);
  });

  it('writes nothing of the second batch when the first is refused', async () => {
    await first.close();
    await expect(writeChainedInOrder({ db: first, ops: [put('a', '1')] }, { db: then, ops: [put('x', '1')] }, { sync: false })).rejects.toThrow(/not open/);
    expect(await contents(then)).toEqual([]);
    await first.open();
  });

  it('refuses, writing neither, when the second batch\'s database closed meanwhile', async () => {
    const firstBatch = first.batch().put(Buffer.from('a'), Buffer.from('1'));
    const thenBatch = then.batch().put(Buffer.from('x'), Buffer.from('1'));
    await then.close();
    await expect(firstBatch.write({ thenBatch })).rejects.toThrow(/not open/);
    expect(await contents(first)).toEqual([]);
    await then.open();
    expect(await contents(then)).toEqual([]);
  });

  it('writes the two one after the other on a binary without the paired write (a prebuilt one)', async () => {
    const paired = binding.batch_write_pair;
    binding.batch_write_pair = undefined;
    try {
      await writeChainedInOrder({ db: first, ops: [put('a', '1')] }, { db: then, ops: [put('x', '1')] }, { sync: false });
    } finally {
      binding.batch_write_pair = paired;
    }
    expect(await contents(first)).toEqual(['a=1']);
    expect(await contents(then)).toEqual(['x=1']);
  });
});
