import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteReader, readVarint, readVarlong, varintSizeBytes, varlongSizeBytes, writeVarint, writeVarlong } from './varint.js';
import { expectRivuletError } from './test-support.js';

function encodeVarint(value: number): Buffer {
  const buf = Buffer.alloc(5);
  return buf.subarray(0, writeVarint(buf, 0, value));
}

function encodeVarlong(value: number): Buffer {
  const buf = Buffer.alloc(10);
  return buf.subarray(0, writeVarlong(buf, 0, value));
}

describe('varint (zigzag int32)', () => {
  it.each([
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-64, '7f'],
    [63, '7e'],
    [64, '8001'],
    [300, 'd804'],
    [2147483647, 'feffffff0f'],
    [-2147483648, 'ffffffff0f'],
  ])('encodes %i as %s, the bytes Kafka writes', (value, hex) => {
    expect(encodeVarint(value).toString('hex')).toBe(hex);
    expect(varintSizeBytes(value)).toBe(hex.length / 2);
    expect(readVarint(Buffer.from(hex, 'hex'))).toEqual({ value, sizeBytes: hex.length / 2 });
  });

  it('round-trips every int32 and agrees with its size function', () => {
    fc.assert(
      fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (value) => {
        const encoded = encodeVarint(value);
        expect(encoded.length).toBe(varintSizeBytes(value));
        expect(readVarint(encoded)).toEqual({ value, sizeBytes: encoded.length });
      }),
    );
  });

  it('rejects a truncated varint with CORRUPT_MESSAGE', async () => {
    await expectRivuletError(() => readVarint(Buffer.from('80', 'hex')), 'CORRUPT_MESSAGE');
    await expectRivuletError(() => readVarint(Buffer.alloc(0)), 'CORRUPT_MESSAGE');
  });

  it('rejects a varint longer than 5 bytes or overflowing 32 bits', async () => {
    await expectRivuletError(() => readVarint(Buffer.from('ffffffffff01', 'hex')), 'CORRUPT_MESSAGE');
    await expectRivuletError(() => readVarint(Buffer.from('ffffffff1f', 'hex')), 'CORRUPT_MESSAGE');
  });

  it('never reads past the end of its range', async () => {
    // The byte after the range would complete the varint; the reader must not look at it.
    const reader = new ByteReader(Buffer.from('8001', 'hex'), 0, 1, 'INVALID_RECORD');
    await expectRivuletError(() => reader.readVarint(), 'INVALID_RECORD');
  });
});

describe('varlong (zigzag int64 as a safe integer)', () => {
  it.each([
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [1_700_000_000_000, '80a0abfef962'],
    [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f'],
    [Number.MIN_SAFE_INTEGER, 'fdffffffffffff1f'],
  ])('encodes %i as %s', (value, hex) => {
    expect(encodeVarlong(value).toString('hex')).toBe(hex);
    expect(varlongSizeBytes(value)).toBe(hex.length / 2);
    expect(readVarlong(Buffer.from(hex, 'hex'))).toEqual({ value, sizeBytes: hex.length / 2 });
  });

  it('matches BigInt zigzag arithmetic for every safe integer', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (value) => {
        const encoded = encodeVarlong(value);
        let zigzag = BigInt(value) >= 0n ? BigInt(value) * 2n : -BigInt(value) * 2n - 1n;
        const expected: number[] = [];
        while (zigzag >= 0x80n) {
          expected.push(Number(zigzag & 0x7fn) | 0x80);
          zigzag >>= 7n;
        }
        expected.push(Number(zigzag));
        expect([...encoded]).toEqual(expected);
        expect(varlongSizeBytes(value)).toBe(encoded.length);
        expect(readVarlong(encoded).value).toBe(value);
      }),
    );
  });

  it('rejects values outside the safe range, over-long encodings and truncation', async () => {
    // 2^53 zigzagged: the smallest positive value that is not safe.
    await expectRivuletError(() => readVarlong(Buffer.from('8080808080808020', 'hex')), 'CORRUPT_MESSAGE');
    await expectRivuletError(() => readVarlong(Buffer.from('ffffffffffffffffff01', 'hex')), 'CORRUPT_MESSAGE');
    await expectRivuletError(() => readVarlong(Buffer.from('ffffffffffffffffffff01', 'hex')), 'CORRUPT_MESSAGE');
    await expectRivuletError(() => readVarlong(Buffer.from('ff', 'hex')), 'CORRUPT_MESSAGE');
  });

  it('rejects a nullable-bytes length of 2^31 - 1 before touching memory', async () => {
    const reader = new ByteReader(encodeVarint(0x7fffffff), 0, 5, 'INVALID_RECORD');
    await expectRivuletError(() => reader.readNullableBytes('value'), 'INVALID_RECORD');
  });
});
