import { RivuletError } from '@rivulet/common';
import { comparePartitions } from '../assignors/assignor.js';
import type { TopicPartitionRef } from '../types.js';

/**
 * Kafka's ConsumerProtocol: the bytes a consumer puts in its JoinGroup protocol metadata
 * (Subscription) and the leader in each SyncGroup assignment (Assignment), so that Kafka clients
 * and Rivulet clients can share a group. Big-endian, as Kafka's classic encoding: int16 version,
 * arrays as int32 count, strings as int16 length, bytes as int32 length (-1: null).
 *
 * Subscription v0: topics, user_data; v1: + owned_partitions; v2: + generation_id; v3: + rack_id.
 * Assignment v0–v3: assigned_partitions, user_data. A decoder reads the fields it knows of a
 * newer version and ignores the rest, as Kafka's does.
 */

export interface ConsumerSubscription {
  readonly topics: readonly string[];
  readonly userData: Uint8Array | null;
  readonly ownedPartitions: readonly TopicPartitionRef[];
  /** -1 before v2, or when the member has no generation. */
  readonly generationId: number;
  readonly rackId: string | null;
}

export interface ConsumerAssignment {
  readonly partitions: readonly TopicPartitionRef[];
  readonly userData: Uint8Array | null;
}

const SUBSCRIPTION_VERSION = 3;
const ASSIGNMENT_VERSION = 3;

export function encodeSubscription(subscription: ConsumerSubscription): Buffer {
  const writer = new Writer();
  writer.int16(SUBSCRIPTION_VERSION);
  writer.array(subscription.topics, (topic) => writer.string(topic));
  writer.bytes(subscription.userData);
  writeTopicPartitions(writer, subscription.ownedPartitions);
  writer.int32(subscription.generationId);
  writer.nullableString(subscription.rackId);
  return writer.finish();
}

export function decodeSubscription(bytes: Uint8Array): ConsumerSubscription {
  const reader = new Reader(bytes, 'Subscription');
  const version = reader.int16();
  const topics = reader.array(() => reader.string());
  const userData = reader.bytes();
  const ownedPartitions = version >= 1 ? readTopicPartitions(reader) : [];
  const generationId = version >= 2 ? reader.int32() : -1;
  const rackId = version >= 3 ? reader.nullableString() : null;
  return { topics, userData, ownedPartitions, generationId, rackId };
}

export function encodeAssignment(assignment: ConsumerAssignment): Buffer {
  const writer = new Writer();
  writer.int16(ASSIGNMENT_VERSION);
  writeTopicPartitions(writer, assignment.partitions);
  writer.bytes(assignment.userData);
  return writer.finish();
}

/** An empty assignment (a member the leader gave nothing to may get zero bytes) decodes to no partitions. */
export function decodeAssignment(bytes: Uint8Array): ConsumerAssignment {
  if (bytes.length === 0) return { partitions: [], userData: null };
  const reader = new Reader(bytes, 'Assignment');
  reader.int16();
  const partitions = readTopicPartitions(reader);
  const userData = reader.bytes();
  return { partitions, userData };
}

function writeTopicPartitions(writer: Writer, partitions: readonly TopicPartitionRef[]): void {
  const byTopic = new Map<string, number[]>();
  for (const tp of [...partitions].sort(comparePartitions)) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  writer.array([...byTopic], ([topic, indexes]) => {
    writer.string(topic);
    writer.array(indexes, (partition) => writer.int32(partition));
  });
}

function readTopicPartitions(reader: Reader): TopicPartitionRef[] {
  return reader
    .array(() => {
      const topic = reader.string();
      return reader.array(() => reader.int32()).map((partition) => ({ topic, partition }));
    })
    .flat();
}

class Writer {
  private readonly chunks: Buffer[] = [];

  int16(value: number): void {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    this.chunks.push(b);
  }

  int32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.chunks.push(b);
  }

  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.int16(bytes.length);
    this.chunks.push(bytes);
  }

  nullableString(value: string | null): void {
    if (value === null) this.int16(-1);
    else this.string(value);
  }

  bytes(value: Uint8Array | null): void {
    if (value === null) {
      this.int32(-1);
      return;
    }
    this.int32(value.length);
    this.chunks.push(Buffer.from(value));
  }

  array<T>(items: readonly T[], write: (item: T) => void): void {
    this.int32(items.length);
    for (const item of items) write(item);
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

class Reader {
  private offset = 0;
  private readonly buffer: Buffer;

  constructor(
    bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  int16(): number {
    this.need(2);
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    this.need(4);
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  string(): string {
    const value = this.nullableString();
    if (value === null) throw this.malformed('a null string where one is required');
    return value;
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    this.need(length);
    const value = this.buffer.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  bytes(): Uint8Array | null {
    const length = this.int32();
    if (length < 0) return null;
    this.need(length);
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  array<T>(read: () => T): T[] {
    const count = this.int32();
    if (count < 0) return [];
    // Each element takes at least one byte: a count beyond what is left is corrupt, not a reason to allocate.
    this.need(count);
    return Array.from({ length: count }, read);
  }

  private need(bytes: number): void {
    if (this.offset + bytes > this.buffer.length) throw this.malformed(`truncated at byte ${this.offset}`);
  }

  private malformed(reason: string): RivuletError {
    return new RivuletError('INCONSISTENT_GROUP_PROTOCOL', `malformed ConsumerProtocol ${this.what}: ${reason}`);
  }
}
