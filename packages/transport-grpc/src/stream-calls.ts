import type { ClientDuplexStream } from '@grpc/grpc-js';
import { RivuletError, assert } from '@rivulet/common';
import { fromServiceError, isServiceError } from './status.js';

interface PendingCall<Res> {
  readonly resolve: (response: Res) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Request/response calls carried as messages on one long-lived bidirectional gRPC stream:
 * the server answers every request with one response, in order, so the n-th response
 * settles the n-th pending call. A message on an open stream costs a fraction of a unary
 * call (no HTTP/2 stream, headers, deadline or status per call).
 *
 * At most `maxInFlight` calls are pending. A call that times out, a stream error (its
 * RivuletError, e.g. NETWORK_EXCEPTION when the server cannot be reached) or an unexpected
 * end fails every pending call and drops the stream; the next call opens a new one.
 */
export class StreamCalls<Req, Res> {
  private stream: ClientDuplexStream<Req, Res> | undefined;
  private readonly pending: PendingCall<Res>[] = [];
  private closed = false;

  constructor(
    private readonly open: () => ClientDuplexStream<Req, Res>,
    private readonly maxInFlight: number,
    private readonly describe: string,
  ) {
    assert(maxInFlight >= 1, 'a stream carries at least one call');
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** Sends `request` and resolves with its response, or rejects after `timeoutMs`. */
  call(request: Req, timeoutMs: number): Promise<Res> {
    if (this.closed) return Promise.reject(new RivuletError('NETWORK_EXCEPTION', `${this.describe}: the channel is closed`));
    if (this.pending.length >= this.maxInFlight) {
      return Promise.reject(new RivuletError('THROTTLING_QUOTA_EXCEEDED', `${this.describe}: ${this.maxInFlight} calls already in flight`));
    }
    const stream = this.stream ?? this.openStream();
    return new Promise<Res>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reset(stream, new RivuletError('REQUEST_TIMED_OUT', `${this.describe}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.push({ resolve, reject, timer });
      stream.write(request);
    });
  }

  /** Fails pending calls and ends the stream; later calls fail. */
  close(): void {
    this.closed = true;
    if (this.stream !== undefined) this.reset(this.stream, new RivuletError('NETWORK_EXCEPTION', `${this.describe}: the channel was closed`));
  }

  private openStream(): ClientDuplexStream<Req, Res> {
    const stream = this.open();
    this.stream = stream;
    stream.on('data', (response: Res) => {
      if (this.stream !== stream) return;
      const call = this.pending.shift();
      if (call === undefined) {
        this.reset(stream, new RivuletError('UNKNOWN_SERVER_ERROR', `${this.describe}: an answer to no request`));
        return;
      }
      clearTimeout(call.timer);
      call.resolve(response);
    });
    stream.on('error', (error: Error) => {
      this.reset(stream, isServiceError(error) ? fromServiceError(error) : new RivuletError('NETWORK_EXCEPTION', `${this.describe}: ${error.message}`, {}, { cause: error }));
    });
    stream.on('end', () => {
      this.reset(stream, new RivuletError('NETWORK_EXCEPTION', `${this.describe}: the server ended the stream`));
    });
    return stream;
  }

  /** Drops `stream` (if it is still the current one) and fails its pending calls with `error`. */
  private reset(stream: ClientDuplexStream<Req, Res>, error: RivuletError): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    const failed = this.pending.splice(0);
    for (const call of failed) {
      clearTimeout(call.timer);
      call.reject(error);
    }
    stream.cancel();
  }
}
