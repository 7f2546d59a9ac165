import { connect, type Socket } from 'node:net';
import { compiledApi, requestHeaderVersion, responseHeaderVersion } from '../schema/api-registry.js';
import { decodeMessage, encodeMessage } from '../schema/codec.js';
import type { MessageValue } from '../schema/field.js';
import { WireReader } from '../wire/wire-reader.js';
import { WireWriter } from '../wire/wire-writer.js';

/** Encodes a request frame the way a client would: size, header v1/v2, body. */
export function encodeRequestFrame(apiKey: number, version: number, correlationId: number, body: MessageValue, clientId = 'raw-test'): Buffer {
  const api = compiledApi(apiKey)!;
  const writer = new WireWriter();
  writer.int32(0);
  writer.int16(apiKey);
  writer.int16(version);
  writer.int32(correlationId);
  writer.int16(Buffer.byteLength(clientId));
  writer.utf8(clientId, Buffer.byteLength(clientId));
  if (requestHeaderVersion(api, version) === 2) writer.uvarint(0);
  encodeMessage(api.requests[version]!, body, writer);
  const frame = Buffer.concat(writer.finish());
  frame.writeInt32BE(frame.length - 4, 0);
  return frame;
}

/** Decodes a response frame (without its size prefix) for the given request. */
export function decodeResponseFrame(apiKey: number, version: number, frame: Buffer): { correlationId: number; body: MessageValue } {
  const api = compiledApi(apiKey)!;
  const reader = new WireReader(frame);
  const correlationId = reader.int32();
  if (responseHeaderVersion(api, version) === 1) {
    const taggedCount = reader.uvarint();
    for (let i = 0; i < taggedCount; i++) {
      reader.uvarint();
      reader.skip(reader.uvarint());
    }
  }
  return { correlationId, body: decodeMessage(api.responses[version]!, reader) };
}

/** A bare TCP client that collects response frames, for tests of framing and ordering. */
export class RawClient {
  readonly frames: Buffer[] = [];
  private pending = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  isClosed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 4 && this.pending.length >= 4 + this.pending.readInt32BE(0)) {
        const size = this.pending.readInt32BE(0);
        this.frames.push(this.pending.subarray(4, 4 + size));
        this.pending = this.pending.subarray(4 + size);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.isClosed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  send(frame: Buffer): void {
    this.socket.write(frame);
  }

  /** Waits until `count` frames arrived or the socket closed, failing after `timeoutMs`. */
  async waitForFrames(count: number, timeoutMs = 5000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < count && !this.isClosed) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw new Error(`timed out waiting for ${count} frames, got ${this.frames.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remainingMs);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.frames.slice(0, count);
  }

  async waitForClose(timeoutMs = 5000): Promise<void> {
    await this.waitForFrames(Number.MAX_SAFE_INTEGER, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}
