/**
 * Big-endian reading and writing for the package's two binary formats: our own
 * __consumer_offsets records and Kafka's ConsumerProtocol. The reader never reads past its
 * bytes: every read checks what is left first and throws a MalformedBytesError instead.
 */
import { RivuletError, assert } from '@rivulet/common';

/** Bytes that do not decode as the format they claim to be: a corrupt record, or a client's garbage. */
export class MalformedBytesError extends RivuletError {
  override readonly name = 'MalformedBytesError';
  constructor(format: string, problem: string) {
    super('INVALID_RECORD', `malformed ${format}: ${problem}`);
  }
}

const INT16_MAX = 0x7fff;
const INT32_MAX = 0x7fffffff;
const TWO_POW_32 = 0x1_0000_0000;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** The length of `value` in UTF-8 (a lone surrogate counts as U+FFFD, as TextEncoder writes it), without encoding it. */
export function utf8ByteLength(value: string): number {
  let byteLength = 0;
  for (let index = 0; index < value.length; index++) {
    const unit = value.charCodeAt(index);
    if (unit < 0x80) byteLength += 1;
    else if (unit < 0x800) byteLength += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < value.length && (value.charCodeAt(index + 1) & 0xfc00) === 0xdc00) {
      byteLength += 4;
      index++;
    } else byteLength += 3;
  }
  return byteLength;
}

/*
 * Allocation. A new ArrayBuffer costs far more than a view of an existing one (a backing
 * store, and the garbage collector's tracking of it), and the coordinator encodes a key and a
 * value per committed offset. So, as Node's Buffer pool does, writers work in one reused
 * scratch buffer and finished bytes are carved from shared slabs: a finished record is a view
 * that keeps its slab alive, like any pooled Buffer.
 */
const SLAB_BYTES = 64 * 1024;
/** Larger results get a buffer of their own rather than a slab's tail. */
const SLAB_ITEM_MAX_BYTES = 4096;
/** A scratch buffer grown beyond this is not kept for the next writer. */
const SCRATCH_KEPT_MAX_BYTES = 1024 * 1024;
const NO_BYTES = new Uint8Array(0);

let slab = new Uint8Array(SLAB_BYTES);
let slabUsedBytes = 0;
/** The scratch buffer no writer is using (undefined while one is, e.g. writers nested in one another). */
let idleScratch: Uint8Array | undefined = new Uint8Array(SLAB_ITEM_MAX_BYTES);

/** `bytes` copied into a buffer nothing else writes to. */
function carve(bytes: Uint8Array): Uint8Array {
  const byteLength = bytes.byteLength;
  if (byteLength > SLAB_ITEM_MAX_BYTES) return bytes.slice();
  if (slabUsedBytes + byteLength > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsedBytes = 0;
  }
  const carved = slab.subarray(slabUsedBytes, slabUsedBytes + byteLength);
  carved.set(bytes);
  // Keep the next start 8-byte aligned, as Node's pool does.
  slabUsedBytes += (byteLength + 7) & ~7;
  return carved;
}

/** Writes one value; `finish` hands out the bytes and ends the writer. */
export class ByteWriter {
  private buffer: Uint8Array;
  private length = 0;

  constructor() {
    // Room for a typical record (a group id, a topic, a few numbers) without growing.
    this.buffer = idleScratch ?? new Uint8Array(256);
    idleScratch = undefined;
  }

  int16(value: number): this {
    assert(Number.isInteger(value) && value >= -0x8000 && value <= INT16_MAX, `int16 out of range: ${value}`);
    const start = this.reserve(2);
    this.buffer[start] = (value >> 8) & 0xff;
    this.buffer[start + 1] = value & 0xff;
    return this;
  }

  int32(value: number): this {
    assert(Number.isInteger(value) && value >= -0x80000000 && value <= INT32_MAX, `int32 out of range: ${value}`);
    this.writeUint32(this.reserve(4), value >>> 0);
    return this;
  }

  int64(value: number): this {
    assert(Number.isSafeInteger(value), `int64 must be a safe integer: ${value}`);
    // Two's complement from a safe integer without BigInt: value = high * 2^32 + low, 0 <= low < 2^32.
    const high = Math.floor(value / TWO_POW_32);
    const start = this.reserve(8);
    this.writeUint32(start, high >>> 0);
    this.writeUint32(start + 4, value - high * TWO_POW_32);
    return this;
  }

  /** A string with an int16 byte-length prefix (Kafka's STRING); null is written as length -1. */
  string16(value: string | null): this {
    return this.string(value, 16);
  }

  /** A string with an int32 byte-length prefix; null is written as length -1. */
  string32(value: string | null): this {
    return this.string(value, 32);
  }

  /** Bytes with an int32 length prefix (Kafka's BYTES); null is written as length -1. */
  bytes32(value: Uint8Array | null): this {
    if (value === null) return this.int32(-1);
    this.int32(value.byteLength);
    const start = this.reserve(value.byteLength);
    this.buffer.set(value, start);
    return this;
  }

  /** The bytes written, in a buffer nothing else writes to. The writer takes no more writes. */
  finish(): Uint8Array {
    assert(this.buffer !== NO_BYTES, 'a ByteWriter is finished once');
    const finished = carve(this.buffer.subarray(0, this.length));
    // A writer that threw halfway never gives its buffer back; the next finished one takes its place.
    if (idleScratch === undefined && this.buffer.byteLength <= SCRATCH_KEPT_MAX_BYTES) idleScratch = this.buffer;
    this.buffer = NO_BYTES;
    return finished;
  }

  private string(value: string | null, prefixBits: 16 | 32): this {
    if (value === null) return prefixBits === 16 ? this.int16(-1) : this.int32(-1);
    const prefixBytes = prefixBits / 8;
    // Encode straight into the buffer: room for the longest UTF-8 form, then the length goes in front.
    const start = this.reserve(prefixBytes + value.length * 3);
    const { written } = utf8Encoder.encodeInto(value, this.buffer.subarray(start + prefixBytes));
    assert(written <= (prefixBits === 16 ? INT16_MAX : INT32_MAX), `string of ${written} bytes does not fit an int${prefixBits} length`);
    this.length = start + prefixBytes + written;
    if (prefixBits === 16) {
      this.buffer[start] = written >> 8;
      this.buffer[start + 1] = written & 0xff;
    } else {
      this.writeUint32(start, written);
    }
    return this;
  }

  private writeUint32(at: number, value: number): void {
    this.buffer[at] = value >>> 24;
    this.buffer[at + 1] = (value >>> 16) & 0xff;
    this.buffer[at + 2] = (value >>> 8) & 0xff;
    this.buffer[at + 3] = value & 0xff;
  }

  /** Makes room for `byteCount` more bytes and returns where they start; it may replace `buffer`. */
  private reserve(byteCount: number): number {
    const start = this.length;
    if (start + byteCount > this.buffer.byteLength) {
      assert(this.buffer !== NO_BYTES, 'a finished ByteWriter takes no more writes');
      const grown = new Uint8Array(Math.max(this.buffer.byteLength * 2, start + byteCount));
      grown.set(this.buffer.subarray(0, start));
      this.buffer = grown;
    }
    this.length = start + byteCount;
    return start;
  }
}

export class ByteReader {
  private readonly view: DataView;
  private position = 0;

  constructor(
    private readonly bytes: Uint8Array,
    /** Names the format in errors, e.g. "offset-commit value". */
    private readonly format: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remainingBytes(): number {
    return this.bytes.byteLength - this.position;
  }

  int16(): number {
    return this.view.getInt16(this.take(2, 'an int16'));
  }

  int32(): number {
    return this.view.getInt32(this.take(4, 'an int32'));
  }

  int64(): number {
    const value = this.view.getBigInt64(this.take(8, 'an int64'));
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw this.malformed(`int64 ${value} is outside the safe integer range`);
    }
    return Number(value);
  }

  string16(): string | null {
    return this.string(this.int16());
  }

  string32(): string | null {
    return this.string(this.int32());
  }

  /** A string that must be present: a -1 length is malformed. */
  requiredString16(field: string): string {
    return this.required(this.string16(), field);
  }

  requiredString32(field: string): string {
    return this.required(this.string32(), field);
  }

  bytes32(): Uint8Array | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < 0) throw this.malformed(`negative byte length ${length}`);
    const start = this.take(length, `${length} bytes`);
    return this.bytes.slice(start, start + length);
  }

  requiredBytes32(field: string): Uint8Array {
    return this.required(this.bytes32(), field);
  }

  /**
   * An int32 element count for an array whose elements take at least `minElementBytes`
   * each; a count the remaining bytes cannot hold is malformed (so no huge allocation).
   */
  arrayLength(field: string, minElementBytes: number): number {
    const count = this.int32();
    if (count < 0) throw this.malformed(`${field} has a negative element count ${count}`);
    if (count * minElementBytes > this.remainingBytes) throw this.malformed(`${field} claims ${count} elements but only ${this.remainingBytes} bytes are left`);
    return count;
  }

  /** For formats whose version is fully known: nothing may follow the last field. */
  expectEnd(): void {
    if (this.remainingBytes !== 0) throw this.malformed(`${this.remainingBytes} unexpected bytes after the last field`);
  }

  malformed(problem: string): MalformedBytesError {
    return new MalformedBytesError(this.format, problem);
  }

  private string(length: number): string | null {
    if (length === -1) return null;
    if (length < 0) throw this.malformed(`negative string length ${length}`);
    const start = this.take(length, `a string of ${length} bytes`);
    try {
      return utf8Decoder.decode(this.bytes.subarray(start, start + length));
    } catch {
      throw this.malformed('a string is not valid UTF-8');
    }
  }

  private required<T>(value: T | null, field: string): T {
    if (value === null) throw this.malformed(`${field} is null`);
    return value;
  }

  /** Advances past `byteCount` bytes and returns where they start, or throws if they are not there. */
  private take(byteCount: number, what: string): number {
    if (byteCount > this.remainingBytes) throw this.malformed(`needs ${what} at byte ${this.position} but only ${this.remainingBytes} bytes are left`);
    const start = this.position;
    this.position += byteCount;
    return start;
  }
}
