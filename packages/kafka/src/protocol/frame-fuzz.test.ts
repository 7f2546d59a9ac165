import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { RivuletError } from '@rivulet/common';
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from './frame-decoder.js';
import { decodeRequestFrame } from './request-codec.js';

const FRAME_BYTES_MAX = 1024 * 1024;
const fixturesDir = join(import.meta.dirname, '..', '..', 'fixtures');
const goldenFrames = readdirSync(fixturesDir)
  .filter((f) => f.endsWith('.bin'))
  .map((f) => readFileSync(join(fixturesDir, f)));

/** Feeds bytes through the frame and request decoders; only typed RivuletErrors may escape. */
function decodeAll(bytes: Buffer): number {
  const decoder = new FrameDecoder(FRAME_BYTES_MAX);
  decoder.push(bytes);
  let decodedCount = 0;
  try {
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
      decodeRequestFrame(frame);
      decodedCount++;
    }
  } catch (err) {
    if (!(err instanceof RivuletError)) throw err;
  }
  return decodedCount;
}

describe('frame decoder', () => {
  it('refuses a 2 GB length prefix as soon as the 4 size bytes arrive, before allocating', () => {
    const decoder = new FrameDecoder(FRAME_BYTES_MAX);
    decoder.push(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    expect(() => decoder.next()).toThrow(RivuletError);
    expect(decoder.pendingBytes).toBe(4);
  });

  it('refuses negative and tiny frame sizes', () => {
    for (const size of [-1, 0, 3]) {
      const decoder = new FrameDecoder(FRAME_BYTES_MAX);
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(size);
      decoder.push(prefix);
      expect(() => decoder.next()).toThrow(/frame size/);
    }
  });

  it('gives the same frames whatever way the stream is split, down to single bytes', () => {
    const stream = Buffer.concat(goldenFrames);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }), (cuts) => {
        const decoder = new FrameDecoder(FRAME_BYTES_MAX);
        const frames: Buffer[] = [];
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const step = i === 0 ? 1 : cuts[i % cuts.length]!;
          decoder.push(stream.subarray(at, at + step));
          at += step;
          for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) frames.push(frame);
        }
        expect(frames.map((f) => f.length + 4)).toEqual(goldenFrames.map((f) => f.length));
      }),
      { numRuns: 50 },
    );
  });
});

describe('request decoder under fuzzing', () => {
  it('survives random bytes: no crash, no hang', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        decodeAll(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('survives random frames with a valid size and a known API key and version', () => {
    const frameArbitrary = fc
      .tuple(fc.constantFrom(0, 1, 2, 3, 10, 18, 19, 20, 21, 23, 32, 60), fc.integer({ min: 0, max: 13 }), fc.uint8Array({ minLength: 4, maxLength: 300 }))
      .map(([apiKey, version, rest]) => {
        const frame = Buffer.alloc(8 + rest.length);
        frame.writeInt32BE(4 + rest.length, 0);
        frame.writeInt16BE(apiKey, 4);
        frame.writeInt16BE(version, 6);
        Buffer.from(rest).copy(frame, 8);
        return frame;
      });
    fc.assert(fc.property(frameArbitrary, (frame) => void decodeAll(frame)), { numRuns: 3000 });
  });

  it('survives mutated and truncated golden frames from real clients', () => {
    const mutation = fc.tuple(
      fc.integer({ min: 0, max: goldenFrames.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat()),
    );
    fc.assert(
      fc.property(mutation, ([index, flips, cut]) => {
        const frame = Buffer.from(goldenFrames[index]!);
        for (const [at, byte] of flips) frame[4 + (at % (frame.length - 4))] = byte;
        const truncated = cut === null ? frame : frame.subarray(0, 4 + (cut % (frame.length - 4)));
        if (cut !== null) truncated.writeInt32BE(truncated.length - 4, 0);
        decodeAll(truncated);
      }),
      { numRuns: 3000 },
    );
  });

  it('decodes every golden frame unmutated', () => {
    for (const frame of goldenFrames) expect(decodeAll(frame)).toBe(1);
  });
});
