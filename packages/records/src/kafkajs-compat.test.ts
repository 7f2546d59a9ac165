import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Compression } from './batch-header.js';
import { decodeRecordBatch } from './decode.js';
import { encodeRecordBatch } from './encode.js';
import { validateBatch } from './validate.js';

/*
 * Cross-checks against KafkaJS's own RecordBatch v2 codec, reached through its internal
 * modules: batches KafkaJS encodes must decode and validate here, and batches encoded here
 * must decode in KafkaJS with the same contents. KafkaJS ships only gzip among the codecs.
 */
const require = createRequire(import.meta.url);

interface KafkaJsEncoder {
  buffer: Buffer;
}
interface KafkaJsDecodedRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null>;
}
interface KafkaJsDecodedBatch {
  firstOffset: string;
  inTransaction: boolean;
  isControlBatch: boolean;
  producerId: string;
  records: KafkaJsDecodedRecord[];
}

const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (options: Record<string, unknown>) => Promise<KafkaJsEncoder>;
};
const KafkaJsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: Record<string, unknown>) => KafkaJsEncoder;
const decodeKafkaJsBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: unknown) => Promise<KafkaJsDecodedBatch>;
const KafkaJsDecoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
const Long = require('kafkajs/src/utils/long') as { fromValue(value: number): unknown };
const { Types: KafkaJsCompression } = require('kafkajs/src/protocol/message/compression') as { Types: { None: number; GZIP: number } };

const T0_MS = 1_650_000_000_000;
const RECORDS = Array.from({ length: 25 }, (_, index) => ({
  key: index % 4 === 0 ? null : Buffer.from(`key-${index}`),
  value: index % 6 === 0 ? null : Buffer.from(`payload ${index} `.repeat(index)),
  headers: index % 3 === 0 ? { source: Buffer.from('test'), index: Buffer.from(String(index)) } : {},
  timestampMs: T0_MS + index * 3,
}));

async function encodeWithKafkaJs(compression: number): Promise<Buffer> {
  const records = RECORDS.map((record, index) =>
    KafkaJsRecord({ offsetDelta: index, timestampDelta: record.timestampMs - T0_MS, key: record.key, value: record.value, headers: record.headers }),
  );
  const batch = await RecordBatch({
    compression,
    firstOffset: Long.fromValue(500),
    firstTimestamp: T0_MS,
    maxTimestamp: T0_MS + (RECORDS.length - 1) * 3,
    lastOffsetDelta: RECORDS.length - 1,
    producerId: Long.fromValue(-1),
    records,
  });
  return batch.buffer;
}

const CASES = [
  ['uncompressed', KafkaJsCompression.None, 'none'],
  ['gzip', KafkaJsCompression.GZIP, 'gzip'],
] as const;

describe.each(CASES)('KafkaJS interoperability, %s', (_label, kafkaJsCodec, ourCodec) => {
  it('decodes and deeply validates a batch KafkaJS encoded', async () => {
    const bytes = await encodeWithKafkaJs(kafkaJsCodec);
    await expect(validateBatch(bytes, { maxBatchBytes: 1 << 20, deep: true })).resolves.toMatchObject({ recordCount: RECORDS.length });
    const decoded = await decodeRecordBatch(bytes);
    expect(decoded.header.compression).toBe(Compression[ourCodec]);
    expect(decoded.records.map((record) => record.offset)).toEqual(RECORDS.map((_, index) => 500 + index));
    decoded.records.forEach((record, index) => {
      expect(record.key).toEqual(RECORDS[index]!.key);
      expect(record.value).toEqual(RECORDS[index]!.value);
      expect(record.timestampMs).toBe(RECORDS[index]!.timestampMs);
      expect(Object.fromEntries(record.headers.map((header) => [header.key, header.value]))).toEqual(RECORDS[index]!.headers);
    });
  });

  it('encodes a batch KafkaJS decodes to the same records', async () => {
    const bytes = await encodeRecordBatch({
      baseOffset: 42,
      producerId: 9,
      producerEpoch: 1,
      baseSequence: 0,
      isTransactional: true,
      compression: ourCodec,
      records: RECORDS.map((record) => ({
        key: record.key,
        value: record.value,
        timestampMs: record.timestampMs,
        headers: Object.entries(record.headers).map(([key, value]) => ({ key, value })),
      })),
    });
    const decoded = await decodeKafkaJsBatch(new KafkaJsDecoder(bytes));
    expect(decoded).toMatchObject({ firstOffset: '42', producerId: '9', inTransaction: true, isControlBatch: false });
    expect(decoded.records.length).toBe(RECORDS.length);
    decoded.records.forEach((record, index) => {
      expect(record.offset).toBe(String(42 + index));
      expect(record.timestamp).toBe(String(RECORDS[index]!.timestampMs));
      // KafkaJS decodes a null key or value as null, and headers into an object.
      expect(record.key).toEqual(RECORDS[index]!.key);
      expect(record.value).toEqual(RECORDS[index]!.value);
      expect(record.headers).toEqual(RECORDS[index]!.headers);
    });
  });
});
