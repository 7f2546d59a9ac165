import { assert } from '@rivulet/common';

const CHUNK_BYTES = 16 * 1024;
/** Raw buffers at least this large are passed by reference instead of copied. */
const BY_REFERENCE_BYTES_MIN = 512;

/*
 * Builds one response as a list of chunks. Small fields go into a scratch chunk; large raw
 * buffers (record batches) are appended by reference, so a Fetch response never copies the
 * records it returns. The caller writes the chunks to the socket in order.
 *
 * Encodings mirror WireReader: big-endian fixed-width integers, unsigned varints for compact
 * lengths and tags, int16/int32 or uvarint(length + 1) prefixes with -1 / 0 for null.
 */
export class WireWriter {
  private readonly chunks: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(CHUNK_BYTES);
  private position = 0;
  private flushedBytes = 0;

  get sizeBytes(): number {
    return this.flushedBytes + this.position;
  }

  private ensure(sizeBytes: number): void {
    if (this.scratch.length - this.position >= sizeBytes) return;
    this.flushScratch();
    this.scratch = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, sizeBytes));
  }

  private flushScratch(): void {
    if (this.position === 0) return;
    this.chunks.push(this.scratch.subarray(0, this.position));
    this.flushedBytes += this.position;
    this.scratch = this.scratch.subarray(this.position);
    this.position = 0;
  }

  int8(value: number): void {
    this.ensure(1);
    this.position = this.scratch.writeInt8(value, this.position);
  }

  int16(value: number): void {
    this.ensure(2);
    this.position = this.scratch.writeInt16BE(value, this.position);
  }

  uint16(value: number): void {
    this.ensure(2);
    this.position = this.scratch.writeUInt16BE(value, this.position);
  }

  int32(value: number): void {
    this.ensure(4);
    this.position = this.scratch.writeInt32BE(value, this.position);
  }

  int64(value: number): void {
    assert(Number.isSafeInteger(value), `int64 field value ${value} is not a safe integer`);
    this.ensure(8);
    const high = Math.floor(value / 0x1_0000_0000);
    this.scratch.writeInt32BE(high, this.position);
    this.scratch.writeUInt32BE(value - high * 0x1_0000_0000, this.position + 4);
    this.position += 8;
  }

  float64(value: number): void {
    this.ensure(8);
    this.position = this.scratch.writeDoubleBE(value, this.position);
  }

  bool(value: boolean): void {
    this.int8(value ? 1 : 0);
  }

  uvarint(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff, `uvarint ${value} out of range`);
    this.ensure(5);
    let rest = value;
    while (rest >= 0x80) {
      this.scratch[this.position++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.scratch[this.position++] = rest;
  }

  raw(bytes: Buffer): void {
    if (bytes.length >= BY_REFERENCE_BYTES_MIN) {
      this.flushScratch();
      this.chunks.push(bytes);
      this.flushedBytes += bytes.length;
      return;
    }
    this.ensure(bytes.length);
    this.position += bytes.copy(this.scratch, this.position);
  }

  utf8(text: string, byteLength: number): void {
    this.ensure(byteLength);
    this.position += this.scratch.write(text, this.position, byteLength, 'utf8');
  }

  /** Hands the chunks over; the writer must not be used afterwards. */
  finish(): Buffer[] {
    this.flushScratch();
    return this.chunks;
  }
}
