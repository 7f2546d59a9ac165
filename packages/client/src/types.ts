/** Public record shapes shared by the producer, the consumer and the CLI. */

/** A header value; Kafka allows the same key more than once and null values. */
export interface RecordHeader {
  readonly key: string;
  readonly value: Buffer | null;
}

/** Headers as given to `send`: a plain object for the common case, or a list for repeated keys. */
export type HeadersInput = Readonly<Record<string, string | Uint8Array>> | readonly { key: string; value: string | Uint8Array | null }[];

export interface ProducerRecord {
  readonly topic: string;
  readonly value: Uint8Array | string | null;
  readonly key?: Uint8Array | string | null;
  readonly headers?: HeadersInput;
  /** An explicit partition; otherwise the key's murmur2 hash, or the sticky partition when there is no key. */
  readonly partition?: number;
  /** Create time in ms since the epoch; defaults to now. */
  readonly timestamp?: number;
}

/** Where a record was written. `offset` is -1 for acks=0, where the broker says nothing. */
export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
}

/** A delivery report: an error, or where the record was written. Called exactly once per record. */
export type DeliveryCallback = (error: Error | undefined, metadata: RecordMetadata | undefined) => void;

export interface ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly RecordHeader[];
}

export interface TopicPartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export type CompressionCodecName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** Kafka's acks: 0 (fire and forget), 1 (leader appended), 'all' or -1 (every in-sync replica has it). */
export type Acks = 0 | 1 | -1 | 'all';

export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
