import { Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { fromServiceError, isServiceError } from './status.js';

/** A generated grpc-js client's unary method. */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** One unary call on `client` with a deadline; a gRPC failure becomes its RivuletError. */
export function callUnary<C, Req, Res>(client: C, method: UnaryMethod<Req, Res>, request: Req, timeoutMs: number): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    method.call(client, request, new Metadata(), { deadline: Date.now() + timeoutMs }, (error, response) => {
      if (error) reject(isServiceError(error) ? fromServiceError(error) : error);
      else resolve(response);
    });
  });
}
