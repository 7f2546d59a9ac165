import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { expect } from 'vitest';
import { BATCH_STORE_DIRECTORY, LOG_STORE_DIRECTORY } from '../log-store.js';
import { Prefix, decodeDataKey, metaKey, prefixEnd, prefixStart, readUint64 } from '../keys.js';

/**
 * Checks a closed store's two databases against each other: every data key names a batch
 * of its size below the committed batch sequence, every stored batch is named by exactly one
 * data key (no bytes leaked by deletion, truncation, cleaning or a crash), and no garbage
 * record is left over.
 */
export async function expectBatchDatabaseMatchesIndex(dataDir: string): Promise<{ batches: number }> {
  const index = new ClassicLevel<Buffer, Buffer>(join(dataDir, LOG_STORE_DIRECTORY), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  const batchDb = new ClassicLevel<Buffer, Buffer>(join(dataDir, BATCH_STORE_DIRECTORY), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  try {
    const named = new Map<number, number>();
    for (const key of await index.keys({ gte: prefixStart(Prefix.data), lt: prefixEnd(Prefix.data) }).all()) {
      const { batchSeq, sizeBytes } = decodeDataKey(key);
      expect(named.has(batchSeq), `batch sequence ${batchSeq} named twice`).toBe(false);
      named.set(batchSeq, sizeBytes);
    }
    expect(await index.keys({ gte: prefixStart(Prefix.garbage), lt: prefixEnd(Prefix.garbage) }).all()).toEqual([]);
    const end = await index.get(metaKey('batchSeqEnd'));
    const batchSeqEnd = end === undefined ? 0 : readUint64(end, 0);
    const stored = new Map<number, number>();
    for await (const [key, value] of batchDb.iterator()) stored.set(readUint64(key, 0), value.length);
    for (const [batchSeq] of stored) expect(batchSeq, 'a batch at or above the committed batch sequence').toBeLessThan(batchSeqEnd);
    expect([...stored.entries()].sort((a, b) => a[0] - b[0])).toEqual([...named.entries()].sort((a, b) => a[0] - b[0]));
    return { batches: stored.size };
  } finally {
    await Promise.all([index.close(), batchDb.close()]);
  }
}
