import { describe, expect, it } from 'vitest';
import { crc32cBytewiseJs } from './crc32c-table.js';
import { decodeRecordBatch } from './decode.js';
import { encodeRecordBatch } from './encode.js';
import { validateBatch } from './validate.js';

/*
 * A two-record uncompressed batch written out by hand from the Kafka protocol documentation.
 * The CRC (0xa9d9b08f) was computed outside this code base with a bit-at-a-time CRC-32C in
 * Python over bytes [21, 83), and the test recomputes it with the independent JS table version.
 */
const GOLDEN_HEX = [
  '0000000000000000', // baseOffset 0
  '00000047', // batchLength 71 = 83 - 12
  'ffffffff', // partitionLeaderEpoch -1
  '02', // magic
  'a9d9b08f', // crc
  '0000', // attributes: no compression, create time
  '00000001', // lastOffsetDelta 1
  '00000000000003e8', // baseTimestamp 1000
  '00000000000003ed', // maxTimestamp 1005
  'ffffffffffffffff', // producerId -1
  'ffff', // producerEpoch -1
  'ffffffff', // baseSequence -1
  '00000002', // recordCount 2
  // record 0: length 8, attributes 0, timestampDelta 0, offsetDelta 0, key "k", value "v", 0 headers
  '10' + '00' + '00' + '00' + '02' + '6b' + '02' + '76' + '00',
  // record 1: length 12, attributes 0, timestampDelta 5, offsetDelta 1, key null, value "hi", 1 header h=x
  '18' + '00' + '0a' + '02' + '01' + '04' + '6869' + '02' + '02' + '68' + '02' + '78',
].join('');
const GOLDEN = Buffer.from(GOLDEN_HEX, 'hex');

describe('golden RecordBatch v2 bytes', () => {
  it('has the hand-computed CRC, checked independently', () => {
    expect(GOLDEN.length).toBe(83);
    expect(crc32cBytewiseJs(GOLDEN.subarray(21))).toBe(0xa9d9b08f);
  });

  it('is exactly what encodeRecordBatch writes', async () => {
    const encoded = await encodeRecordBatch({
      records: [
        { key: Buffer.from('k'), value: Buffer.from('v'), timestampMs: 1000 },
        { key: null, value: Buffer.from('hi'), headers: [{ key: 'h', value: Buffer.from('x') }], timestampMs: 1005 },
      ],
    });
    expect(encoded.toString('hex')).toBe(GOLDEN_HEX);
  });

  it('decodes to the records it was written from, and validates deeply', async () => {
    const decoded = await decodeRecordBatch(GOLDEN);
    expect(decoded.records).toEqual([
      { offset: 0, timestampMs: 1000, key: Buffer.from('k'), value: Buffer.from('v'), headers: [] },
      { offset: 1, timestampMs: 1005, key: null, value: Buffer.from('hi'), headers: [{ key: 'h', value: Buffer.from('x') }] },
    ]);
    await expect(validateBatch(GOLDEN, { maxBatchBytes: 83, deep: true })).resolves.toMatchObject({ sizeBytes: 83, crc: 0xa9d9b08f });
  });
});
