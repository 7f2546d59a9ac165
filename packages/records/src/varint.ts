import { RivuletError, assert } from '@rivulet/common';
import type { ErrorName } from '@rivulet/common';

/*
 * Kafka's variable-length integers (the protobuf scheme): a value is zigzag-encoded so small
 * negative numbers stay short, then written 7 bits at a time, least significant group first,
 * with the high bit of each byte set when another byte follows.
 *
 *   varint   zigzag(int32)  1..5 bytes   zigzag(n) = (n << 1) ^ (n >> 31)
 *   varlong  zigzag(int64)  1..10 bytes  here limited to safe integers (|n| <= 2^53 - 1)
 *
 * JavaScript numbers are doubles, so int64 values travel as safe integers. The long codec
 * therefore never uses 32-bit bitwise operators on the whole value, and never forms a zigzag
 * value above 2^53 (not every such odd number is a double): the writer splits off the sign
 * bit first, the reader keeps the low 28 bits apart from the rest. Every intermediate is exact.
 */

export const VARINT_BYTES_MAX = 5;
export const VARLONG_BYTES_MAX = 10;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const TWO_POW_27 = 2 ** 27;

/** Number of bytes `writeVarint` uses for `value` (an int32). */
export function varintSizeBytes(value: number): number {
  const zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  if (zigzag < 0x80) return 1;
  if (zigzag < 0x4000) return 2;
  if (zigzag < 0x200000) return 3;
  if (zigzag < 0x10000000) return 4;
  return 5;
}

/**
 * zigzag(n) = 2m + sign with m = n (n >= 0) or -n - 1 (n < 0). For |n| near 2^53, 2m + 1 is
 * not representable as a double, so the long codec never forms it: the first 7-bit group is
 * (m mod 64) * 2 + sign and the later groups come from floor(m / 64), all exact.
 */
function zigzagMagnitude(value: number): number {
  return value >= 0 ? value : -value - 1;
}

/** Number of bytes `writeVarlong` uses for `value` (a safe integer). */
export function varlongSizeBytes(value: number): number {
  let rest = Math.floor(zigzagMagnitude(value) / 64);
  let sizeBytes = 1;
  while (rest > 0) {
    rest = Math.floor(rest / 0x80);
    sizeBytes += 1;
  }
  return sizeBytes;
}

/** Writes `value` (an int32) as a zigzag varint at `at`; returns the position after it. */
export function writeVarint(buf: Buffer, at: number, value: number): number {
  assert(Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX, `writeVarint: ${value} is not an int32`);
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let pos = at;
  while (zigzag >= 0x80) {
    buf[pos++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  buf[pos++] = zigzag;
  return pos;
}

/** Writes `value` (a safe integer) as a zigzag varlong at `at`; returns the position after it. */
export function writeVarlong(buf: Buffer, at: number, value: number): number {
  assert(Number.isSafeInteger(value), `writeVarlong: ${value} is not a safe integer`);
  if (value >= -0x40000000 && value < 0x40000000) return writeVarint(buf, at, value);
  const magnitude = zigzagMagnitude(value);
  let group = (magnitude % 64) * 2 + (value < 0 ? 1 : 0);
  let rest = Math.floor(magnitude / 64);
  let pos = at;
  while (rest > 0) {
    buf[pos++] = group | 0x80;
    group = rest % 0x80;
    rest = Math.floor(rest / 0x80);
  }
  buf[pos++] = group;
  return pos;
}

/**
 * A bounded cursor over `buf[pos, end)`. Every read checks the bound first, so malformed input
 * ends in a RivuletError carrying `errorName` instead of a RangeError or a read past the end.
 * One reader serves a whole batch, so decoding does not allocate per field.
 */
export class ByteReader {
  pos: number;
  end: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    end: number,
    readonly errorName: ErrorName = 'CORRUPT_MESSAGE',
  ) {
    assert(start >= 0 && start <= end && end <= buf.length, 'ByteReader: range outside the buffer');
    this.pos = start;
    this.end = end;
  }

  get remainingBytes(): number {
    return this.end - this.pos;
  }

  fail(message: string): never {
    throw new RivuletError(this.errorName, message);
  }

  readInt8(): number {
    if (this.pos >= this.end) this.fail(`truncated: int8 needed at byte ${this.pos}, range ends at ${this.end}`);
    return this.buf.readInt8(this.pos++);
  }

  /* varint: up to 5 bytes; the fifth may carry only the top 4 bits of the 32-bit zigzag value. */
  readVarint(): number {
    const { buf, end } = this;
    let pos = this.pos;
    let zigzag = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= end) this.fail(`truncated varint at byte ${pos}`);
      const byte = buf[pos++]!;
      if (shift === 28 && byte > 0x0f) this.fail(`varint at byte ${this.pos} overflows 32 bits`);
      zigzag |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.pos = pos;
        return (zigzag >>> 1) ^ -(zigzag & 1);
      }
    }
    return this.fail(`varint at byte ${this.pos} is longer than ${VARINT_BYTES_MAX} bytes`);
  }

  /* varlong: up to 10 bytes; the decoded value must be a safe integer. */
  readVarlong(): number {
    const { buf, end } = this;
    let pos = this.pos;
    let low = 0;
    let high = 0;
    for (let index = 0; index < VARLONG_BYTES_MAX; index++) {
      if (pos >= end) this.fail(`truncated varlong at byte ${pos}`);
      const byte = buf[pos++]!;
      // Bits 0..27 collect in `low`; later groups collect in `high`, scaled by 2^28 at the end.
      if (index < 4) low |= (byte & 0x7f) << (7 * index);
      else high += (byte & 0x7f) * 2 ** (7 * (index - 4));
      if (byte < 0x80) {
        this.pos = pos;
        return this.unzigzagLong(low, high);
      }
    }
    return this.fail(`varlong at byte ${this.pos} is longer than ${VARLONG_BYTES_MAX} bytes`);
  }

  private unzigzagLong(low: number, high: number): number {
    // zigzag = high * 2^28 + low; the magnitude is zigzag / 2, which is exact below 2^53.
    const half = high * TWO_POW_27 + (low >>> 1);
    const value = (low & 1) === 0 ? half : -half - 1;
    if (!Number.isSafeInteger(value)) this.fail(`varlong ending at byte ${this.pos} is outside the safe integer range`);
    return value;
  }

  /**
   * Reads a varint length followed by that many bytes and returns them as a view (no copy).
   * -1 means null. Any other negative length, or one past the range, is rejected before any
   * allocation, so a hostile length of 2^31 costs nothing.
   */
  readNullableBytes(what: string): Buffer | null {
    const lengthBytes = this.readVarint();
    if (lengthBytes === -1) return null;
    return this.readBytesOfLength(lengthBytes, what);
  }

  /** Skips nullable bytes; returns false when they were null. */
  skipNullableBytes(what: string): boolean {
    const lengthBytes = this.readVarint();
    if (lengthBytes === -1) return false;
    this.checkLength(lengthBytes, what);
    this.pos += lengthBytes;
    return true;
  }

  skipBytesOfLength(lengthBytes: number, what: string): void {
    this.checkLength(lengthBytes, what);
    this.pos += lengthBytes;
  }

  readBytesOfLength(lengthBytes: number, what: string): Buffer {
    this.checkLength(lengthBytes, what);
    const start = this.pos;
    this.pos += lengthBytes;
    return this.buf.subarray(start, this.pos);
  }

  private checkLength(lengthBytes: number, what: string): void {
    if (lengthBytes < 0) this.fail(`${what} has invalid length ${lengthBytes}`);
    if (lengthBytes > this.end - this.pos) {
      this.fail(`${what} length ${lengthBytes} exceeds the ${this.end - this.pos} bytes left`);
    }
  }
}

/** Decodes one varint at `at`; convenience for callers outside a batch walk. */
export function readVarint(buf: Buffer, at = 0): { value: number; sizeBytes: number } {
  const reader = new ByteReader(buf, Math.min(at, buf.length), buf.length);
  const value = reader.readVarint();
  return { value, sizeBytes: reader.pos - at };
}

/** Decodes one varlong at `at`; convenience for callers outside a batch walk. */
export function readVarlong(buf: Buffer, at = 0): { value: number; sizeBytes: number } {
  const reader = new ByteReader(buf, Math.min(at, buf.length), buf.length);
  const value = reader.readVarlong();
  return { value, sizeBytes: reader.pos - at };
}
