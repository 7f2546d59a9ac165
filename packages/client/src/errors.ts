import { RivuletError, type ErrorContext } from '@rivulet/common';
import { fromServiceError, isServiceError } from '@rivulet/transport-grpc';

/** One failed topic or partition of a multi-topic operation. */
export interface OperationFailure {
  readonly topic: string;
  readonly partition?: number;
  readonly error: RivuletError;
}

/**
 * Raised when some topics or partitions of an admin operation failed. It carries the first
 * failure's code (so `err.code` and `err.retriable` still answer for the common single-topic
 * case) and lists every failure with its own typed error.
 */
export class RivuletAggregateError extends RivuletError {
  override readonly name = 'RivuletAggregateError';
  readonly failures: readonly OperationFailure[];

  constructor(operation: string, failures: readonly OperationFailure[]) {
    const first = failures[0];
    if (first === undefined) throw new TypeError('RivuletAggregateError needs at least one failure');
    // One failure reads best as that failure; several are listed with their own error names.
    const message =
      failures.length === 1 ? `${where(first)}: ${first.error.message}` : `${operation} failed for ${failures.length}: ${failures.map(describeFailure).join('; ')}`;
    super(first.error.errorName === 'UNKNOWN' ? 'UNKNOWN_SERVER_ERROR' : first.error.errorName, message, first.error.context);
    (this as { code: number }).code = first.error.code;
    this.failures = failures;
  }
}

function where(failure: OperationFailure): string {
  return failure.partition === undefined ? failure.topic : `${failure.topic}-${failure.partition}`;
}

function describeFailure(failure: OperationFailure): string {
  return `${where(failure)}: ${failure.error.errorName} (${failure.error.message})`;
}

/** Any thrown value as a RivuletError: unexpected ones become UNKNOWN_SERVER_ERROR, the original as the cause. */
export function toRivuletError(err: unknown): RivuletError {
  if (err instanceof RivuletError) return err;
  return new RivuletError('UNKNOWN_SERVER_ERROR', err instanceof Error ? err.message : String(err), {}, { cause: err });
}

/** Builds the typed error of a per-topic or per-partition result, or undefined when it succeeded. */
export function resultError(errorCode: number, errorMessage: string, context: ErrorContext): RivuletError | undefined {
  if (errorCode === 0) return undefined;
  return RivuletError.fromCode(errorCode, errorMessage, context);
}

/**
 * Maps a failed gRPC call onto the Kafka error table through transport-grpc's one mapping
 * (which also reads the server's error-code trailer), adding where the call went: an
 * unreachable broker becomes NETWORK_EXCEPTION (retriable, refresh metadata) and an expired
 * deadline REQUEST_TIMED_OUT (retriable).
 */
export function fromGrpcError(err: unknown, address: string, method: string): RivuletError {
  if (err instanceof RivuletError) return err;
  if (!isServiceError(err)) {
    return new RivuletError('UNKNOWN_SERVER_ERROR', `${method} to ${address}: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
  }
  const mapped = fromServiceError(err);
  const name = mapped.errorName === 'UNKNOWN' ? 'UNKNOWN_SERVER_ERROR' : mapped.errorName;
  return new RivuletError(name, `${method} to ${address}: ${mapped.message}`, mapped.context, { cause: err });
}
