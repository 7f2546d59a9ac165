import { describe, expect, it } from 'vitest';
import { SeededRandom } from '@rivulet/common';
import type { CompressionName } from './batch-header.js';
import { HeaderField } from './batch-header.js';
import { crc32c } from './crc32c.js';
import { decodeRecordBatch, decodeRecordBatchSync, decodeRecordBatches } from './decode.js';
import { encodeRecordBatch } from './encode.js';
import { validateBatch, validateBatchSync, validateProducedBatches } from './validate.js';
import { expectOnlyRivuletError } from './test-support.js';

/*
 * Feeds random and mutated batches to every entry point and requires that each either
 * succeeds or throws a RivuletError: never a RangeError from a Buffer read, an AssertionError,
 * a hang or a runaway allocation. Half the mutations recompute the CRC so that the mutated
 * bytes reach the record walk and the decompressors instead of stopping at the checksum.
 * The seed is fixed; FUZZ_SEED overrides it to explore further.
 */
const SEED = Number(process.env['FUZZ_SEED'] ?? 20240601);
const CODECS: CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const OPTIONS = { maxBatchBytes: 1 << 20, deep: true, uncompressedBytesMax: 4 << 20 };

async function seedBatch(random: SeededRandom, codec: CompressionName): Promise<Buffer> {
  const count = 1 + random.nextInt(6);
  return encodeRecordBatch({
    compression: codec,
    records: Array.from({ length: count }, (_, index) => ({
      key: random.nextInt(3) === 0 ? null : Buffer.from(`k${index}`),
      value: random.nextInt(4) === 0 ? null : Buffer.alloc(random.nextInt(40), index),
      headers: random.nextInt(2) === 0 ? [] : [{ key: 'h', value: Buffer.from([index]) }],
      timestampMs: 1_000_000 + random.nextInt(1000),
    })),
  });
}

function mutate(random: SeededRandom, original: Buffer): Buffer {
  let buf = Buffer.from(original);
  switch (random.nextInt(5)) {
    case 0: // flip bits, anywhere
      for (let flips = 1 + random.nextInt(4); flips > 0; flips--) buf[random.nextInt(buf.length)]! ^= 1 << random.nextInt(8);
      break;
    case 1: // flip bits in the records section only, where the deep walk looks
      for (let flips = 1 + random.nextInt(4); flips > 0; flips--) buf[61 + random.nextInt(buf.length - 61)]! ^= 1 << random.nextInt(8);
      break;
    case 2: // truncate
      buf = buf.subarray(0, random.nextInt(buf.length));
      break;
    case 3: // extend with random bytes, sometimes claiming them in batchLength
      buf = Buffer.concat([buf, Buffer.from(Array.from({ length: 1 + random.nextInt(30) }, () => random.nextInt(256)))]);
      if (random.nextInt(2) === 0) buf.writeInt32BE(buf.length - 12, HeaderField.batchLength);
      break;
    default: // overwrite a random header field with random bytes
      for (let at = random.nextInt(61), end = Math.min(buf.length, at + 1 + random.nextInt(8)); at < end; at++) buf[at] = random.nextInt(256);
  }
  if (random.nextInt(2) === 0 && buf.length >= 61) buf.writeUInt32BE(crc32c(buf.subarray(21, Math.min(buf.length, Math.max(21, buf.readInt32BE(8) + 12)))), HeaderField.crc);
  return buf;
}

async function exerciseEveryEntryPoint(buf: Buffer): Promise<void> {
  await expectOnlyRivuletError(() => validateBatch(buf, OPTIONS));
  await expectOnlyRivuletError(() => validateBatchSync(buf, { ...OPTIONS, deep: false }));
  await expectOnlyRivuletError(() => validateProducedBatches(buf, OPTIONS));
  await expectOnlyRivuletError(() => decodeRecordBatch(buf, OPTIONS));
  await expectOnlyRivuletError(() => decodeRecordBatches(buf, OPTIONS));
  await expectOnlyRivuletError(() => decodeRecordBatchSync(buf, OPTIONS));
}

describe(`fuzz (seed ${SEED})`, () => {
  it.each(CODECS)('mutated %s batches throw only RivuletError', async (codec) => {
    const random = new SeededRandom(SEED + CODECS.indexOf(codec));
    let accepted = 0;
    for (let round = 0; round < 20; round++) {
      const original = await seedBatch(random, codec);
      await expect(validateBatch(original, OPTIONS)).resolves.toBeDefined();
      for (let mutation = 0; mutation < 40; mutation++) {
        const mutated = mutate(random, original);
        await exerciseEveryEntryPoint(mutated);
        accepted += (await validateBatch(mutated, OPTIONS).then(() => 1, () => 0));
      }
    }
    // Most mutations must be caught; a few (e.g. a flipped bit in baseOffset) are harmless.
    expect(accepted).toBeLessThan(400);
  });

  it('random bytes throw only RivuletError', async () => {
    const random = new SeededRandom(SEED);
    for (let round = 0; round < 500; round++) {
      const buf = Buffer.from(Array.from({ length: random.nextInt(200) }, () => random.nextInt(256)));
      if (buf.length > 16 && random.nextInt(2) === 0) buf[16] = 2; // get past the magic check
      if (buf.length > 12 && random.nextInt(2) === 0) buf.writeInt32BE(buf.length - 12, 8);
      await exerciseEveryEntryPoint(buf);
    }
  });
});
