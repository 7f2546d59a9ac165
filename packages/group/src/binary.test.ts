import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, utf8ByteLength } from './binary.js';

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

  it('hands out bytes that later writers never overwrite, with writers nested, large or spanning slabs', () => {
    const expected = (values: readonly number[]): number[] => values.flatMap((v) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 0x7fffffff }), { maxLength: 1500 }), { minLength: 1, maxLength: 60 }), (valueLists) => {
        const finished: Uint8Array[] = [];
        // Every other writer is opened before the previous one finishes (nested use of the scratch buffer).
        let open: { writer: ByteWriter; values: readonly number[] } | undefined;
        for (const values of valueLists) {
          const writer = new ByteWriter();
          for (const v of values) writer.int32(v);
          if (open === undefined) {
            open = { writer, values };
          } else {
            finished.push(writer.finish(), open.writer.finish());
            open = undefined;
          }
        }
        if (open !== undefined) finished.push(open.writer.finish());
        const order: (readonly number[])[] = [];
        for (let i = 0; i + 1 < valueLists.length; i += 2) order.push(valueLists[i + 1]!, valueLists[i]!);
        if (valueLists.length % 2 === 1) order.push(valueLists[valueLists.length - 1]!);
        expect(finished.map((bytes) => [...bytes])).toEqual(order.map(expected));
      }),
      { numRuns: 50 },
    );
  });

  it('refuses writes and a second finish after finish', () => {
    const writer = new ByteWriter().int32(1);
    writer.finish();
    expect(() => writer.finish()).toThrow(/finished once/);
    expect(() => writer.int32(2)).toThrow(/no more writes/);
  });

  it('counts UTF-8 bytes as TextEncoder writes them, lone surrogates included', () => {
    const encoder = new TextEncoder();
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (text) => {
        expect(utf8ByteLength(text)).toBe(encoder.encode(text).byteLength);
      }),
    );
    expect([utf8ByteLength('a\u00e9\u20ac\u{1f600}'), utf8ByteLength('\ud800'), utf8ByteLength('\udc00\ud800x')]).toEqual([10, 3, 7]);
  });
});

