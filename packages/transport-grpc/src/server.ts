import {
  Server,
  ServerCredentials,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { RivuletError, assert, noopLogger, type Logger } from '@rivulet/common';
import { toStatus } from './status.js';

const DEFAULT_STREAM_WINDOW_BYTES = 4 * 1024 * 1024;
const DEFAULT_CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;
const DEFAULT_CONCURRENT_STREAMS_MAX = 256;

/**
 * Options for every Rivulet channel: a receive window matching the server's, and Kafka's
 * reconnect back-off. grpc-js waits 1 s before reconnecting a dropped channel and grows the
 * wait up to two minutes, failing calls at once meanwhile; a broker back from a restart went
 * unused by clients that had tried it while it was down until their next attempt came up
 * (1.1–3.1 s of produce gaps in rolling restarts). Kafka's clients reconnect after
 * `reconnect.backoff.ms` growing to `reconnect.backoff.max.ms` (1 s); so do these.
 */
export const CLIENT_CHANNEL_OPTIONS = {
  'grpc-node.flow_control_window': DEFAULT_CONNECTION_WINDOW_BYTES,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
} as const;

/**
 * A request that failed to decode is handed to the handler as this marker instead of
 * letting grpc-js answer a bare INTERNAL status: the client then gets INVALID_REQUEST with
 * the decoder's message, and the connection keeps serving other calls.
 */
class MalformedRequest {
  constructor(readonly reason: string) {}
}

/** `peer` is the client's address as grpc-js reports it: `address:port` (an IPv6 address unbracketed), or `unknown`. */
export type UnaryHandler<Req, Res> = (request: Req, signal: AbortSignal, peer: string) => Promise<Res>;
/** Writes responses with `write`, which waits while the client is slow (back-pressure). */
export type StreamHandler<Req, Res> = (request: Req, write: (response: Res) => Promise<void>, signal: AbortSignal) => Promise<void>;
/**
 * Reads the client's messages from `requests` (back-pressure: the next is read when the
 * handler asks) and writes responses with `write`. A malformed message ends the call with
 * INVALID_REQUEST.
 */
export type BidiHandler<Req, Res> = (requests: AsyncIterable<Req>, write: (response: Res) => Promise<void>, signal: AbortSignal) => Promise<void>;

export type ServiceHandlers<S extends ServiceDefinition> = {
  [K in keyof S]: S[K] extends { requestStream: false; responseStream: false; requestDeserialize: (b: Buffer) => infer Req; responseSerialize: (r: infer Res) => Buffer }
    ? UnaryHandler<Req, Res>
    : S[K] extends { requestStream: false; responseStream: true; requestDeserialize: (b: Buffer) => infer Req; responseSerialize: (r: infer Res) => Buffer }
      ? StreamHandler<Req, Res>
      : S[K] extends { requestStream: true; responseStream: true; requestDeserialize: (b: Buffer) => infer Req; responseSerialize: (r: infer Res) => Buffer }
        ? BidiHandler<Req, Res>
        : never;
};

function tolerantDefinition(definition: ServiceDefinition): ServiceDefinition {
  const wrapped: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition)) {
    wrapped[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return new MalformedRequest(err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return wrapped;
}

function checkedRequest(request: unknown, method: string): unknown {
  if (request instanceof MalformedRequest) {
    throw new RivuletError('INVALID_REQUEST', `malformed ${method} request: ${request.reason}`);
  }
  return request;
}

interface CancellableCall {
  on(event: 'cancelled', listener: () => void): unknown;
  removeListener(event: 'cancelled', listener: () => void): unknown;
}

function abortOnCancel(call: CancellableCall): AbortSignal {
  return watchCancel(call).signal;
}

/** The call's cancellation as a signal, and a way to stop watching once the call is answered. */
function watchCancel(call: CancellableCall): { signal: AbortSignal; stopWatching(): void } {
  const controller = new AbortController();
  const onCancel = (): void => controller.abort();
  call.on('cancelled', onCancel);
  return { signal: controller.signal, stopWatching: () => call.removeListener('cancelled', onCancel) };
}

function adaptUnary(name: string, handler: UnaryHandler<unknown, unknown>, logger: Logger) {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
    // grpc-js reports a unary call as cancelled when its stream closes, answered or not; an
    // answered call must not abort its signal (an AbortError per request is costly).
    const { signal, stopWatching } = watchCancel(call);
    Promise.resolve()
      .then(() => handler(checkedRequest(call.request, name), signal, call.getPeer()))
      .then(
        (response) => {
          stopWatching();
          callback(null, response);
        },
        (err: unknown) => {
          stopWatching();
          if (!(err instanceof RivuletError)) logger.error({ err, method: name }, 'grpc handler failed');
          callback(toStatus(err));
        },
      );
  };
}

/** Runs a handler that writes to `call`: ends the call when it returns, or with its error's status. */
function serveWrites(
  name: string,
  call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
  logger: Logger,
  run: (write: (response: unknown) => Promise<void>, signal: AbortSignal) => Promise<void>,
): void {
  const signal = abortOnCancel(call);
  const write = (response: unknown): Promise<void> =>
    new Promise((resolve) => {
      if (signal.aborted || call.write(response)) resolve();
      else call.once('drain', () => resolve());
    });
  Promise.resolve()
    .then(() => run(write, signal))
    .then(
      () => call.end(),
      (err: unknown) => {
        if (!(err instanceof RivuletError)) logger.error({ err, method: name }, 'grpc stream handler failed');
        // grpc-js turns an 'error' event on a server stream into the call's status (destroy() would not send one).
        if (!signal.aborted) call.emit('error', Object.assign(new Error(toStatus(err).details), toStatus(err)));
      },
    );
}

function adaptStream(name: string, handler: StreamHandler<unknown, unknown>, logger: Logger) {
  return (call: ServerWritableStream<unknown, unknown>): void => {
    serveWrites(name, call, logger, (write, signal) => handler(checkedRequest(call.request, name), write, signal));
  };
}

/**
 * The client's messages, one at a time: the call is paused while a message waits to be taken,
 * so HTTP/2 flow control holds the client back. Unlike a Readable's own async iterator,
 * leaving the loop does not destroy the call, so a handler's error still reaches the client
 * as its status.
 */
function messagesOf(call: ServerDuplexStream<unknown, unknown>, name: string): AsyncIterable<unknown> {
  const buffered: unknown[] = [];
  let isEnded = false;
  let wake: (() => void) | undefined;
  const onWake = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  call.on('data', (message: unknown) => {
    buffered.push(message);
    call.pause();
    onWake();
  });
  for (const event of ['end', 'cancelled', 'error'] as const) {
    call.on(event, () => {
      isEnded = true;
      onWake();
    });
  }
  return {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<unknown>> {
        while (buffered.length === 0 && !isEnded) await new Promise<void>((resolve) => (wake = resolve));
        if (buffered.length === 0) return { value: undefined, done: true };
        const message = buffered.shift();
        if (buffered.length === 0) call.resume();
        return { value: checkedRequest(message, name), done: false };
      },
    }),
  };
}

function adaptBidi(name: string, handler: BidiHandler<unknown, unknown>, logger: Logger) {
  return (call: ServerDuplexStream<unknown, unknown>): void => {
    serveWrites(name, call, logger, (write, signal) => handler(messagesOf(call, name), write, signal));
  };
}

export interface GrpcServerOptions {
  host: string;
  port: number;
  logger?: Logger;
  /**
   * HTTP/2 receive window per stream and per connection. grpc-js leaves a server at the
   * protocol default of 64 KiB, which makes a client wait for a WINDOW_UPDATE round trip
   * through both event loops every 64 KiB of produce data; record batches want more.
   */
  streamWindowBytes?: number;
  connectionWindowBytes?: number;
  /** Concurrent calls per connection; bounds what one client can have in flight. */
  concurrentStreamsMax?: number;
  /** Largest request the server accepts; larger ones fail with RESOURCE_EXHAUSTED. */
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
}

/** Owns a grpc-js Server: adapts promise-returning handlers, binds, and stops gracefully. */
export class GrpcServer {
  private readonly server: Server;
  private readonly logger: Logger;
  private boundPort = -1;

  constructor(private readonly options: GrpcServerOptions) {
    this.logger = (options.logger ?? noopLogger).child({ component: 'grpc' });
    this.server = new Server({
      'grpc.max_receive_message_length': options.maxReceiveMessageBytes,
      'grpc.max_send_message_length': options.maxSendMessageBytes,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_concurrent_streams': options.concurrentStreamsMax ?? DEFAULT_CONCURRENT_STREAMS_MAX,
    });
  }

  /**
   * Raises the HTTP/2 receive windows of the bound listeners. grpc-js has no server option
   * for this yet (its client has 'grpc-node.flow_control_window'), so this reaches the
   * http2 servers grpc-js keeps; if a grpc-js upgrade moves them, the assertion says so
   * instead of silently losing the throughput.
   */
  private widenFlowControlWindows(): void {
    const servers = (this.server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
    assert(servers instanceof Map && servers.size > 0, 'grpc-js keeps its http2 servers in Server.http2Servers');
    const streamWindowBytes = this.options.streamWindowBytes ?? DEFAULT_STREAM_WINDOW_BYTES;
    const connectionWindowBytes = this.options.connectionWindowBytes ?? DEFAULT_CONNECTION_WINDOW_BYTES;
    for (const http2Server of servers.keys()) {
      http2Server.updateSettings({ initialWindowSize: streamWindowBytes });
      http2Server.on('session', (session: ServerHttp2Session) => session.setLocalWindowSize(connectionWindowBytes));
    }
  }

  addService<S extends ServiceDefinition>(definition: S, handlers: ServiceHandlers<S>): void {
    const implementation: UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(definition)) {
      const handler = (handlers as Record<string, unknown>)[name];
      if (typeof handler !== 'function') throw new Error(`no handler for gRPC method ${name}`);
      assert(!method.requestStream || method.responseStream, `gRPC method ${name}: client-streaming calls are not supported`);
      implementation[name] = method.requestStream
        ? adaptBidi(name, handler as BidiHandler<unknown, unknown>, this.logger)
        : method.responseStream
          ? adaptStream(name, handler as StreamHandler<unknown, unknown>, this.logger)
          : adaptUnary(name, handler as UnaryHandler<unknown, unknown>, this.logger);
    }
    this.server.addService(tolerantDefinition(definition), implementation);
  }

  /** Binds and starts serving; resolves to the bound port (useful with port 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${this.options.host}:${this.options.port}`, ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
          reject(new RivuletError('BROKER_NOT_AVAILABLE', `cannot bind gRPC listener on ${this.options.host}:${this.options.port}: ${err.message}`, {}, { cause: err }));
          return;
        }
        this.boundPort = port;
        this.widenFlowControlWindows();
        resolve(port);
      });
    });
  }

  get port(): number {
    return this.boundPort;
  }

  /** Lets in-flight calls finish for up to `graceMs`, then cuts the rest. */
  async stop(graceMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
