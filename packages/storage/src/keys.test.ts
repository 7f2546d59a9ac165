import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  NO_CLEANER_CHECKPOINT,
  batchSeqKey,
  batchSeqKeyOf,
  cleanerCheckpointKey,
  dataKey,
  dataSeekKey,
  decodeCleanerCheckpoint,
  decodeDataKey,
  decodeRegistryKey,
  encodeCleanerCheckpoint,
  readUint64,
  registryKey,
  timeIndexKey,
  writeUint64,
} from './keys.js';

describe('key layout', () => {
  it('round-trips 64-bit offsets without BigInt', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (value) => {
        const buf = Buffer.alloc(8);
        writeUint64(buf, value, 0);
        expect(readUint64(buf, 0)).toBe(value);
        expect(buf.readBigUInt64BE(0)).toBe(BigInt(value));
      }),
    );
  });

  it('orders data keys by partition, then last offset, and seek keys land on the containing batch', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        (pid, baseOffset, lastOffsetDelta, probeDelta, batchSeq) => {
          const lastOffset = baseOffset + lastOffsetDelta;
          const key = dataKey(pid, baseOffset, lastOffset, 12345, batchSeq);
          expect(decodeDataKey(key)).toEqual({ baseOffset, lastOffset, sizeBytes: 12345, batchSeq });
          expect(readUint64(batchSeqKeyOf(key), 0)).toBe(batchSeq);
          expect(batchSeqKeyOf(key).equals(batchSeqKey(batchSeq))).toBe(true);
          const probe = baseOffset + probeDelta;
          // gte seek(probe) includes this batch exactly when its last offset is >= probe.
          expect(Buffer.compare(dataSeekKey(pid, probe), key) <= 0).toBe(lastOffset >= probe);
          expect(Buffer.compare(key, dataSeekKey(pid + 1, 0))).toBe(-1);
          expect(Buffer.compare(dataKey(pid, lastOffset + 1, lastOffset + 1, 1, 0), key)).toBe(1);
        },
      ),
    );
  });

  it('orders time index keys by timestamp and round-trips registry keys', () => {
    expect(Buffer.compare(timeIndexKey(1, 255), timeIndexKey(1, 256))).toBe(-1);
    expect(Buffer.compare(timeIndexKey(1, 2 ** 45), timeIndexKey(2, 0))).toBe(-1);
    for (const tp of [{ topic: 'a', partition: 0 }, { topic: 'orders.v2-eu_west', partition: 2 ** 31 - 1 }, { topic: 'ünïcode', partition: 7 }]) {
      expect(decodeRegistryKey(registryKey(tp))).toEqual(tp);
    }
  });
});

describe('cleaner checkpoint', () => {
  it('round-trips, none meaning no tombstone', () => {
    const checkpoint = { cleanedUpToOffset: 2 ** 40 + 3, cleanSectionBytes: 123_456_789, earliestTombstoneMs: 1_700_000_000_000 };
    expect(decodeCleanerCheckpoint(encodeCleanerCheckpoint(checkpoint))).toEqual(checkpoint);
    expect(decodeCleanerCheckpoint(encodeCleanerCheckpoint(NO_CLEANER_CHECKPOINT))).toEqual(NO_CLEANER_CHECKPOINT);
    expect(cleanerCheckpointKey(7).length).toBe(5);
  });
});
