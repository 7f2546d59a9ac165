import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replicationApi } from '@rivulet/proto';
import { encodeReplicaFetchAnswer, type ReplicaFetchAnswer } from './replica-fetch-answer.js';

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const int64 = fc.oneof(fc.constant(-1), fc.constant(0), fc.maxSafeInteger(), fc.integer({ min: -1, max: 2 ** 40 }));
const batch = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 16_000, maxLength: 20_000 }));
const partition = fc.record({
  topic: fc.string({ unit: 'grapheme', maxLength: 40 }),
  partition: int32,
  errorCode: int32,
  errorMessage: fc.string({ unit: 'grapheme', maxLength: 200 }),
  highWatermark: int64,
  logStartOffset: int64,
  logEndOffset: int64,
  batches: fc.array(batch.map((bytes) => Buffer.from(bytes)), { maxLength: 5 }),
});
const answer = fc.record({ partitions: fc.array(partition, { maxLength: 6 }) });

/** The same message as the generated code encodes it, with each partition's batches joined. */
function generatedEncoding(value: ReplicaFetchAnswer): Buffer {
  return Buffer.from(
    replicationApi.ReplicaFetchResponse.encode({
      partitions: value.partitions.map(({ batches, ...fields }) => ({ ...fields, records: Buffer.concat(batches) })),
    }).finish(),
  );
}

describe('encodeReplicaFetchAnswer', () => {
  it('writes what the generated encoder writes for the joined batches', () => {
    fc.assert(
      fc.property(answer, (value) => {
        expect(encodeReplicaFetchAnswer(value).equals(generatedEncoding(value))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes with the generated decoder to the joined batches', () => {
    const batches = [Buffer.from('first batch'), Buffer.alloc(0), Buffer.alloc(200_000, 7)];
    const value: ReplicaFetchAnswer = {
      partitions: [
        { topic: 'events', partition: 3, errorCode: 0, errorMessage: '', highWatermark: 41, logStartOffset: 0, logEndOffset: 57, batches },
        { topic: 'gone', partition: 0, errorCode: 6, errorMessage: 'not the leader', highWatermark: -1, logStartOffset: -1, logEndOffset: -1, batches: [] },
      ],
    };
    const decoded = replicationApi.ReplicaFetchResponse.decode(encodeReplicaFetchAnswer(value));
    expect(decoded.partitions).toHaveLength(2);
    expect(Buffer.compare(decoded.partitions[0]!.records, Buffer.concat(batches))).toBe(0);
    expect(decoded.partitions[0]).toMatchObject({ topic: 'events', partition: 3, highWatermark: 41, logEndOffset: 57 });
    expect(decoded.partitions[1]).toMatchObject({ topic: 'gone', errorCode: 6, errorMessage: 'not the leader', highWatermark: -1, logEndOffset: -1 });
    expect(decoded.partitions[1]!.records.length).toBe(0);
  });

  it('encodes an answer with no partitions as an empty message', () => {
    expect(encodeReplicaFetchAnswer({ partitions: [] }).length).toBe(0);
  });
});
