import {
  Server,
  ServerCredentials,
  type sendUnaryData,
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

/** Client channel options matching the server's windows; use them for every Rivulet channel. */
export const CLIENT_CHANNEL_OPTIONS = {
  'grpc-node.flow_control_window': DEFAULT_CONNECTION_WINDOW_BYTES,
} as const;

/**
 * A request that failed to decode is handed to the handler as this marker instead of
 * letting grpc-js answer a bare INTERNAL status: the client then gets INVALID_REQUEST with
 * the decoder's message, and the connection keeps serving other calls.
 */
class MalformedRequest {
  constructor(readonly reason: string) {}
}

export type UnaryHandler<Req, Res> = (request: Req, signal: AbortSignal) => Promise<Res>;
/** Writes responses with `write`, which waits while the client is slow (back-pressure). */
export type StreamHandler<Req, Res> = (request: Req, write: (response: Res) => Promise<void>, signal: AbortSignal) => Promise<void>;

export type ServiceHandlers<S extends ServiceDefinition> = {
  [K in keyof S]: S[K] extends { requestStream: false; responseStream: false; requestDeserialize: (b: Buffer) => infer Req; responseSerialize: (r: infer Res) => Buffer }
    ? UnaryHandler<Req, Res>
    : S[K] extends { requestStream: false; responseStream: true; requestDeserialize: (b: Buffer) => infer Req; responseSerialize: (r: infer Res) => Buffer }
      ? StreamHandler<Req, Res>
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

function abortOnCancel(call: { on(event: 'cancelled', listener: () => void): unknown }): AbortSignal {
  const controller = new AbortController();
  call.on('cancelled', () => controller.abort());
  return controller.signal;
}

function adaptUnary(name: string, handler: UnaryHandler<unknown, unknown>, logger: Logger) {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
    const signal = abortOnCancel(call);
    Promise.resolve()
      .then(() => handler(checkedRequest(call.request, name), signal))
      .then(
        (response) => callback(null, response),
        (err: unknown) => {
          if (!(err instanceof RivuletError)) logger.error({ err, method: name }, 'grpc handler failed');
          callback(toStatus(err));
        },
      );
  };
}

function adaptStream(name: string, handler: StreamHandler<unknown, unknown>, logger: Logger) {
  return (call: ServerWritableStream<unknown, unknown>): void => {
    const signal = abortOnCancel(call);
    const write = (response: unknown): Promise<void> =>
      new Promise((resolve) => {
        if (signal.aborted || call.write(response)) resolve();
        else call.once('drain', () => resolve());
      });
    Promise.resolve()
      .then(() => handler(checkedRequest(call.request, name), write, signal))
      .then(
        () => call.end(),
        (err: unknown) => {
          if (!(err instanceof RivuletError)) logger.error({ err, method: name }, 'grpc stream handler failed');
          if (!signal.aborted) call.destroy(Object.assign(new Error(toStatus(err).details), toStatus(err)));
        },
      );
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
      implementation[name] = method.responseStream
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
