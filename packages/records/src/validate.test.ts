import { describe, expect, it } from 'vitest';
import { HeaderField } from './batch-header.js';
import type { CompressionName } from './batch-header.js';
import { crc32c } from './crc32c.js';
import { decodeRecordBatch } from './decode.js';
import { encodeRecordBatch } from './encode.js';
import type { RecordInput } from './record-codec.js';
import { validateBatch, validateBatchSync, validateProducedBatches, validateProducedBatchesSync } from './validate.js';
import { expectRivuletError } from './test-support.js';

const LIMITS = { maxBatchBytes: 1 << 20 };
const DEEP = { maxBatchBytes: 1 << 20, deep: true };

function records(count: number): RecordInput[] {
  return Array.from({ length: count }, (_, index) => ({ key: null, value: Buffer.from(`v${index}`), timestampMs: 1000 + index }));
}

async function batch(count = 3, compression: CompressionName = 'none'): Promise<Buffer> {
  return encodeRecordBatch({ records: records(count), compression });
}

/** Recomputes the CRC after a deliberate edit, so the check under test is the one that fires. */
function withFixedCrc(buf: Buffer): Buffer {
  buf.writeUInt32BE(crc32c(buf.subarray(21)), HeaderField.crc);
  return buf;
}

/** A one-record batch whose records section is replaced by `section`, with length and CRC fixed. */
async function withRecordsSection(section: Buffer): Promise<Buffer> {
  const header = (await batch(1)).subarray(0, 61);
  const buf = Buffer.concat([header, section]);
  buf.writeInt32BE(buf.length - 12, HeaderField.batchLength);
  return withFixedCrc(buf);
}

describe('validateBatch: one test per error code', () => {
  it('accepts a good batch and returns its header, shallow and deep, sync and async', async () => {
    const good = await batch();
    expect(validateBatchSync(good, LIMITS)).toMatchObject({ recordCount: 3, lastOffsetDelta: 2, sizeBytes: good.length });
    expect(validateBatchSync(good, DEEP)).toEqual(await validateBatch(good, DEEP));
  });

  it('CORRUPT_MESSAGE: buffer shorter than the header', async () => {
    const good = await batch();
    await expectRivuletError(() => validateBatch(good.subarray(0, 10), LIMITS), 'CORRUPT_MESSAGE');
    await expectRivuletError(() => validateBatch(good.subarray(0, 60), LIMITS), 'CORRUPT_MESSAGE');
  });

  it('CORRUPT_MESSAGE: buffer shorter than batchLength says', async () => {
    const good = await batch();
    const error = await expectRivuletError(() => validateBatch(good.subarray(0, good.length - 1), LIMITS), 'CORRUPT_MESSAGE');
    expect(error.message).toMatch(/batchLength says/);
  });

  it('CORRUPT_MESSAGE: batchLength smaller than the header', async () => {
    const bad = await batch();
    bad.writeInt32BE(10, HeaderField.batchLength);
    await expectRivuletError(() => validateBatch(bad, LIMITS), 'CORRUPT_MESSAGE');
  });

  it('CORRUPT_MESSAGE: CRC mismatch after a flipped bit', async () => {
    const bad = await batch();
    bad[bad.length - 1]! ^= 0x01;
    const error = await expectRivuletError(() => validateBatch(bad, LIMITS), 'CORRUPT_MESSAGE');
    expect(error.message).toMatch(/CRC-32C mismatch/);
  });

  it('MESSAGE_TOO_LARGE: batch over maxBatchBytes', async () => {
    const good = await batch();
    await expectRivuletError(() => validateBatch(good, { maxBatchBytes: good.length - 1 }), 'MESSAGE_TOO_LARGE');
    await expect(validateBatch(good, { maxBatchBytes: good.length })).resolves.toBeDefined();
  });

  it('UNSUPPORTED_FOR_MESSAGE_FORMAT: magic 0 or 1', async () => {
    for (const magic of [0, 1, 3]) {
      const bad = await batch();
      bad.writeInt8(magic, HeaderField.magic);
      await expectRivuletError(() => validateBatch(bad, LIMITS), 'UNSUPPORTED_FOR_MESSAGE_FORMAT');
    }
  });

  it('INVALID_RECORD: recordCount of zero or below', async () => {
    for (const recordCount of [0, -1]) {
      const bad = await batch(1);
      bad.writeInt32BE(recordCount, HeaderField.recordCount);
      await expectRivuletError(() => validateBatch(withFixedCrc(bad), LIMITS), 'INVALID_RECORD');
    }
  });

  it('INVALID_RECORD: lastOffsetDelta that does not match recordCount', async () => {
    const bad = await batch(3);
    bad.writeInt32BE(5, HeaderField.lastOffsetDelta);
    const error = await expectRivuletError(() => validateBatch(withFixedCrc(bad), LIMITS), 'INVALID_RECORD');
    expect(error.message).toMatch(/lastOffsetDelta 5/);
  });

  it('UNSUPPORTED_COMPRESSION_TYPE: codecs 5 to 7', async () => {
    for (const codec of [5, 6, 7]) {
      const bad = await batch();
      bad.writeInt16BE(codec, HeaderField.attributes);
      await expectRivuletError(() => validateBatch(withFixedCrc(bad), LIMITS), 'UNSUPPORTED_COMPRESSION_TYPE');
    }
  });

  it('INVALID_TIMESTAMP: negative or unsafe batch timestamps', async () => {
    for (const [field, value] of [[HeaderField.baseTimestamp, -1n], [HeaderField.maxTimestamp, -5n], [HeaderField.maxTimestamp, 2n ** 60n]] as const) {
      const bad = await batch();
      bad.writeBigInt64BE(value, field);
      await expectRivuletError(() => validateBatch(withFixedCrc(bad), LIMITS), 'INVALID_TIMESTAMP');
    }
  });

  it('INVALID_TIMESTAMP (deep): a record whose delta makes its timestamp negative', async () => {
    const bad = await encodeRecordBatch({ records: [{ key: null, value: null, timestampMs: 3 }] });
    // The record's timestampDelta byte (after length and attributes) becomes -5 (zigzag 9).
    bad[61 + 2] = 9;
    await expect(validateBatch(withFixedCrc(bad), LIMITS)).resolves.toBeDefined();
    await expectRivuletError(() => validateBatch(bad, DEEP), 'INVALID_TIMESTAMP');
  });

  it('INVALID_RECORD (deep): offsetDeltas out of order', async () => {
    const bad = await batch(3);
    // Record 1's offsetDelta (zigzag 2) becomes 2 (zigzag 4); the header is still consistent.
    const record1At = 61 + 1 + bad[61]! / 2;
    expect(bad[record1At + 3]).toBe(2);
    bad[record1At + 3] = 4;
    await expect(validateBatch(withFixedCrc(bad), LIMITS)).resolves.toBeDefined();
    const error = await expectRivuletError(() => validateBatch(bad, DEEP), 'INVALID_RECORD');
    expect(error.message).toMatch(/offsetDelta 2, expected 1/);
  });

  it('INVALID_RECORD (deep): a record length that disagrees with its fields', async () => {
    for (const lengthZigzag of [bad0Length(-2), bad0Length(+2), 0x7f]) {
      const bad = await batch(3);
      bad[61] = lengthZigzag;
      await expectRivuletError(() => validateBatch(withFixedCrc(bad), DEEP), 'INVALID_RECORD');
    }
    function bad0Length(change: number): number {
      return 2 * (7 + change);
    }
  });

  it('INVALID_RECORD (deep): a key length of 2^31 - 1 is refused without allocating', async () => {
    // attributes, timestampDelta, offsetDelta, then keyLength varint 0x7fffffff, then padding.
    const body = Buffer.from('000000' + 'feffffff0f' + '00'.repeat(8), 'hex');
    const bad = await withRecordsSection(Buffer.concat([Buffer.from([body.length * 2]), body]));
    const error = await expectRivuletError(() => validateBatch(bad, DEEP), 'INVALID_RECORD');
    expect(error.message).toMatch(/key length 2147483647 exceeds/);
    await expectRivuletError(() => decodeRecordBatch(bad), 'INVALID_RECORD');
  });

  it('INVALID_RECORD (deep): recordCount larger than the record bytes could hold', async () => {
    const bad = await batch(3);
    bad.writeInt32BE(1_000_000, HeaderField.recordCount);
    bad.writeInt32BE(999_999, HeaderField.lastOffsetDelta);
    await expectRivuletError(() => validateBatch(withFixedCrc(bad), DEEP), 'INVALID_RECORD');
  });

  it('INVALID_RECORD (deep): trailing bytes after the last record', async () => {
    const good = await batch(2);
    const bad = Buffer.concat([good, Buffer.from([0, 0])]);
    bad.writeInt32BE(bad.length - 12, HeaderField.batchLength);
    await expectRivuletError(() => validateBatch(withFixedCrc(bad), DEEP), 'INVALID_RECORD');
  });

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)('INVALID_RECORD (deep): %s records over uncompressedBytesMax', async (codec) => {
    const bomb = await encodeRecordBatch({ records: [{ key: null, value: Buffer.alloc(8 << 20), timestampMs: 1 }], compression: codec });
    expect(bomb.length).toBeLessThan(1 << 20);
    await expectRivuletError(() => validateBatch(bomb, { ...DEEP, uncompressedBytesMax: 1 << 20 }), 'INVALID_RECORD');
    await expect(validateBatch(bomb, { ...DEEP, uncompressedBytesMax: 16 << 20 })).resolves.toBeDefined();
  });

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as const)('INVALID_RECORD (deep): %s payload that does not decompress', async (codec) => {
    const bad = await batch(3, codec);
    for (let at = 61 + 8; at < bad.length; at++) bad[at] = 0x5a;
    await expectRivuletError(() => validateBatch(withFixedCrc(bad), DEEP), 'INVALID_RECORD');
  });

  it('UNSUPPORTED_COMPRESSION_TYPE: the sync deep walk of a zstd batch points to the async API', async () => {
    const zstdBatch = await batch(3, 'zstd');
    expect(validateBatchSync(zstdBatch, LIMITS).compression).toBe(4);
    await expectRivuletError(() => validateBatchSync(zstdBatch, DEEP), 'UNSUPPORTED_COMPRESSION_TYPE');
  });
});

describe('validateProducedBatches', () => {
  it('accepts one or more whole batches', async () => {
    const buf = Buffer.concat([await batch(2), await batch(3, 'gzip'), await batch(1, 'zstd')]);
    expect((await validateProducedBatches(buf, DEEP)).map((header) => header.recordCount)).toEqual([2, 3, 1]);
    expect(validateProducedBatchesSync(buf, LIMITS).length).toBe(3);
  });

  it('CORRUPT_MESSAGE: trailing garbage, a trailing partial batch, or no batch at all', async () => {
    const good = await batch(2);
    for (const tail of [Buffer.from([1, 2, 3]), Buffer.alloc(40, 7), (await batch(1)).subarray(0, -1)]) {
      await expectRivuletError(() => validateProducedBatches(Buffer.concat([good, tail]), LIMITS), 'CORRUPT_MESSAGE');
    }
    await expectRivuletError(() => validateProducedBatches(Buffer.alloc(0), LIMITS), 'CORRUPT_MESSAGE');
  });

  it('reports the error code of the failing batch', async () => {
    const second = await batch(2);
    second.writeInt8(1, HeaderField.magic);
    const both = Buffer.concat([await batch(1), second]);
    await expectRivuletError(() => validateProducedBatches(both, LIMITS), 'UNSUPPORTED_FOR_MESSAGE_FORMAT');
  });
});

describe('decode shares the checks', () => {
  it('rejects a CRC mismatch and a bad magic', async () => {
    const bad = await batch();
    bad[bad.length - 1]! ^= 0x80;
    await expectRivuletError(() => decodeRecordBatch(bad), 'CORRUPT_MESSAGE');
    bad.writeInt8(1, HeaderField.magic);
    await expectRivuletError(() => decodeRecordBatch(bad), 'UNSUPPORTED_FOR_MESSAGE_FORMAT');
  });
});

describe('validateBatch: requireKeys (compacted topics)', () => {
  it('accepts a batch whose records all have keys, and refuses one keyless record with INVALID_RECORD', async () => {
    const keyed = await encodeRecordBatch({ records: [{ key: Buffer.from('k'), value: null }, { key: Buffer.alloc(0), value: Buffer.from('v') }] });
    await expect(validateBatch(keyed, { ...DEEP, requireKeys: true })).resolves.toMatchObject({ recordCount: 2 });
    for (const codec of ['none', 'gzip', 'zstd'] as const) {
      const mixed = await encodeRecordBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from('v') }, { key: null, value: Buffer.from('v') }], compression: codec });
      const error = await expectRivuletError(() => validateBatch(mixed, { ...DEEP, requireKeys: true }), 'INVALID_RECORD');
      expect(error.message).toMatch(/record 1 has no key/);
      await expect(validateBatch(mixed, DEEP)).resolves.toBeDefined();
    }
    const mixed = await encodeRecordBatch({ records: [{ key: null, value: Buffer.from('v') }] });
    await expectRivuletError(() => validateProducedBatches(Buffer.concat([keyed, mixed]), { ...DEEP, requireKeys: true }), 'INVALID_RECORD');
    await expectRivuletError(() => validateProducedBatchesSync(mixed, { ...DEEP, requireKeys: true }), 'INVALID_RECORD');
  });
});
