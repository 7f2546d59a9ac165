import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter } from './binary.js';

describe('ByteWriter and ByteReader', () => {
  it('round-trip every safe int64, int32 and int16, big-endian', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.integer({ min: -0x8000, max: 0x7fff }), (long, int, short) => {
        const bytes = new ByteWriter().int64(long).int32(int).int16(short).finish();
        expect(bytes.byteLength).toBe(14);
        const reader = new ByteReader(bytes, 'test');
        expect([reader.int64(), reader.int32(), reader.int16()]).toEqual([long, int, short]);
      }),
    );
    expect([...new ByteWriter().int64(-2).finish()]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
    expect([...new ByteWriter().int64(0x1_0000_0001).finish()]).toEqual([0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it('round-trips strings of any UTF-8 length, with the byte length (not the UTF-16 length) in front', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.option(fc.string({ unit: 'binary', maxLength: 50 })), (text, maybe) => {
        const bytes = new ByteWriter().string32(text).string16(maybe).finish();
        const reader = new ByteReader(bytes, 'test');
        expect(reader.string32()).toBe(text);
        expect(reader.string16()).toBe(maybe);
      }),
    );
    expect([...new ByteWriter().string16('é😀').finish()]).toEqual([0, 6, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]);
  });
});
