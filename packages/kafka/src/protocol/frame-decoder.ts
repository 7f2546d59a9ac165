import { RivuletError } from '@rivulet/common';

/*
 * Kafka framing: every request is `size int32 | size bytes`. The decoder gathers socket
 * chunks and hands out whole frames (without the size prefix). A size below the smallest
 * request header or above frameBytesMax is refused as soon as its 4 bytes arrive, before any
 * buffer for the frame is allocated, so a 2 GB length prefix costs nothing.
 */
export const FRAME_SIZE_BYTES = 4;
const FRAME_BYTES_MIN = 8;

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(private readonly frameBytesMax: number) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /** The next whole frame, or undefined while it is incomplete. Throws on a bad size. */
  next(): Buffer | undefined {
    if (this.bufferedBytes < FRAME_SIZE_BYTES) return undefined;
    const sizeBytes = this.peekSize();
    if (sizeBytes < FRAME_BYTES_MIN || sizeBytes > this.frameBytesMax) {
      throw new RivuletError('INVALID_REQUEST', `frame size ${sizeBytes} outside [${FRAME_BYTES_MIN}, ${this.frameBytesMax}]`);
    }
    if (this.bufferedBytes < FRAME_SIZE_BYTES + sizeBytes) return undefined;
    const whole = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bufferedBytes);
    const frame = whole.subarray(FRAME_SIZE_BYTES, FRAME_SIZE_BYTES + sizeBytes);
    const rest = whole.subarray(FRAME_SIZE_BYTES + sizeBytes);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
    return frame;
  }

  private peekSize(): number {
    const first = this.chunks[0]!;
    if (first.length >= FRAME_SIZE_BYTES) return first.readInt32BE(0);
    const head = Buffer.concat(this.chunks, this.bufferedBytes).subarray(0, FRAME_SIZE_BYTES);
    return head.readInt32BE(0);
  }
}
