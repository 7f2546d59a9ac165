import type { Socket } from 'node:net';
import { RivuletError, type Logger } from '@rivulet/common';
import type { HandlerContext } from './handlers/handler-context.js';
import { routeRequest, unsupportedVersionResponse } from './handlers/request-router.js';
import { FrameDecoder } from './protocol/frame-decoder.js';
import { decodeRequestFrame, encodeApiVersionsTooNew, encodeResponseFrame, type DecodedRequest } from './protocol/request-codec.js';
import type { MessageValue } from './schema/field.js';

export interface ConnectionLimits {
  readonly frameBytesMax: number;
  readonly inflightRequestsMax: number;
  readonly idleConnectionMs: number;
}

/** The client's address as Kafka prints it (Java's InetAddress): "/" and the IP, an IPv4-mapped IPv6 address as IPv4. */
function clientHostOf(socket: Socket): string {
  return `/${(socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')}`;
}

/** One request's place in the response order; `chunks` null means "no response" (acks=0). */
interface ResponseSlot {
  isDone: boolean;
  chunks: Buffer[] | null;
}

/**
 * One client connection. Requests are decoded as frames arrive and handled concurrently, but
 * answered strictly in arrival order (Kafka clients match responses by order as well as
 * correlation id), so a Fetch parked in a long poll holds back the answers behind it. At most
 * inflightRequestsMax requests are under way: past that, and while the socket's write buffer
 * is full, the connection stops reading, which pushes back on the client through TCP.
 */
export class KafkaConnection {
  private readonly decoder: FrameDecoder;
  private readonly slots: ResponseSlot[] = [];
  private readonly abort = new AbortController();
  /** Everything but the client id, which each request's header carries. */
  private readonly context: Omit<HandlerContext, 'clientId'>;
  private isWriteBlocked = false;
  private isClosed = false;

  constructor(
    private readonly socket: Socket,
    baseContext: Omit<HandlerContext, 'signal' | 'clientHost' | 'clientId'>,
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
    private readonly onClose: (connection: KafkaConnection) => void,
  ) {
    this.decoder = new FrameDecoder(limits.frameBytesMax);
    this.context = { ...baseContext, signal: this.abort.signal, clientHost: clientHostOf(socket) };
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleConnectionMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('timeout', () => this.onIdle());
    socket.on('error', (err) => this.logger.debug({ err }, 'kafka connection error'));
    socket.on('close', () => this.close());
  }

  /** Closes the connection and aborts its parked fetches. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.abort.abort();
    this.socket.destroy();
    this.onClose(this);
  }

  private onData(chunk: Buffer): void {
    this.decoder.push(chunk);
    this.pump();
  }

  private onDrain(): void {
    this.isWriteBlocked = false;
    this.pump();
  }

  private onIdle(): void {
    // A parked Fetch is not idleness: the client is waiting on us.
    if (this.slots.length > 0) return;
    this.logger.debug({}, 'closing idle kafka connection');
    this.close();
  }

  /** Starts every complete frame the in-flight window allows, then pauses or resumes reading. */
  private pump(): void {
    while (!this.isClosed && !this.isWriteBlocked && this.slots.length < this.limits.inflightRequestsMax) {
      let frame: Buffer | undefined;
      try {
        frame = this.decoder.next();
      } catch (err) {
        return this.closeOnBadRequest(err);
      }
      if (frame === undefined) break;
      this.startRequest(frame);
    }
    if (this.isClosed) return;
    const canRead = !this.isWriteBlocked && this.slots.length < this.limits.inflightRequestsMax;
    if (canRead) this.socket.resume();
    else this.socket.pause();
  }

  private startRequest(frame: Buffer): void {
    let request: DecodedRequest;
    try {
      request = decodeRequestFrame(frame);
    } catch (err) {
      return this.closeOnBadRequest(err);
    }
    const slot: ResponseSlot = { isDone: false, chunks: null };
    this.slots.push(slot);
    this.logger.trace({ correlationId: request.header.correlationId, apiKey: request.header.apiKey, apiVersion: request.header.apiVersion }, 'kafka request');
    this.respond(request).then(
      (chunks) => this.complete(slot, chunks),
      (err: unknown) => this.closeOnHandlerFailure(err, request),
    );
  }

  private async respond(request: DecodedRequest): Promise<Buffer[] | null> {
    const { header, api } = request;
    if (request.disposition === 'apiVersionsTooNew') return encodeApiVersionsTooNew(api, header.correlationId);
    const body: MessageValue | null =
      request.disposition === 'unsupported'
        ? unsupportedVersionResponse(header.apiKey, request.body, header.apiVersion)
        : await routeRequest(header.apiKey, request.body, header.apiVersion, { ...this.context, clientId: header.clientId ?? '' });
    return body === null ? null : encodeResponseFrame(api, header.apiVersion, header.correlationId, body);
  }

  private complete(slot: ResponseSlot, chunks: Buffer[] | null): void {
    slot.isDone = true;
    slot.chunks = chunks;
    this.flush();
  }

  /** Writes finished responses from the head of the queue, stopping at the first unfinished one. */
  private flush(): void {
    if (this.isClosed) return;
    while (this.slots.length > 0 && this.slots[0]!.isDone) {
      const { chunks } = this.slots.shift()!;
      if (chunks !== null) this.writeChunks(chunks);
    }
    this.pump();
  }

  private writeChunks(chunks: Buffer[]): void {
    this.socket.cork();
    let isFlushed = true;
    for (const chunk of chunks) isFlushed = this.socket.write(chunk);
    this.socket.uncork();
    if (!isFlushed) this.isWriteBlocked = true;
  }

  private closeOnBadRequest(err: unknown): void {
    if (!(err instanceof RivuletError)) throw err;
    this.logger.warn({ err, remoteAddress: this.socket.remoteAddress, remotePort: this.socket.remotePort }, 'closing kafka connection after a malformed request');
    this.close();
  }

  private closeOnHandlerFailure(err: unknown, request: DecodedRequest): void {
    if (this.isClosed && this.abort.signal.aborted) return;
    this.logger.error({ err, correlationId: request.header.correlationId, apiKey: request.header.apiKey }, 'closing kafka connection after a failed request');
    this.close();
  }
}
