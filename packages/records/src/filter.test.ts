import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Compression, TimestampType, readBatchHeader, setBaseOffset, setPartitionLeaderEpoch } from './batch-header.js';
import type { CompressionName } from './batch-header.js';
import { decodeRecordBatch } from './decode.js';
import { encodeRecordBatch } from './encode.js';
import { filterRecordBatch } from './filter.js';
import type { RecordInput } from './record-codec.js';
import { expectRivuletError } from './test-support.js';

const CODECS: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const T0_MS = 1_700_000_000_000;

function sampleRecords(count: number): RecordInput[] {
  return Array.from({ length: count }, (_, index) => ({
    key: index % 4 === 3 ? null : Buffer.from(`key-${index % 3}`),
    value: index % 5 === 4 ? null : Buffer.from(`value-${index}`),
    headers: index % 2 === 0 ? [] : [{ key: 'h', value: Buffer.from([index]) }],
    timestampMs: T0_MS + ((index * 37) % 11),
  }));
}

async function storedBatch(records: RecordInput[], compression: CompressionName, extra: Partial<Parameters<typeof encodeRecordBatch>[0]> = {}): Promise<Buffer> {
  const batch = await encodeRecordBatch({ records, compression, producerId: 42, producerEpoch: 3, baseSequence: 17, ...extra });
  // As the log stores it: offsets and leader epoch assigned by the broker.
  setBaseOffset(batch, 0, 1000);
  setPartitionLeaderEpoch(batch, 0, 7);
  return batch;
}

describe.each(CODECS)('filterRecordBatch with %s', (codec) => {
  it('keeps the chosen records byte for byte under the original header, with a new CRC', async () => {
    const records = sampleRecords(12);
    const original = await storedBatch(records, codec);
    const before = await decodeRecordBatch(original);
    const keep = (offset: number): boolean => offset % 3 !== 1;
    const filtered = await filterRecordBatch(original, (record) => keep(record.offset));
    const after = await decodeRecordBatch(filtered.batch);
    expect(filtered.keptRecords).toBe(8);
    expect(filtered.removedRecords).toBe(4);
    expect(after.records).toEqual(before.records.filter((r) => keep(r.offset)));
    const { crc: _crcBefore, sizeBytes: _sizeBefore, recordCount: _countBefore, ...headerBefore } = before.header;
    const { crc: _crcAfter, sizeBytes, recordCount, ...headerAfter } = after.header;
    expect(headerAfter).toEqual(headerBefore);
    expect(after.header).toMatchObject({ baseOffset: 1000, partitionLeaderEpoch: 7, lastOffsetDelta: 11, producerId: 42, producerEpoch: 3, baseSequence: 17, compression: Compression[codec] });
    expect(recordCount).toBe(8);
    expect(sizeBytes).toBe(filtered.batch.length);
  });

  it('returns the batch itself when every record stays', async () => {
    const original = await storedBatch(sampleRecords(5), codec);
    const filtered = await filterRecordBatch(Buffer.concat([original, Buffer.from('next batch')]), () => true);
    expect(filtered.removedRecords).toBe(0);
    expect(filtered.batch.equals(original)).toBe(true);
  });

  it('writes a batch that lost every record uncompressed, keeping its offset range and producer fields', async () => {
    const original = await storedBatch(sampleRecords(6), codec);
    const filtered = await filterRecordBatch(original, () => false);
    expect(filtered).toMatchObject({ keptRecords: 0, removedRecords: 6 });
    const header = readBatchHeader(filtered.batch);
    expect(header).toMatchObject({ baseOffset: 1000, lastOffsetDelta: 5, recordCount: 0, compression: Compression.none, producerId: 42, baseSequence: 17, sizeBytes: 61 });
    expect((await decodeRecordBatch(filtered.batch)).records).toEqual([]);
  });
});

describe('filterRecordBatch', () => {
  it('keeps log-append-time timestamps and the max timestamp of the original', async () => {
    const original = await storedBatch(sampleRecords(4), 'none', { timestampType: TimestampType.logAppendTime });
    const filtered = await filterRecordBatch(original, (record) => record.offset !== 1003);
    const after = await decodeRecordBatch(filtered.batch);
    expect(after.header.timestampType).toBe(TimestampType.logAppendTime);
    expect(after.header.maxTimestamp).toBe(readBatchHeader(original).maxTimestamp);
    expect(after.records.map((r) => r.offset)).toEqual([1000, 1001, 1002]);
  });

  it('filters an already filtered batch (offset gaps) again', async () => {
    const original = await storedBatch(sampleRecords(10), 'gzip');
    const once = await filterRecordBatch(original, (record) => record.offset % 2 === 0);
    const twice = await filterRecordBatch(once.batch, (record) => record.offset % 4 === 0);
    expect((await decodeRecordBatch(twice.batch)).records.map((r) => r.offset)).toEqual([1000, 1004, 1008]);
  });

  it('refuses a corrupt batch as decoding does', async () => {
    const bad = await storedBatch(sampleRecords(3), 'none');
    bad[bad.length - 1]! ^= 1;
    await expectRivuletError(() => filterRecordBatch(bad, () => true), 'CORRUPT_MESSAGE');
  });

  it('property: the filtered batch decodes to exactly the kept records, for any batch and choice', async () => {
    const bytesOrNull = fc.option(fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)), { nil: null });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: bytesOrNull, value: bytesOrNull, timestampMs: fc.integer({ min: 0, max: 2 ** 45 }) }), { minLength: 1, maxLength: 20 }),
        fc.constantFrom<CompressionName>(...CODECS),
        fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
        async (records, codec, choices) => {
          const original = await storedBatch(records, codec);
          const before = await decodeRecordBatch(original);
          const filtered = await filterRecordBatch(original, (record) => choices[record.offset - 1000]!);
          const after = await decodeRecordBatch(filtered.batch);
          expect(after.records).toEqual(before.records.filter((r) => choices[r.offset - 1000]));
          expect(after.header.lastOffsetDelta).toBe(before.header.lastOffsetDelta);
        },
      ),
      { numRuns: 60 },
    );
  });
});
