import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { expect } from 'vitest';
import { BATCH_STORE_DIRECTORY, LOG_STORE_DIRECTORY } from '../log-store.js';
import type { LogStore } from '../log-store.js';
import { Prefix, decodeDataKey, decodeLastWrite, metaKey, prefixEnd, prefixStart, readUint64 } from '../keys.js';

/** A closed store's two LevelDB databases, opened directly (to inspect them, or to make what a crash leaves). */
export async function openStoreDatabases(dataDir: string): Promise<{ index: ClassicLevel<Buffer, Buffer>; batchDb: ClassicLevel<Buffer, Buffer>; close: () => Promise<void> }> {
  const options = { keyEncoding: 'buffer', valueEncoding: 'buffer' } as const;
  const index = new ClassicLevel<Buffer, Buffer>(join(dataDir, LOG_STORE_DIRECTORY), options);
  const batchDb = new ClassicLevel<Buffer, Buffer>(join(dataDir, BATCH_STORE_DIRECTORY), options);
  await Promise.all([index.open(), batchDb.open()]);
  return { index, batchDb, close: async () => void (await Promise.all([index.close(), batchDb.close()])) };
}

/**
 * Holds an open store's first batch lookup (`getMany` on its batch database) until
 * `release()`, so a test can change the log between a reader's index scan and its lookup.
 * `isHeld` resolves when the lookup is waiting; `lookups()` counts lookups since.
 */
export function holdFirstBatchLookup(store: LogStore): { isHeld: Promise<void>; release: () => void; lookups: () => number; restore: () => void } {
  const batchDb = Reflect.get(store, 'batchDb') as { getMany: (keys: Buffer[]) => Promise<(Buffer | undefined)[]> };
  const realGetMany = batchDb.getMany.bind(batchDb);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let held!: () => void;
  const isHeld = new Promise<void>((resolve) => (held = resolve));
  let lookups = 0;
  batchDb.getMany = async (keys) => {
    if (lookups++ === 0) {
      held();
      await gate;
    }
    return realGetMany(keys);
  };
  return { isHeld, release, lookups: () => lookups, restore: () => (batchDb.getMany = realGetMany) };
}

/**
 * Checks a closed store's two databases against each other: every data key names a batch
 * of its size below the committed batch sequence, every stored batch is named by exactly one
 * data key (no bytes leaked by deletion, truncation, cleaning or a crash), and no garbage
 * record is left over.
 */
export async function expectBatchDatabaseMatchesIndex(dataDir: string): Promise<{ batches: number }> {
  const { index, batchDb, close } = await openStoreDatabases(dataDir);
  try {
    const named = new Map<number, number>();
    for (const key of await index.keys({ gte: prefixStart(Prefix.data), lt: prefixEnd(Prefix.data) }).all()) {
      const { batchSeq, sizeBytes } = decodeDataKey(key);
      expect(named.has(batchSeq), `batch sequence ${batchSeq} named twice`).toBe(false);
      named.set(batchSeq, sizeBytes);
    }
    expect(await index.keys({ gte: prefixStart(Prefix.garbage), lt: prefixEnd(Prefix.garbage) }).all()).toEqual([]);
    const lastWrite = await index.get(metaKey('lastWrite'));
    const batchSeqEnd = lastWrite === undefined ? 0 : decodeLastWrite(lastWrite).batchSeqEnd;
    const stored = new Map<number, number>();
    for await (const [key, value] of batchDb.iterator()) stored.set(readUint64(key, 0), value.length);
    for (const [batchSeq] of stored) expect(batchSeq, 'a batch at or above the committed batch sequence').toBeLessThan(batchSeqEnd);
    expect([...stored.entries()].sort((a, b) => a[0] - b[0])).toEqual([...named.entries()].sort((a, b) => a[0] - b[0]));
    return { batches: stored.size };
  } finally {
    await close();
  }
}
