/**
 * Metadata records: the entries of the controller quorum's replicated log, modelled on
 * KRaft's metadata records. Each record is one fact; applying them in log order to an empty
 * image (see image.ts) rebuilds the cluster's metadata. Records are encoded as versioned
 * JSON in UTF-8; decoding validates every field and throws a RivuletError (INVALID_RECORD)
 * on anything malformed, because bytes come from disk or the network.
 */
import { RivuletError } from '@rivulet/common';

/** "No leader": the value of `leader` when no ISR member can lead. */
export const NO_LEADER = -1;

export interface Endpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface RegisterBrokerRecord {
  readonly type: 'RegisterBroker';
  readonly brokerId: number;
  /** Unique per broker process start; a new incarnation means the broker restarted. */
  readonly incarnationId: string;
  /** Assigned by the controller; fences requests from older registrations. */
  readonly brokerEpoch: number;
  readonly endpoints: readonly Endpoint[];
  readonly rack: string | null;
}

export interface UnregisterBrokerRecord {
  readonly type: 'UnregisterBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface FenceBrokerRecord {
  readonly type: 'FenceBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface UnfenceBrokerRecord {
  readonly type: 'UnfenceBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface BrokerShuttingDownRecord {
  readonly type: 'BrokerShuttingDown';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface TopicRecord {
  readonly type: 'Topic';
  readonly name: string;
  readonly topicId: string;
}

export interface PartitionRecord {
  readonly type: 'Partition';
  readonly topicId: string;
  readonly partition: number;
  /** Preferred order: replicas[0] is the preferred leader. */
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** A broker id in `isr`, or NO_LEADER. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /**
   * A reassignment in progress (KIP-455): replicas being added, which are in `replicas` but
   * not yet caught up. Left out (records written before reassignments existed, and every
   * partition without one) means none.
   */
  readonly addingReplicas?: readonly number[];
  /** Replicas being removed once the reassignment completes; in `replicas`, listed last. */
  readonly removingReplicas?: readonly number[];
}

/**
 * A change to one partition. Fields left out are unchanged. Applying it bumps the partition
 * epoch, and the leader epoch when the leader changes.
 */
export interface PartitionChangeRecord {
  readonly type: 'PartitionChange';
  readonly topicId: string;
  readonly partition: number;
  readonly isr?: readonly number[];
  readonly leader?: number;
  readonly replicas?: readonly number[];
  /** Replaces the adding replicas; an empty list ends (completes or cancels) a reassignment. */
  readonly addingReplicas?: readonly number[];
  readonly removingReplicas?: readonly number[];
}

export interface TopicConfigRecord {
  readonly type: 'TopicConfig';
  readonly topic: string;
  readonly key: string;
  /** null deletes the key. */
  readonly value: string | null;
}

/**
 * A block of idempotent-producer ids handed to a broker (KRaft's ProducerIdsRecord): every id
 * below `nextProducerId` is taken. A snapshot writes one with brokerId and brokerEpoch -1.
 */
export interface ProducerIdsRecord {
  readonly type: 'ProducerIds';
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly nextProducerId: number;
}

export interface RemoveTopicRecord {
  readonly type: 'RemoveTopic';
  readonly topicId: string;
}

export type MetadataRecord =
  | RegisterBrokerRecord
  | UnregisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | BrokerShuttingDownRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | TopicConfigRecord
  | ProducerIdsRecord
  | RemoveTopicRecord;

export type MetadataRecordType = MetadataRecord['type'];

/** The version written by encodeRecord; decodeRecord refuses any other. */
export const RECORD_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeRecord(record: MetadataRecord): Uint8Array {
  return encoder.encode(JSON.stringify({ v: RECORD_VERSION, ...record }));
}

function malformed(message: string): RivuletError {
  return new RivuletError('INVALID_RECORD', `Malformed metadata record: ${message}`);
}

type Obj = Record<string, unknown>;

function int(o: Obj, key: string, min: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw malformed(`${key} must be an integer >= ${min}`);
  return v;
}

function str(o: Obj, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw malformed(`${key} must be a string`);
  return v;
}

function nullableStr(o: Obj, key: string): string | null {
  const v = o[key];
  if (v === null) return null;
  if (typeof v !== 'string') throw malformed(`${key} must be a string or null`);
  return v;
}

function ids(o: Obj, key: string): number[] {
  const v = o[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw malformed(`${key} must be an array of broker ids`);
  }
  return v as number[];
}

function endpoints(o: Obj): Endpoint[] {
  const v = o['endpoints'];
  if (!Array.isArray(v)) throw malformed('endpoints must be an array');
  return v.map((e: unknown) => {
    if (typeof e !== 'object' || e === null) throw malformed('endpoint must be an object');
    const eo = e as Obj;
    const port = int(eo, 'port', 0);
    if (port > 65535) throw malformed('port must be <= 65535');
    return { name: str(eo, 'name'), host: str(eo, 'host'), port };
  });
}

/** Validates a parsed value as a MetadataRecord (without the version field). */
export function validateRecord(value: unknown): MetadataRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('not an object');
  const o = value as Obj;
  const type = o['type'];
  switch (type) {
    case 'RegisterBroker':
      return {
        type,
        brokerId: int(o, 'brokerId', 0),
        incarnationId: str(o, 'incarnationId'),
        brokerEpoch: int(o, 'brokerEpoch', 0),
        endpoints: endpoints(o),
        rack: nullableStr(o, 'rack'),
      };
    case 'UnregisterBroker':
    case 'FenceBroker':
    case 'UnfenceBroker':
    case 'BrokerShuttingDown':
      return { type, brokerId: int(o, 'brokerId', 0), brokerEpoch: int(o, 'brokerEpoch', 0) };
    case 'Topic':
      return { type, name: str(o, 'name'), topicId: str(o, 'topicId') };
    case 'Partition': {
      const rec: { -readonly [K in keyof PartitionRecord]: PartitionRecord[K] } = {
        type,
        topicId: str(o, 'topicId'),
        partition: int(o, 'partition', 0),
        replicas: ids(o, 'replicas'),
        isr: ids(o, 'isr'),
        leader: int(o, 'leader', NO_LEADER),
        leaderEpoch: int(o, 'leaderEpoch', 0),
        partitionEpoch: int(o, 'partitionEpoch', 0),
      };
      // Absent in records written before reassignments existed: none in progress.
      if (o['addingReplicas'] !== undefined) rec.addingReplicas = ids(o, 'addingReplicas');
      if (o['removingReplicas'] !== undefined) rec.removingReplicas = ids(o, 'removingReplicas');
      return rec;
    }
    case 'PartitionChange': {
      const rec: { -readonly [K in keyof PartitionChangeRecord]: PartitionChangeRecord[K] } = {
        type,
        topicId: str(o, 'topicId'),
        partition: int(o, 'partition', 0),
      };
      if (o['isr'] !== undefined) rec.isr = ids(o, 'isr');
      if (o['leader'] !== undefined) rec.leader = int(o, 'leader', NO_LEADER);
      if (o['replicas'] !== undefined) rec.replicas = ids(o, 'replicas');
      if (o['addingReplicas'] !== undefined) rec.addingReplicas = ids(o, 'addingReplicas');
      if (o['removingReplicas'] !== undefined) rec.removingReplicas = ids(o, 'removingReplicas');
      return rec;
    }
    case 'TopicConfig':
      return { type, topic: str(o, 'topic'), key: str(o, 'key'), value: nullableStr(o, 'value') };
    case 'RemoveTopic':
      return { type, topicId: str(o, 'topicId') };
    case 'ProducerIds':
      return { type, brokerId: int(o, 'brokerId', -1), brokerEpoch: int(o, 'brokerEpoch', -1), nextProducerId: int(o, 'nextProducerId', 1) };
    default:
      throw malformed(`unknown type ${JSON.stringify(type)}`);
  }
}

export function decodeRecord(bytes: Uint8Array): MetadataRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new RivuletError('INVALID_RECORD', 'Malformed metadata record: not UTF-8 JSON', {}, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('not an object');
  const { v, ...rest } = parsed as Obj;
  if (v !== RECORD_VERSION) throw malformed(`unsupported version ${JSON.stringify(v)}`);
  return validateRecord(rest);
}

/**
 * The records of one metadata-log entry (one Raft entry, committed atomically), as versioned
 * JSON: `{"v":1,"records":[…]}`. An empty list is valid (a leader's no-op still moves the
 * metadata offset). Decoding validates every record as decodeRecord does.
 */
export function encodeRecordList(records: readonly MetadataRecord[]): Uint8Array {
  return encoder.encode(JSON.stringify({ v: RECORD_VERSION, records }));
}

export function decodeRecordList(bytes: Uint8Array): MetadataRecord[] {
  if (bytes.byteLength === 0) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new RivuletError('INVALID_RECORD', 'Malformed metadata record list: not UTF-8 JSON', {}, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('record list is not an object');
  const { v, records } = parsed as Obj;
  if (v !== RECORD_VERSION) throw malformed(`unsupported version ${JSON.stringify(v)}`);
  if (!Array.isArray(records)) throw malformed('records must be an array');
  return records.map((r) => validateRecord(r));
}
