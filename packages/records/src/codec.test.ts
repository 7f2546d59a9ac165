import { describe, expect, it } from 'vitest';
import { Compression, TimestampType, readBatchHeader, setBaseOffset, setPartitionLeaderEpoch } from './batch-header.js';
import type { CompressionName } from './batch-header.js';
import { decodeRecordBatch, decodeRecordBatchSync, decodeRecordBatches, decodeRecordBatchesSync } from './decode.js';
import { encodeRecordBatch, encodeRecordBatchSync } from './encode.js';
import type { EncodeBatchInput } from './encode.js';
import type { RecordInput } from './record-codec.js';
import { validateBatch } from './validate.js';
import { expectRivuletError } from './test-support.js';

const CODECS: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const T0_MS = 1_700_000_000_000;

function sampleRecords(count: number): RecordInput[] {
  return Array.from({ length: count }, (_, index) => ({
    key: index % 3 === 0 ? null : Buffer.from(`key-${index}`),
    value: index % 5 === 0 ? null : Buffer.from(`value-${index}-`.repeat(index % 7)),
    headers: index % 2 === 0 ? [] : [{ key: 'trace', value: Buffer.from([index & 0xff]) }, { key: 'ünï', value: null }],
    // The first record is not the earliest, so some timestamp deltas are negative.
    timestampMs: T0_MS + 10 - ((index * 37) % 11),
  }));
}

async function roundTrip(input: EncodeBatchInput) {
  const encoded = await encodeRecordBatch(input);
  const decoded = await decodeRecordBatch(encoded);
  return { encoded, decoded };
}

function expectSameRecords(actual: readonly { key: Buffer | null; value: Buffer | null; headers: readonly unknown[]; timestampMs: number }[], expected: readonly RecordInput[]) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((record, index) => {
    expect(record.key).toEqual(expected[index]!.key);
    expect(record.value).toEqual(expected[index]!.value);
    expect(record.headers).toEqual(expected[index]!.headers ?? []);
    expect(record.timestampMs).toBe(expected[index]!.timestampMs);
  });
}

describe.each(CODECS)('round trip with %s', (codec) => {
  it('keeps keys, values (null and empty), headers, offsets and timestamps', async () => {
    const records = [...sampleRecords(40), { key: Buffer.alloc(0), value: Buffer.alloc(0), timestampMs: T0_MS }];
    const { encoded, decoded } = await roundTrip({ records, compression: codec, baseOffset: 1000 });
    expect(decoded.header.compression).toBe(Compression[codec]);
    expect(decoded.header.recordCount).toBe(records.length);
    expect(decoded.header.sizeBytes).toBe(encoded.length);
    expectSameRecords(decoded.records, records);
    expect(decoded.records.map((record) => record.offset)).toEqual(records.map((_, index) => 1000 + index));
    await expect(validateBatch(encoded, { maxBatchBytes: 1 << 20, deep: true })).resolves.toMatchObject({ recordCount: records.length });
  });

  it('handles many records and a large value', async () => {
    const records: RecordInput[] = Array.from({ length: 5000 }, (_, index) => ({
      key: Buffer.from(String(index)),
      value: Buffer.from(`v${index}`),
      timestampMs: T0_MS + index,
    }));
    records.push({ key: null, value: Buffer.alloc(3 * 1024 * 1024, 'x'), timestampMs: T0_MS });
    const { decoded } = await roundTrip({ records, compression: codec });
    expect(decoded.records.length).toBe(records.length);
    expect(decoded.records[4999]!.value).toEqual(Buffer.from('v4999'));
    expect(decoded.records[5000]!.value!.length).toBe(3 * 1024 * 1024);
    expect(decoded.header.maxTimestamp).toBe(T0_MS + 4999);
    expect(decoded.header.baseTimestamp).toBe(T0_MS);
  });

  // zstd's binding is asynchronous only (see compression.ts): there is no sync variant to compare.
  it.runIf(codec !== 'zstd')('sync and async variants produce and read the same bytes', async () => {
    const input: EncodeBatchInput = { records: sampleRecords(10), compression: codec };
    const syncBytes = encodeRecordBatchSync(input);
    expect(await encodeRecordBatch(input)).toEqual(syncBytes);
    expect(decodeRecordBatchSync(syncBytes)).toEqual(await decodeRecordBatch(syncBytes));
  });
});

describe('batch header fields', () => {
  it('writes defaults: baseOffset 0, partitionLeaderEpoch -1, no producer', async () => {
    const header = readBatchHeader(await encodeRecordBatch({ records: [{ key: null, value: null, timestampMs: 5 }] }));
    expect(header).toMatchObject({
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      magic: 2,
      attributes: 0,
      lastOffsetDelta: 0,
      baseTimestamp: 5,
      maxTimestamp: 5,
      producerId: -1,
      producerEpoch: -1,
      baseSequence: -1,
      recordCount: 1,
      isTransactional: false,
      isControl: false,
    });
  });

  it('preserves producer identity, transactional and control bits', async () => {
    const { decoded } = await roundTrip({
      records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 7]), timestampMs: 9 }],
      producerId: 2 ** 40 + 3,
      producerEpoch: 12,
      baseSequence: 77,
      isTransactional: true,
      isControl: true,
      partitionLeaderEpoch: 4,
    });
    expect(decoded.header).toMatchObject({ producerId: 2 ** 40 + 3, producerEpoch: 12, baseSequence: 77, isTransactional: true, isControl: true, partitionLeaderEpoch: 4 });
  });

  it('reports maxTimestamp for every record under log-append time', async () => {
    const records = [{ key: null, value: null, timestampMs: 50 }, { key: null, value: null, timestampMs: 90 }, { key: null, value: null, timestampMs: 70 }];
    const { decoded } = await roundTrip({ records, timestampType: TimestampType.logAppendTime });
    expect(decoded.header.timestampType).toBe(TimestampType.logAppendTime);
    expect(decoded.records.map((record) => record.timestampMs)).toEqual([90, 90, 90]);
  });

  it('uses nowMs for records without a timestamp', async () => {
    const { decoded } = await roundTrip({ records: [{ key: null, value: null }], nowMs: 123 });
    expect(decoded.records[0]!.timestampMs).toBe(123);
  });

  it('keeps custom offsetDeltas, as after compaction, with gaps', async () => {
    const records = [0, 3, 9].map((offsetDelta) => ({ key: null, value: Buffer.from('x'), timestampMs: 1, offsetDelta }));
    const { encoded, decoded } = await roundTrip({ records, baseOffset: 100 });
    expect(decoded.header.lastOffsetDelta).toBe(9);
    expect(decoded.records.map((record) => record.offset)).toEqual([100, 103, 109]);
    // Gaps are fine in the log but not in a produced batch.
    await expectRivuletError(() => validateBatch(encoded, { maxBatchBytes: 1 << 20 }), 'INVALID_RECORD');
  });

  it('setBaseOffset and setPartitionLeaderEpoch keep the CRC valid', async () => {
    const encoded = await encodeRecordBatch({ records: sampleRecords(3), compression: 'gzip' });
    setBaseOffset(encoded, 0, 2 ** 50);
    setPartitionLeaderEpoch(encoded, 0, 17);
    const decoded = await decodeRecordBatch(encoded);
    expect(decoded.header.partitionLeaderEpoch).toBe(17);
    expect(decoded.records.map((record) => record.offset)).toEqual([2 ** 50, 2 ** 50 + 1, 2 ** 50 + 2]);
  });

  it('refuses bad encoder input with typed errors', async () => {
    await expectRivuletError(() => encodeRecordBatch({ records: [] }), 'INVALID_RECORD');
    await expectRivuletError(() => encodeRecordBatch({ records: [{ key: null, value: null, timestampMs: -5 }] }), 'INVALID_TIMESTAMP');
    await expectRivuletError(
      () => encodeRecordBatch({ records: [{ key: null, value: null, offsetDelta: 2 }, { key: null, value: null, offsetDelta: 2 }] }),
      'INVALID_RECORD',
    );
    await expectRivuletError(() => encodeRecordBatchSync({ records: sampleRecords(1), compression: 'zstd' }), 'UNSUPPORTED_COMPRESSION_TYPE');
  });
});

describe('concatenated batches', () => {
  it('decodes each whole batch and ignores a trailing partial one', async () => {
    const first = await encodeRecordBatch({ records: sampleRecords(3), baseOffset: 0 });
    const second = await encodeRecordBatch({ records: sampleRecords(2), baseOffset: 3, compression: 'lz4' });
    const third = await encodeRecordBatch({ records: sampleRecords(4), baseOffset: 5, compression: 'zstd' });
    const all = Buffer.concat([first, second, third]);
    for (let cut = first.length + second.length; cut < all.length; cut += 7) {
      const decoded = await decodeRecordBatches(all.subarray(0, cut));
      expect(decoded.map((batch) => batch.header.baseOffset)).toEqual([0, 3]);
    }
    const decoded = await decodeRecordBatches(all);
    expect(decoded.flatMap((batch) => batch.records.map((record) => record.offset))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(decodeRecordBatchesSync(Buffer.concat([first, second]).subarray(0, -1)).length).toBe(1);
  });

  it('reports a batchLength below the batch overhead as corruption, not as a partial batch', async () => {
    const first = await encodeRecordBatch({ records: sampleRecords(1) });
    const broken = Buffer.concat([first, Buffer.alloc(20)]);
    broken.writeInt32BE(-12, first.length + 8);
    await expectRivuletError(() => decodeRecordBatches(broken), 'CORRUPT_MESSAGE');
  });
});

describe('codec framing matches what Kafka expects', () => {
  it('lz4 writes one frame with independent blocks and no block checksums', async () => {
    const encoded = await encodeRecordBatch({ records: sampleRecords(5), compression: 'lz4' });
    const frame = encoded.subarray(61);
    expect(frame.readUInt32LE(0)).toBe(0x184d2204);
    const flags = frame[4]!;
    expect(flags >> 6).toBe(1); // frame format version 01
    expect(flags & 0x20).toBe(0x20); // independent blocks: Kafka's reader refuses dependent ones
    expect(flags & 0x10).toBe(0); // no block checksums
  });

  it('snappy writes xerial framing and reads both xerial and raw blocks', async () => {
    const { compressSync } = await import('snappy');
    const encoded = await encodeRecordBatch({ records: sampleRecords(5), compression: 'snappy' });
    expect(encoded.subarray(61, 69)).toEqual(Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]));
    // Re-frame the same records as one raw snappy block, the way librdkafka writes them.
    const plain = await encodeRecordBatch({ records: sampleRecords(5) });
    const rawBlock = compressSync(plain.subarray(61));
    const rebuilt = Buffer.concat([plain.subarray(0, 61), rawBlock]);
    rebuilt.writeInt32BE(rebuilt.length - 12, 8);
    rebuilt.writeInt16BE(Compression.snappy, 21);
    const { crc32c } = await import('./crc32c.js');
    rebuilt.writeUInt32BE(crc32c(rebuilt.subarray(21)), 17);
    expect((await decodeRecordBatch(rebuilt)).records).toEqual((await decodeRecordBatch(plain)).records);
  });
});
