import { RivuletError } from '@rivulet/common';

/*
 * Reads Kafka's primitive types from one request body. Every read checks the bytes left, so a
 * truncated or hostile body fails with INVALID_REQUEST instead of reading past the frame, and
 * no length prefix makes the reader allocate: strings and byte fields are views (or decoded
 * slices) of the frame, never longer than what is left of it.
 *
 *   int8/16/32/64   big-endian two's complement; int64 must be a safe integer here
 *   unsigned varint 7 bits per byte, least significant group first (KIP-482 lengths, tags)
 *   string          int16 length (-1 = null) | compact: uvarint length + 1 (0 = null)
 *   bytes           int32 length (-1 = null) | compact: uvarint length + 1 (0 = null)
 *   uuid            16 raw bytes
 */
export class WireReader {
  private position: number;

  constructor(
    private readonly buffer: Buffer,
    offset = 0,
    private readonly end = buffer.length,
  ) {
    this.position = offset;
  }

  get offset(): number {
    return this.position;
  }

  remainingBytes(): number {
    return this.end - this.position;
  }

  private take(sizeBytes: number, what: string): number {
    if (sizeBytes < 0 || sizeBytes > this.end - this.position) {
      throw new RivuletError('INVALID_REQUEST', `truncated request: ${what} needs ${sizeBytes} bytes, ${this.end - this.position} left`);
    }
    const at = this.position;
    this.position += sizeBytes;
    return at;
  }

  int8(): number {
    return this.buffer.readInt8(this.take(1, 'int8'));
  }

  int16(): number {
    return this.buffer.readInt16BE(this.take(2, 'int16'));
  }

  uint16(): number {
    return this.buffer.readUInt16BE(this.take(2, 'uint16'));
  }

  int32(): number {
    return this.buffer.readInt32BE(this.take(4, 'int32'));
  }

  int64(): number {
    const at = this.take(8, 'int64');
    const high = this.buffer.readInt32BE(at);
    const low = this.buffer.readUInt32BE(at + 4);
    const value = high * 0x1_0000_0000 + low;
    if (!Number.isSafeInteger(value)) throw new RivuletError('INVALID_REQUEST', 'int64 value outside the safe integer range');
    return value;
  }

  float64(): number {
    return this.buffer.readDoubleBE(this.take(8, 'float64'));
  }

  bool(): boolean {
    return this.buffer[this.take(1, 'bool')] !== 0;
  }

  /** An unsigned varint of at most 5 bytes (32 bits), as KIP-482 lengths and tags are. */
  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.buffer[this.take(1, 'varint')]!;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (value > 0xffff_ffff) break;
        return value;
      }
    }
    throw new RivuletError('INVALID_REQUEST', 'unsigned varint longer than 32 bits');
  }

  uuid(): Buffer {
    const at = this.take(16, 'uuid');
    return this.buffer.subarray(at, at + 16);
  }

  /** Length of a compact string, bytes or array: the stored value minus one; -1 means null. */
  compactLength(): number {
    return this.uvarint() - 1;
  }

  stringOfLength(lengthBytes: number): string {
    const at = this.take(lengthBytes, 'string');
    return this.buffer.toString('utf8', at, at + lengthBytes);
  }

  /** A view of the next bytes: record batches pass through without a copy. */
  bytesOfLength(lengthBytes: number): Buffer {
    const at = this.take(lengthBytes, 'bytes');
    return this.buffer.subarray(at, at + lengthBytes);
  }

  /**
   * Refuses an array count that cannot fit in what is left, before any element is decoded,
   * so a count of two billion costs nothing. Every element takes at least one byte.
   */
  checkArrayCount(count: number): void {
    if (count > this.end - this.position) {
      throw new RivuletError('INVALID_REQUEST', `array of ${count} elements cannot fit in ${this.end - this.position} bytes`);
    }
  }

  skip(sizeBytes: number): void {
    this.take(sizeBytes, 'tagged field');
  }
}
