/**
 * One error table for the whole project. Codes are Kafka's protocol error codes, so the
 * Kafka front-end passes them through unchanged and the gRPC API carries the same numbers
 * in its per-partition `error_code` fields. `retriable` and `refreshMetadata` tell a client
 * what to do: retry as is, or look up the leader again first.
 */
interface ErrorSpec {
  readonly code: number;
  readonly retriable: boolean;
  readonly refreshMetadata?: boolean;
  readonly message: string;
}

const table = {
  UNKNOWN_SERVER_ERROR: { code: -1, retriable: false, message: 'An unexpected server error occurred' },
  NONE: { code: 0, retriable: false, message: 'No error' },
  OFFSET_OUT_OF_RANGE: { code: 1, retriable: false, message: 'The requested offset is outside the range of offsets kept for this partition' },
  CORRUPT_MESSAGE: { code: 2, retriable: true, message: 'The record batch failed its CRC check, or is otherwise corrupt' },
  UNKNOWN_TOPIC_OR_PARTITION: { code: 3, retriable: true, refreshMetadata: true, message: 'This server does not host this topic-partition' },
  INVALID_FETCH_SIZE: { code: 4, retriable: false, message: 'The requested fetch size is invalid' },
  LEADER_NOT_AVAILABLE: { code: 5, retriable: true, refreshMetadata: true, message: 'There is no leader for this topic-partition, e.g. during an election' },
  NOT_LEADER_OR_FOLLOWER: { code: 6, retriable: true, refreshMetadata: true, message: 'This server is not the leader or a follower for this partition' },
  REQUEST_TIMED_OUT: { code: 7, retriable: true, message: 'The request timed out' },
  BROKER_NOT_AVAILABLE: { code: 8, retriable: false, message: 'The broker is not available' },
  REPLICA_NOT_AVAILABLE: { code: 9, retriable: true, refreshMetadata: true, message: 'The replica is not available for the requested topic-partition' },
  MESSAGE_TOO_LARGE: { code: 10, retriable: false, message: 'The request included a record batch larger than the maximum the server accepts' },
  OFFSET_METADATA_TOO_LARGE: { code: 12, retriable: false, message: 'The metadata field of the offset request was too large' },
  NETWORK_EXCEPTION: { code: 13, retriable: true, refreshMetadata: true, message: 'The server disconnected before a response was received' },
  COORDINATOR_LOAD_IN_PROGRESS: { code: 14, retriable: true, message: 'The coordinator is loading and hence cannot process requests' },
  COORDINATOR_NOT_AVAILABLE: { code: 15, retriable: true, refreshMetadata: true, message: 'The coordinator is not available' },
  NOT_COORDINATOR: { code: 16, retriable: true, refreshMetadata: true, message: 'This is not the correct coordinator' },
  INVALID_TOPIC_EXCEPTION: { code: 17, retriable: false, message: 'The request attempted an operation on an invalid topic' },
  RECORD_LIST_TOO_LARGE: { code: 18, retriable: false, message: 'The request included a batch larger than the configured segment size' },
  NOT_ENOUGH_REPLICAS: { code: 19, retriable: true, message: 'Messages are rejected since there are fewer in-sync replicas than required' },
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: { code: 20, retriable: true, message: 'Messages are written to the log, but to fewer in-sync replicas than required' },
  INVALID_REQUIRED_ACKS: { code: 21, retriable: false, message: 'Produce request specified an invalid value for required acks' },
  ILLEGAL_GENERATION: { code: 22, retriable: false, message: 'Specified group generation id is not valid' },
  INCONSISTENT_GROUP_PROTOCOL: { code: 23, retriable: false, message: "The group member's supported protocols are incompatible with those of existing members" },
  INVALID_GROUP_ID: { code: 24, retriable: false, message: 'The configured groupId is invalid' },
  UNKNOWN_MEMBER_ID: { code: 25, retriable: false, message: 'The coordinator is not aware of this member' },
  INVALID_SESSION_TIMEOUT: { code: 26, retriable: false, message: 'The session timeout is not within the range allowed by the broker' },
  REBALANCE_IN_PROGRESS: { code: 27, retriable: false, message: 'The group is rebalancing, so a rejoin is needed' },
  INVALID_COMMIT_OFFSET_SIZE: { code: 28, retriable: false, message: 'The committing offset data size is not valid' },
  INVALID_TIMESTAMP: { code: 32, retriable: false, message: 'The timestamp of the record is out of acceptable range' },
  UNSUPPORTED_VERSION: { code: 35, retriable: false, message: 'The version of the API is not supported' },
  TOPIC_ALREADY_EXISTS: { code: 36, retriable: false, message: 'Topic with this name already exists' },
  INVALID_PARTITIONS: { code: 37, retriable: false, message: 'Number of partitions is below 1' },
  INVALID_REPLICATION_FACTOR: { code: 38, retriable: false, message: 'Replication factor is below 1 or larger than the number of available brokers' },
  INVALID_REPLICA_ASSIGNMENT: { code: 39, retriable: false, message: 'Replica assignment is invalid' },
  INVALID_CONFIG: { code: 40, retriable: false, message: 'Configuration is invalid' },
  NOT_CONTROLLER: { code: 41, retriable: true, refreshMetadata: true, message: 'This is not the correct controller for this cluster' },
  INVALID_REQUEST: { code: 42, retriable: false, message: 'The request is malformed or otherwise invalid' },
  UNSUPPORTED_FOR_MESSAGE_FORMAT: { code: 43, retriable: false, message: 'The message format version on the broker does not support the request' },
  POLICY_VIOLATION: { code: 44, retriable: false, message: 'Request parameters do not satisfy the configured policy' },
  OUT_OF_ORDER_SEQUENCE_NUMBER: { code: 45, retriable: false, message: 'The broker received an out of order sequence number' },
  DUPLICATE_SEQUENCE_NUMBER: { code: 46, retriable: false, message: 'The broker received a duplicate sequence number' },
  INVALID_PRODUCER_EPOCH: { code: 47, retriable: false, message: "Producer attempted to produce with an old epoch" },
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: { code: 53, retriable: false, message: 'Transactional Id authorization failed' },
  KAFKA_STORAGE_ERROR: { code: 56, retriable: true, refreshMetadata: true, message: 'Disk error when trying to access the log on the broker' },
  UNKNOWN_PRODUCER_ID: { code: 59, retriable: false, message: 'The broker could not locate the producer metadata associated with the producer id' },
  NON_EMPTY_GROUP: { code: 68, retriable: false, message: 'The group is not empty' },
  GROUP_ID_NOT_FOUND: { code: 69, retriable: false, message: 'The group id does not exist' },
  FETCH_SESSION_ID_NOT_FOUND: { code: 70, retriable: true, message: 'The fetch session id was not found' },
  INVALID_FETCH_SESSION_EPOCH: { code: 71, retriable: true, message: 'The fetch session epoch is invalid' },
  FENCED_LEADER_EPOCH: { code: 74, retriable: true, refreshMetadata: true, message: 'The leader epoch in the request is older than the epoch on the broker' },
  UNKNOWN_LEADER_EPOCH: { code: 75, retriable: true, refreshMetadata: true, message: 'The leader epoch in the request is newer than the epoch on the broker' },
  UNSUPPORTED_COMPRESSION_TYPE: { code: 76, retriable: false, message: 'The requesting client does not support the compression type of the given partition' },
  STALE_BROKER_EPOCH: { code: 77, retriable: false, message: 'Broker epoch has changed' },
  OFFSET_NOT_AVAILABLE: { code: 78, retriable: true, message: 'The leader high watermark has not caught up from a recent leader election' },
  MEMBER_ID_REQUIRED: { code: 79, retriable: false, message: 'The group member needs to have a valid member id before actually entering a consumer group' },
  GROUP_MAX_SIZE_REACHED: { code: 81, retriable: false, message: 'The consumer group has reached its max size' },
  FENCED_INSTANCE_ID: { code: 82, retriable: false, message: 'The broker rejected this static consumer since another consumer with the same group.instance.id has registered' },
  ELIGIBLE_LEADERS_NOT_AVAILABLE: { code: 83, retriable: true, refreshMetadata: true, message: 'Eligible topic partition leaders are not available' },
  NO_REASSIGNMENT_IN_PROGRESS: { code: 85, retriable: false, message: 'No partition reassignment is in progress' },
  INVALID_RECORD: { code: 87, retriable: false, message: 'This record has failed the validation on broker and hence will be rejected' },
  UNSTABLE_OFFSET_COMMIT: { code: 88, retriable: true, message: 'There are unstable offsets that need to be cleared' },
  THROTTLING_QUOTA_EXCEEDED: { code: 89, retriable: true, message: 'The throttling quota has been exceeded' },
  RESOURCE_NOT_FOUND: { code: 91, retriable: false, message: 'A request illegally referred to a resource that does not exist' },
  INVALID_UPDATE_VERSION: { code: 95, retriable: false, message: 'The given update version was invalid' },
  UNKNOWN_TOPIC_ID: { code: 100, retriable: true, refreshMetadata: true, message: 'This server does not host this topic ID' },
  INCONSISTENT_CLUSTER_ID: { code: 104, retriable: false, message: 'The clusterId in the request does not match that found on the server' },
  DUPLICATE_BROKER_REGISTRATION: { code: 101, retriable: false, message: 'This broker id is already in use' },
  BROKER_ID_NOT_REGISTERED: { code: 102, retriable: false, message: 'The given broker id was not registered' },
  INELIGIBLE_REPLICA: { code: 107, retriable: false, message: 'The new ISR contains at least one ineligible replica' },
  NEW_LEADER_ELECTED: { code: 108, retriable: false, message: 'The AlterPartition request successfully updated the partition state but the leader has changed' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorName = keyof typeof table;

/** Error names to Kafka codes, e.g. `ErrorCode.NOT_LEADER_OR_FOLLOWER === 6`. */
export const ErrorCode = Object.fromEntries(
  Object.entries(table).map(([name, spec]) => [name, spec.code]),
) as { readonly [K in ErrorName]: (typeof table)[K]['code'] };

export type ErrorCodeValue = (typeof ErrorCode)[ErrorName];

export interface ErrorInfo {
  readonly name: ErrorName | 'UNKNOWN';
  readonly code: number;
  readonly retriable: boolean;
  readonly refreshMetadata: boolean;
  readonly message: string;
}

const byCode = new Map<number, ErrorInfo>(
  (Object.entries(table) as [ErrorName, ErrorSpec][]).map(([name, spec]) => [
    spec.code,
    { name, code: spec.code, retriable: spec.retriable, refreshMetadata: spec.refreshMetadata ?? false, message: spec.message },
  ]),
);

/** Looks a code up; unknown codes (from a newer peer) are reported as non-retriable. */
export function errorInfo(code: number): ErrorInfo {
  return byCode.get(code) ?? { name: 'UNKNOWN', code, retriable: false, refreshMetadata: false, message: `Unknown error code ${code}` };
}

export interface ErrorContext {
  topic?: string;
  partition?: number;
  offset?: number;
  leaderEpoch?: number;
  nodeId?: number;
  /** For NOT_LEADER_OR_FOLLOWER: the current leader, when known. */
  leaderId?: number;
}

/**
 * The base of every operating error: it carries a Kafka error code, whether a retry may
 * succeed, and the context needed to act on it. Never used for programmer errors (see assert).
 */
export class RivuletError extends Error {
  override readonly name: string = 'RivuletError';
  readonly code: number;
  readonly errorName: ErrorName | 'UNKNOWN';
  readonly retriable: boolean;
  readonly refreshMetadata: boolean;
  readonly context: ErrorContext;

  constructor(name: ErrorName, message?: string, context: ErrorContext = {}, options?: ErrorOptions) {
    const info = errorInfo(table[name].code);
    super(message ?? info.message, options);
    this.code = info.code;
    this.errorName = name;
    this.retriable = info.retriable;
    this.refreshMetadata = info.refreshMetadata;
    this.context = context;
  }

  /** Rebuilds an error from a code received over the wire. */
  static fromCode(code: number, message?: string, context: ErrorContext = {}): RivuletError {
    const info = errorInfo(code);
    const name: ErrorName = info.name === 'UNKNOWN' ? 'UNKNOWN_SERVER_ERROR' : info.name;
    const err = new RivuletError(name, message || info.message, context);
    if (info.name === 'UNKNOWN') (err as { code: number }).code = code;
    return err;
  }
}

/** Wraps a failure of the local disk or LevelDB; fatal for the replica it concerns. */
export class StorageError extends RivuletError {
  override readonly name = 'StorageError';
  constructor(message: string, context: ErrorContext = {}, options?: ErrorOptions) {
    super('KAFKA_STORAGE_ERROR', message, context, options);
  }
}
