import { status as GrpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';
import { ErrorCode, RivuletError, type ErrorName } from '@rivulet/common';

/**
 * The one place where Rivulet errors and gRPC statuses meet. Per-partition failures travel
 * in response bodies as Kafka error codes; a gRPC status is used only when a whole call
 * fails (transport trouble, a malformed request, a bug). The Kafka code rides along in the
 * `rivulet-error-code` trailer so the client rebuilds the same typed error.
 */
export const ERROR_CODE_TRAILER = 'rivulet-error-code';
/** The leader hint of NOT_CONTROLLER / NOT_LEADER_OR_FOLLOWER, so the caller can go there. */
export const LEADER_ID_TRAILER = 'rivulet-leader-id';

const statusByName: Partial<Record<ErrorName, GrpcStatus>> = {
  INVALID_REQUEST: GrpcStatus.INVALID_ARGUMENT,
  INVALID_CONFIG: GrpcStatus.INVALID_ARGUMENT,
  INVALID_TOPIC_EXCEPTION: GrpcStatus.INVALID_ARGUMENT,
  INVALID_FETCH_SIZE: GrpcStatus.INVALID_ARGUMENT,
  INVALID_REQUIRED_ACKS: GrpcStatus.INVALID_ARGUMENT,
  MESSAGE_TOO_LARGE: GrpcStatus.INVALID_ARGUMENT,
  UNKNOWN_TOPIC_OR_PARTITION: GrpcStatus.NOT_FOUND,
  REQUEST_TIMED_OUT: GrpcStatus.DEADLINE_EXCEEDED,
  THROTTLING_QUOTA_EXCEEDED: GrpcStatus.RESOURCE_EXHAUSTED,
  KAFKA_STORAGE_ERROR: GrpcStatus.UNAVAILABLE,
  NETWORK_EXCEPTION: GrpcStatus.UNAVAILABLE,
  BROKER_NOT_AVAILABLE: GrpcStatus.UNAVAILABLE,
  UNKNOWN_SERVER_ERROR: GrpcStatus.INTERNAL,
};

export interface StatusObject {
  code: GrpcStatus;
  details: string;
  metadata: Metadata;
}

/** Maps any thrown value to the status the server sends; non-Rivulet errors are bugs (INTERNAL). */
export function toStatus(err: unknown): StatusObject {
  const metadata = new Metadata();
  if (err instanceof RivuletError) {
    metadata.set(ERROR_CODE_TRAILER, String(err.code));
    if (err.context.leaderId !== undefined) metadata.set(LEADER_ID_TRAILER, String(err.context.leaderId));
    const code = err.errorName === 'UNKNOWN' ? GrpcStatus.UNKNOWN : (statusByName[err.errorName] ?? GrpcStatus.FAILED_PRECONDITION);
    return { code, details: `${err.errorName}: ${err.message}`, metadata };
  }
  metadata.set(ERROR_CODE_TRAILER, String(ErrorCode.UNKNOWN_SERVER_ERROR));
  return { code: GrpcStatus.INTERNAL, details: 'internal error', metadata };
}

/** Rebuilds a typed error on the client side from a failed call. */
export function fromServiceError(err: ServiceError): RivuletError {
  const trailer = err.metadata?.get(ERROR_CODE_TRAILER)?.[0];
  if (trailer !== undefined) {
    const details = err.details.replace(/^[A-Z_]+: /, '');
    const leaderId = Number(err.metadata.get(LEADER_ID_TRAILER)[0] ?? Number.NaN);
    return RivuletError.fromCode(Number(trailer), details, Number.isSafeInteger(leaderId) ? { leaderId } : {});
  }
  switch (err.code) {
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.CANCELLED:
      return new RivuletError('NETWORK_EXCEPTION', `broker unreachable: ${err.details}`, {}, { cause: err });
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new RivuletError('REQUEST_TIMED_OUT', `request timed out: ${err.details}`, {}, { cause: err });
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return new RivuletError('THROTTLING_QUOTA_EXCEEDED', err.details, {}, { cause: err });
    case GrpcStatus.INVALID_ARGUMENT:
      return new RivuletError('INVALID_REQUEST', err.details, {}, { cause: err });
    case GrpcStatus.UNIMPLEMENTED:
      return new RivuletError('UNSUPPORTED_VERSION', err.details, {}, { cause: err });
    default:
      return new RivuletError('UNKNOWN_SERVER_ERROR', err.details || err.message, {}, { cause: err });
  }
}

export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && 'metadata' in err;
}
