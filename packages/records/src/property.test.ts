import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { CompressionName } from './batch-header.js';
import { decodeRecordBatch } from './decode.js';
import { encodeRecordBatch } from './encode.js';
import { validateBatch } from './validate.js';

const bytesOrNull = fc.option(fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)), { nil: null });
const recordArbitrary = fc.record({
  key: bytesOrNull,
  value: bytesOrNull,
  headers: fc.array(fc.record({ key: fc.string({ unit: 'grapheme', maxLength: 12 }), value: bytesOrNull }), { maxLength: 4 }),
  timestampMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
});
const batchArbitrary = fc.record({
  records: fc.array(recordArbitrary, { minLength: 1, maxLength: 30 }),
  compression: fc.constantFrom<CompressionName>('none', 'gzip', 'snappy', 'lz4', 'zstd'),
  baseOffset: fc.integer({ min: 0, max: 2 ** 52 }),
  producerId: fc.integer({ min: -1, max: 2 ** 52 }),
  isTransactional: fc.boolean(),
});

describe('round-trip property', () => {
  it('decode(encode(batch)) returns every record unchanged, and the batch validates deeply', async () => {
    await fc.assert(
      fc.asyncProperty(batchArbitrary, async (input) => {
        const encoded = await encodeRecordBatch(input);
        await validateBatch(encoded, { maxBatchBytes: 1 << 20, deep: true });
        const decoded = await decodeRecordBatch(encoded);
        expect(decoded.header).toMatchObject({ baseOffset: input.baseOffset, producerId: input.producerId, isTransactional: input.isTransactional });
        expect(decoded.header.maxTimestamp).toBe(Math.max(...input.records.map((record) => record.timestampMs)));
        expect(decoded.records).toEqual(
          input.records.map((record, index) => ({ ...record, offset: input.baseOffset + index })),
        );
      }),
      { numRuns: 300 },
    );
  });
});
