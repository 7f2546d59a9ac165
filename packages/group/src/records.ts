/**
 * Our binary formats for the records of __consumer_offsets. Big-endian; strings carry an
 * int32 UTF-8 byte length and bytes an int32 length, -1 meaning null.
 *
 * Key:   int16 keyVersion, which names the record type, then the type's fields:
 *        0 offset commit:   string groupId, string topic, int32 partition
 *        1 group metadata:  string groupId
 * Value: int16 valueVersion, then the fields below. A null value is a tombstone.
 *
 * Keys are compared byte for byte by compaction, so a key's layout never changes: a new kind
 * of record takes a new key version, which older loaders skip. Values may grow: a newer value
 * version appends fields, and this decoder reads the fields it knows and ignores the rest.
 */
import type { GroupRecord } from './types.js';
import { ByteReader, ByteWriter } from './binary.js';

export const OFFSET_COMMIT_KEY_VERSION = 0;
export const GROUP_METADATA_KEY_VERSION = 1;
const OFFSET_COMMIT_VALUE_VERSION = 0;
const GROUP_METADATA_VALUE_VERSION = 0;

export interface OffsetCommitKey {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
}

export interface OffsetCommitValue {
  readonly committedOffset: number;
  /** -1 when unknown. */
  readonly committedLeaderEpoch: number;
  readonly metadata: string | null;
  /** Wall-clock time of the commit; offsets of simple-commit groups expire from it. */
  readonly commitTimestampMs: number;
}

export interface StoredMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly rebalanceTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  /** The member's metadata for the group's chosen protocol. */
  readonly subscription: Uint8Array;
  readonly assignment: Uint8Array;
}

export interface GroupMetadataValue {
  readonly protocolType: string;
  readonly generationId: number;
  /** null exactly when there are no members. */
  readonly protocolName: string | null;
  /** A member's id, or null exactly when there are no members. */
  readonly leader: string | null;
  /** Wall-clock time the group entered its state; an empty group's offsets expire from it. */
  readonly stateTimestampMs: number;
  readonly members: readonly StoredMember[];
}

export type GroupRecordKey =
  | ({ readonly type: 'offsetCommit' } & OffsetCommitKey)
  | { readonly type: 'groupMetadata'; readonly groupId: string }
  /** A key version this code does not know (written by a newer version): the loader skips it. */
  | { readonly type: 'unknown'; readonly keyVersion: number };

export function offsetCommitRecord(key: OffsetCommitKey, value: OffsetCommitValue | null): GroupRecord {
  const keyBytes = new ByteWriter().int16(OFFSET_COMMIT_KEY_VERSION).string32(key.groupId).string32(key.topic).int32(key.partition).finish();
  if (value === null) return { key: keyBytes, value: null };
  const valueBytes = new ByteWriter()
    .int16(OFFSET_COMMIT_VALUE_VERSION)
    .int64(value.committedOffset)
    .int32(value.committedLeaderEpoch)
    .string32(value.metadata)
    .int64(value.commitTimestampMs)
    .finish();
  return { key: keyBytes, value: valueBytes };
}

export function groupMetadataRecord(groupId: string, value: GroupMetadataValue | null): GroupRecord {
  const keyBytes = new ByteWriter().int16(GROUP_METADATA_KEY_VERSION).string32(groupId).finish();
  if (value === null) return { key: keyBytes, value: null };
  const writer = new ByteWriter()
    .int16(GROUP_METADATA_VALUE_VERSION)
    .string32(value.protocolType)
    .int32(value.generationId)
    .string32(value.protocolName)
    .string32(value.leader)
    .int64(value.stateTimestampMs)
    .int32(value.members.length);
  for (const member of value.members) {
    writer
      .string32(member.memberId)
      .string32(member.groupInstanceId)
      .string32(member.clientId)
      .string32(member.clientHost)
      .int32(member.rebalanceTimeoutMs)
      .int32(member.sessionTimeoutMs)
      .bytes32(member.subscription)
      .bytes32(member.assignment);
  }
  return { key: keyBytes, value: writer.finish() };
}

export function decodeRecordKey(key: Uint8Array): GroupRecordKey {
  const reader = new ByteReader(key, '__consumer_offsets key');
  const keyVersion = reader.int16();
  switch (keyVersion) {
    case OFFSET_COMMIT_KEY_VERSION: {
      const groupId = reader.requiredString32('groupId');
      const topic = reader.requiredString32('topic');
      const partition = reader.int32();
      if (partition < 0) throw reader.malformed(`negative partition ${partition}`);
      reader.expectEnd();
      return { type: 'offsetCommit', groupId, topic, partition };
    }
    case GROUP_METADATA_KEY_VERSION: {
      const groupId = reader.requiredString32('groupId');
      reader.expectEnd();
      return { type: 'groupMetadata', groupId };
    }
    default:
      return { type: 'unknown', keyVersion };
  }
}

export function decodeOffsetCommitValue(value: Uint8Array): OffsetCommitValue {
  const reader = new ByteReader(value, 'offset-commit value');
  const valueVersion = readValueVersion(reader);
  const decoded: OffsetCommitValue = {
    committedOffset: reader.int64(),
    committedLeaderEpoch: reader.int32(),
    metadata: reader.string32(),
    commitTimestampMs: reader.int64(),
  };
  if (valueVersion === OFFSET_COMMIT_VALUE_VERSION) reader.expectEnd();
  return decoded;
}

/** The smallest encoded member: eight int32s, the two timeouts and six length prefixes of empty or null fields. */
const MIN_STORED_MEMBER_BYTES = 8 * 4;

export function decodeGroupMetadataValue(value: Uint8Array): GroupMetadataValue {
  const reader = new ByteReader(value, 'group-metadata value');
  const valueVersion = readValueVersion(reader);
  const protocolType = reader.requiredString32('protocolType');
  const generationId = reader.int32();
  if (generationId < 0) throw reader.malformed(`negative generationId ${generationId}`);
  const protocolName = reader.string32();
  const leader = reader.string32();
  const stateTimestampMs = reader.int64();
  const memberCount = reader.arrayLength('members', MIN_STORED_MEMBER_BYTES);
  const members: StoredMember[] = [];
  for (let index = 0; index < memberCount; index++) {
    const member: StoredMember = {
      memberId: reader.requiredString32('memberId'),
      groupInstanceId: reader.string32(),
      clientId: reader.requiredString32('clientId'),
      clientHost: reader.requiredString32('clientHost'),
      rebalanceTimeoutMs: reader.int32(),
      sessionTimeoutMs: reader.int32(),
      subscription: reader.requiredBytes32('subscription'),
      assignment: reader.requiredBytes32('assignment'),
    };
    if (member.rebalanceTimeoutMs < 0 || member.sessionTimeoutMs < 0) throw reader.malformed(`member ${member.memberId} has a negative timeout`);
    members.push(member);
  }
  if (valueVersion === GROUP_METADATA_VALUE_VERSION) reader.expectEnd();

  const memberIds = new Set(members.map((member) => member.memberId));
  if (memberIds.size !== members.length) throw reader.malformed('a member id appears twice');
  const instanceIds = members.flatMap((member) => (member.groupInstanceId === null ? [] : [member.groupInstanceId]));
  if (new Set(instanceIds).size !== instanceIds.length) throw reader.malformed('a group instance id appears twice');
  if (members.length > 0) {
    if (protocolName === null) throw reader.malformed('a group with members has no protocol name');
    if (leader === null || !memberIds.has(leader)) throw reader.malformed(`the leader ${String(leader)} is not a member`);
  } else if (protocolName !== null || leader !== null) {
    throw reader.malformed('a group without members has a protocol name or a leader');
  }
  return { protocolType, generationId, protocolName, leader, stateTimestampMs, members };
}

function readValueVersion(reader: ByteReader): number {
  const valueVersion = reader.int16();
  if (valueVersion < 0) throw reader.malformed(`negative value version ${valueVersion}`);
  return valueVersion;
}
