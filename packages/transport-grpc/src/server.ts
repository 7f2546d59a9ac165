import {
  Server,
  ServerCredentials,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { RivuletError, noopLogger, type Logger } from '@rivulet/common';
import { toStatus } from './status.js';

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
    });
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
