/**
 * Kafka's ConsumerProtocol: what a consumer puts in JoinGroup's protocol metadata (its
 * Subscription) and what the leader hands each member in SyncGroup (its Assignment), for
 * groups whose protocolType is "consumer". Both are non-flexible Kafka messages behind an
 * int16 version: strings have an int16 length, arrays an int32 count, bytes an int32 length.
 *
 * Subscription v0: topics []string, userData bytes (nullable)
 *              v1: + ownedPartitions [topic string, partitions []int32]
 *              v2: + generationId int32 (default -1)
 *              v3: + rackId string (nullable)
 * Assignment v0-v3: assignedPartitions [topic string, partitions []int32], userData bytes
 *              (nullable); v1-v3 only mark what the matching Subscription version added.
 *
 * Newer versions only append fields, so a version above 3 is read as version 3 and the bytes
 * after the fields we know are ignored, as Kafka's clients do.
 */
import { assert } from '@rivulet/common';
import { ByteReader, ByteWriter } from './binary.js';

export const CONSUMER_PROTOCOL_TYPE = 'consumer';
export const LATEST_CONSUMER_PROTOCOL_VERSION = 3;

export interface ConsumerTopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface ConsumerSubscription {
  /** The version it was written with (may be newer than we know). */
  readonly version: number;
  readonly topics: readonly string[];
  readonly userData: Uint8Array | null;
  /** v1+: what the member owned before this rebalance (cooperative rebalancing). */
  readonly ownedPartitions: readonly ConsumerTopicPartitions[];
  /** v2+: the generation of ownedPartitions; -1 when unknown. */
  readonly generationId: number;
  /** v3+: the member's rack, for rack-aware assignors. */
  readonly rackId: string | null;
}

export interface ConsumerAssignment {
  readonly version: number;
  readonly assignedPartitions: readonly ConsumerTopicPartitions[];
  readonly userData: Uint8Array | null;
}

/** Encodes in `version` (0-3); fields the version does not have are left out. */
export function encodeConsumerSubscription(subscription: Omit<ConsumerSubscription, 'version'>, version = LATEST_CONSUMER_PROTOCOL_VERSION): Uint8Array {
  const writer = new ByteWriter().int16(checkedVersion(version)).int32(subscription.topics.length);
  for (const topic of subscription.topics) writer.string16(topic);
  writer.bytes32(subscription.userData);
  if (version >= 1) writeTopicPartitions(writer, subscription.ownedPartitions);
  if (version >= 2) writer.int32(subscription.generationId);
  if (version >= 3) writer.string16(subscription.rackId);
  return writer.finish();
}

/** Throws a MalformedBytesError for bytes that are not a Subscription of any version. */
export function decodeConsumerSubscription(bytes: Uint8Array): ConsumerSubscription {
  const reader = new ByteReader(bytes, 'consumer protocol subscription');
  const version = readVersion(reader);
  const topicCount = reader.arrayLength('topics', 2);
  const topics: string[] = [];
  for (let index = 0; index < topicCount; index++) topics.push(reader.requiredString16('topic'));
  const userData = reader.bytes32();
  const ownedPartitions = version >= 1 ? readTopicPartitions(reader, 'ownedPartitions') : [];
  const generationId = version >= 2 ? reader.int32() : -1;
  const rackId = version >= 3 ? reader.string16() : null;
  return { version, topics, userData, ownedPartitions, generationId, rackId };
}

export function encodeConsumerAssignment(assignment: Omit<ConsumerAssignment, 'version'>, version = LATEST_CONSUMER_PROTOCOL_VERSION): Uint8Array {
  const writer = new ByteWriter().int16(checkedVersion(version));
  writeTopicPartitions(writer, assignment.assignedPartitions);
  writer.bytes32(assignment.userData);
  return writer.finish();
}

/** Throws a MalformedBytesError for bytes that are not an Assignment of any version. */
export function decodeConsumerAssignment(bytes: Uint8Array): ConsumerAssignment {
  const reader = new ByteReader(bytes, 'consumer protocol assignment');
  const version = readVersion(reader);
  const assignedPartitions = readTopicPartitions(reader, 'assignedPartitions');
  const userData = reader.bytes32();
  return { version, assignedPartitions, userData };
}

function checkedVersion(version: number): number {
  assert(Number.isInteger(version) && version >= 0 && version <= LATEST_CONSUMER_PROTOCOL_VERSION, `consumer protocol version ${version} is not one of 0-${LATEST_CONSUMER_PROTOCOL_VERSION}`);
  return version;
}

function readVersion(reader: ByteReader): number {
  const version = reader.int16();
  if (version < 0) throw reader.malformed(`negative version ${version}`);
  return version;
}

function writeTopicPartitions(writer: ByteWriter, topics: readonly ConsumerTopicPartitions[]): void {
  writer.int32(topics.length);
  for (const { topic, partitions } of topics) {
    writer.string16(topic).int32(partitions.length);
    for (const partition of partitions) writer.int32(partition);
  }
}

/** The smallest encoded topic entry: an empty name's int16 length and an empty array's int32 count. */
const MIN_TOPIC_PARTITIONS_BYTES = 2 + 4;

function readTopicPartitions(reader: ByteReader, field: string): ConsumerTopicPartitions[] {
  const topicCount = reader.arrayLength(field, MIN_TOPIC_PARTITIONS_BYTES);
  const topics: ConsumerTopicPartitions[] = [];
  for (let index = 0; index < topicCount; index++) {
    const topic = reader.requiredString16('topic');
    const partitionCount = reader.arrayLength(`partitions of ${topic}`, 4);
    const partitions: number[] = [];
    for (let partitionIndex = 0; partitionIndex < partitionCount; partitionIndex++) partitions.push(reader.int32());
    topics.push({ topic, partitions });
  }
  return topics;
}
